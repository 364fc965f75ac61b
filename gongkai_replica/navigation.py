"""Replica county portals with their whole disclosure navigation, one per platform (portal-anatomy 3.6, 7.1).

What `gongkai discover` walks, built from the breadcrumbs real pages show (anatomy 3.6):
首页 › 政务公开 › 政府信息公开目录 › 乡镇（街道） › <town> › 规划计划 › 计划总结 (仙居), 政府信息公开 › 各镇、街道 ›
石塘镇 › 法定主动公开内容 › 工作信息 › 计划总结 (温岭), 乡镇窗口(资源库) › 姜家镇 › 规划计划 › 计划总结 (淳安),
and the sibling columns those trees hold (政策文件, 政府工作报告 (桐乡 乌镇镇), 年报 (永嘉 界坑乡), 财政预决算).

Each county is a ReplicaSite whose `options["navigation"]` is a `CountyNav`; the server offers its requests
to `route()` here first, and what is left goes to the platform's own routes (listings, articles).
- jcms (临海, 19 towns and 街道): every page a static `/col/col<id>/index.html`; the 目录 page's unit tree
  lists 市政府部门 and 乡镇（街道）; a town's page its column tree.
- jpaas (东阳, 18): pages are shells; the navigation is the HTML of unitbuild widgets (头部导航, 信息公开目录,
  乡镇列表, 栏目导航) answered as JSON by the gateway, which wants Referer and X-Requested-With.
- TRS (嵊州, 19; GBK): static directories `/zwgk/xxgkml/xz<nn>/<column>/index.html`; a moved column's old
  directory answers a 本栏目已迁移 notice linking the new one.
- xxgk (仙居, 20): the town's 目录 is the xxgk category tree in an iframe (`/module/xxgk/tree.jsp?area=…`);
  its columns are xxgk column pages whose search.jsp answers the town's (`area`) rows of one category.
The platforms here are the replica's choice, not a claim about the real counties' sites.

Every town gets one of ten scenarios in turn (`SCENARIOS`): report columns under several names and at
several depths, decoys, towns with no report column, an empty report column, a column recognisable only
by its rows, a 规划计划 group that is itself the list, and a column moved to a new id. `expected()` is the
ground truth: every report column (by its final URL) and every decoy.
"""

from __future__ import annotations

import html
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from gongkai_replica.articles import footer_html, header_html
from gongkai_replica.generic import Reply, reply_html
from gongkai_replica.sites import L000, L002, L003, L004, ReplicaArticle, ReplicaColumn, ReplicaSite

_S = html.escape

# (county, city, towns) — township units as their own portals list them.
COUNTIES = {
    "jcms": ("临海市", "台州市", "www.linhai.gov.cn", "3310820001", [
        "古城街道", "大洋街道", "江南街道", "大田街道", "邵家渡街道", "汛桥镇", "东塍镇", "汇溪镇", "小芝镇", "河头镇",
        "白水洋镇", "括苍镇", "永丰镇", "上盘镇", "杜桥镇", "桃渚镇", "涌泉镇", "尤溪镇", "沿江镇"]),
    "jpaas": ("东阳市", "金华市", "www.dongyang.gov.cn", "3307830001", [
        "吴宁街道", "南市街道", "白云街道", "江北街道", "城东街道", "六石街道", "巍山镇", "虎鹿镇", "歌山镇", "佐村镇",
        "东阳江镇", "湖溪镇", "马宅镇", "千祥镇", "南马镇", "画水镇", "横店镇", "三单乡"]),
    "trs": ("嵊州市", "绍兴市", "www.szzj.gov.cn", "3306830001", [
        "剡湖街道", "三江街道", "鹿山街道", "浦口街道", "甘霖镇", "长乐镇", "崇仁镇", "黄泽镇", "三界镇", "石璜镇",
        "谷来镇", "仙岩镇", "金庭镇", "北漳镇", "下王镇", "贵门乡", "里南乡", "竹溪乡", "雅璜乡"]),
    "xxgk": ("仙居县", "台州市", "www.zjxj.gov.cn", "3310240001", [
        "福应街道", "南峰街道", "安洲街道", "横溪镇", "埠头镇", "白塔镇", "田市镇", "官路镇", "下各镇", "朱溪镇",
        "湫山乡", "皤滩乡", "淡竹乡", "上张乡", "步路乡", "安岭乡", "溪港乡", "广度乡", "大战乡", "双庙乡"]),
}
DEPARTMENTS = ("发展和改革局", "财政局", "教育局", "民政局", "自然资源和规划局")

# A scenario: the town's column tree as (group path, column name, kind, content); group path "" is top level,
# "规划计划" a group, "法定主动公开内容/工作信息" two levels. kind: report | decoy | other; content: what its
# rows are (reports, policy, gzbg, nianbao, yujuesuan, news, notices, none). Special names: "@moved" (the tree
# links an old id), "@list" (the group page is itself the listing).
SCENARIOS: list[list[tuple[str, str, str, str]]] = [
    [("", "计划总结", "report", "reports"), ("", "政策文件", "decoy", "policy"), ("", "财政预决算", "decoy", "yujuesuan"),
     ("", "机构概况", "other", "notices")],
    [("规划计划", "发展规划", "other", "notices"), ("规划计划", "计划总结", "report", "reports"),
     ("", "政府信息公开年报", "decoy", "nianbao"), ("", "政策文件", "decoy", "policy")],
    [("规划计划", "工作计划", "report", "reports"), ("规划计划", "工作总结", "report", "reports"),
     ("", "财政预决算", "decoy", "yujuesuan")],
    [("法定主动公开内容/工作信息", "计划总结", "report", "reports"), ("法定主动公开内容", "政府工作报告", "decoy", "gzbg"),
     ("法定主动公开内容", "政策文件", "decoy", "policy")],
    [("", "计划与总结", "report", "reports"), ("", "工作动态", "other", "news"), ("", "年报", "decoy", "nianbao")],
    [("", "政策文件", "decoy", "policy"), ("", "财政预决算", "decoy", "yujuesuan"), ("", "工作动态", "other", "news"),
     ("", "机构概况", "other", "notices")],  # no report column
    [("", "其他文件", "report", "reports"), ("", "政策文件", "decoy", "policy"), ("", "政府工作报告", "decoy", "gzbg")],
    [("规划计划", "计划总结@moved", "report", "reports"), ("", "财政预决算", "decoy", "yujuesuan"),
     ("", "年报", "decoy", "nianbao")],
    [("", "工作计划总结", "report", "none"), ("", "其他文件", "other", "notices"), ("", "政策文件", "decoy", "policy")],
    [("", "规划计划@list", "report", "reports"), ("", "政府信息公开年报", "decoy", "nianbao"),
     ("", "工作动态", "other", "news")],
]
NO_REPORT_SCENARIOS = (5,)
XXGK_CODES = {"reports": "A0212", "policy": "A0101", "gzbg": "A0203", "nianbao": "A0501", "yujuesuan": "A0603",
              "news": "A0401", "notices": "A0102", "none": "A0212"}


@dataclass
class NavColumn:
    town: str
    name: str  # as the tree shows it
    column: ReplicaColumn
    kind: str  # report | decoy | other
    group: str  # "" or "规划计划" or "法定主动公开内容/工作信息"
    code: str = ""  # xxgk category
    old_id: int | None = None  # moved: the tree links this id, which answers 301 (or a moved notice)
    is_group_list: bool = False  # the group page itself is this listing


@dataclass
class NavTown:
    name: str
    page_id: int
    code: str  # directory slug (TRS) / xxgk area code
    columns: list[NavColumn] = field(default_factory=list)
    inline: bool = True  # the town page shows its groups' children too (else only on the group page)
    group_ids: dict[str, int] = field(default_factory=dict)


@dataclass
class CountyNav:
    platform: str
    county: str
    city: str
    towns: list[NavTown]
    zwgk_id: int = 1229000002  # header_html's 政务公开 link
    ml_id: int = 1229000010
    units_id: int = 1229000011
    moved: dict[int, int] = field(default_factory=dict)  # old column id -> new
    unavailable: set[str] = field(default_factory=set)  # navigation paths answering 503 for now (a busy server)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)


# -- paths -------------------------------------------------------------------------------------------

def _col(page_id: int) -> str:
    return f"/col/col{page_id}/index.html"


def home_path(nav: CountyNav) -> str:
    return "/index.html"


def zwgk_path(nav: CountyNav) -> str:
    return "/zwgk/index.html" if nav.platform == "trs" else _col(nav.zwgk_id)


def ml_path(nav: CountyNav) -> str:
    return "/zwgk/xxgkml/index.html" if nav.platform == "trs" else _col(nav.ml_id)


def units_path(nav: CountyNav) -> str:
    return "/zwgk/xxgkml/xzjd/index.html" if nav.platform == "trs" else _col(nav.units_id)


def town_path(nav: CountyNav, town: NavTown) -> str:
    return f"/zwgk/xxgkml/{town.code}/index.html" if nav.platform == "trs" else _col(town.page_id)


def group_path(nav: CountyNav, town: NavTown, group: str) -> str:
    listed = next((c for c in town.columns if c.is_group_list and c.group == "" and group == "规划计划"), None)
    if listed is not None:
        return column_path(nav, listed.column)
    if nav.platform == "trs":
        return f"/zwgk/xxgkml/{town.code}/g{town.group_ids[group]}/index.html"
    return _col(town.group_ids[group])


def column_path(nav: CountyNav, column: ReplicaColumn) -> str:
    if nav.platform == "trs":
        return _trs_dir(column.column_id) + "index.html"
    return _col(column.column_id)


def _trs_dir(column_id: int) -> str:
    return f"/zwgk/xxgkml/c{column_id}/"


def linked_path(nav: CountyNav, column: NavColumn) -> str:
    """Where the town's tree links the column (its old address when it moved)."""
    if column.old_id is None:
        return column_path(nav, column.column)
    return f"/zwgk/xxgkml/c{column.old_id}/index.html" if nav.platform == "trs" else _col(column.old_id)


# -- ground truth ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Expected:
    town: str
    name: str
    path: str  # the column's own (final) address
    kind: str  # report | decoy | other
    rows: int
    newest: str | None


def expected(site: ReplicaSite) -> list[Expected]:
    nav: CountyNav = site.options["navigation"]
    out = []
    for town in nav.towns:
        for c in town.columns:
            rows = c.column.records()
            newest = max((a.pub_date for a in c.column.articles), default=None)
            out.append(Expected(town.name, c.name, column_path(nav, c.column), c.kind, len(rows),
                                f"{newest:%Y-%m-%d}" if newest else None))
    return out


def home_url(site: ReplicaSite) -> str:
    return site.base_url + home_path(site.options["navigation"])


# -- building ------------------------------------------------------------------------------------------

def _plain(rng: random.Random, town: str, title: str, year: int) -> ReplicaArticle:
    pub = datetime(year, rng.randint(1, 12), rng.randint(1, 28), rng.randint(8, 17), rng.randint(0, 59))
    return ReplicaArticle(article_id=0, pub_date=pub, title=title, town=town,
                          paragraphs=[f"{title}。", f"{town}党政办公室{year}年{pub.month}月{pub.day}日发布。"],
                          index_no=f"{rng.randint(10**8, 10**9 - 1)}/{year}-{rng.randint(10000, 99999)}",
                          category="其他")


def _articles(rng: random.Random, town: str, content: str, prefix: str) -> list[ReplicaArticle]:
    from gongkai_replica.demo import _report

    years = sorted(rng.sample(range(2016, 2025), rng.randint(2, 6)), reverse=True)
    if content == "reports":
        kinds = ("annual", "annual2", "half", "half2", "yearly")
        return [_report(rng, seed_key=rng.choice(("000", "002", "003", "004")), town=town, year=y,
                        kind=rng.choice(kinds), prefix=prefix) for y in years]
    titles = {
        "policy": ["{t}关于印发{y}年工作要点的通知", "{t}关于加强{y}年安全生产工作的实施意见", "{t}关于印发{y}年度考核办法的通知"],
        "gzbg": ["{y}年{t}政府工作报告"],
        "nianbao": ["{t}{y}年政府信息公开工作年度报告"],
        "yujuesuan": ["{t}{y}年财政预算公开", "{t}{y}年部门决算公开"],
        "news": ["{t}召开{y}年安全生产工作会议", "{t}开展{y}年防汛防台演练", "{t}举行{y}年度村社干部培训班"],
        "notices": ["{t}机构职能及领导分工（{y}年）", "{t}关于{y}年度拟表彰对象的公示"],
        "none": [],
    }[content]
    return [_plain(rng, town, rng.choice(titles).format(t=town, y=y), y) for y in years if titles]


def build_county(platform: str, seed: int = 2025, robots_txt: str | None = None) -> ReplicaSite:
    """One replica county on `platform` (jcms, jpaas, trs or xxgk) with its whole navigation."""
    from gongkai_replica.demo import _assign_ids, credit_code

    county, city, domain, site_code, names = COUNTIES[platform]
    rng = random.Random(f"{seed}/{platform}")
    nav = CountyNav(platform=platform, county=county, city=city, towns=[])
    columns: list[ReplicaColumn] = []
    next_id = [1229100000]
    arts: list[ReplicaArticle] = []
    paths: dict[int, str] = {}

    def new_id() -> int:
        next_id[0] += rng.randint(3, 40)
        return next_id[0]

    for i, name in enumerate(names):
        town = NavTown(name=name, page_id=new_id(), code=f"xz{i + 1:02d}", inline=i % 3 != 1)
        if platform == "xxgk":
            town.code = f"{rng.randint(10**8, 10**9 - 1)}"
        prefix = credit_code(rng, "331000")
        for group, raw_name, kind, content in SCENARIOS[i % len(SCENARIOS)]:
            col_name, _, flag = raw_name.partition("@")
            for level in range(1, len(group.split("/")) + 1) if group else ():
                sub = "/".join(group.split("/")[:level])
                town.group_ids.setdefault(sub, new_id())
            articles = _articles(rng, name, content, prefix)
            arts += articles
            column = ReplicaColumn(new_id(), col_name, articles, parent=name)
            columns.append(column)
            nc = NavColumn(name, col_name, column, kind, group, code=XXGK_CODES[content])
            if flag == "moved":
                nc.old_id = new_id()
                nav.moved[nc.old_id] = column.column_id
            if flag == "list":
                nc.is_group_list = True
                nc.code = "A0200"
            town.columns.append(nc)
            if platform == "trs":
                paths[column.column_id] = _trs_dir(column.column_id)
        nav.towns.append(town)
    _assign_ids(rng, arts, 4_100_000)
    options: dict[str, Any] = {"navigation": nav}
    if platform == "trs":
        options["paths"] = paths
    if platform == "jpaas":
        options.update({"tpl_set_id": "kQ3nV0tYp8sWm2xZr7dLc", "strict": True, "query_attr": "queryData"})
    if platform == "xxgk":
        options.update({"infotype": "A0212", "area": nav.towns[0].code, "tree_column": nav.ml_id, "per_page": 5})
    layout = {"jcms": L000, "jpaas": L003, "trs": L002, "xxgk": L004}[platform]
    return ReplicaSite(
        name=f"nav-{platform}", webid={"jcms": 3561, "jpaas": 3557, "trs": 0, "xxgk": 3114}[platform],
        unitid={"jcms": 7201344, "jpaas": 0, "trs": 0, "xxgk": 6390858}[platform],
        webname=f"{county}人民政府", columns=columns, per_page=8 if platform == "trs" else 15,
        article_layout=layout, charset="gbk" if platform == "trs" else "utf-8", region=county, domain=domain,
        site_code=site_code, platform=platform, options=options,
        robots_txt=robots_txt if robots_txt is not None else "User-agent: *\nDisallow: /module/visitcount/\n",
    )


def build_counties(seed: int = 2025) -> list[ReplicaSite]:
    """One county per platform: jcms, jpaas, TRS, xxgk."""
    return [build_county(p, seed) for p in ("jcms", "jpaas", "trs", "xxgk")]


# -- a portal that changes under the crawler ---------------------------------------------------------
# Portals rearrange their trees between two visits (栏目调整): a town that published nothing opens a 计划总结
# column under 规划计划 with a new id, and a column is taken out of its town's tree, its page deleted (404)
# or left answering with nothing linking to it. (A column moved to a new id is the "@moved" scenario above.)
# Call these under the server's lock (`ReplicaServer.mutate`): pages are rendered from the data on each request.

def add_report_column(site: ReplicaSite, town_name: str, name: str = "计划总结", group: str = "规划计划",
                      seed: int = 7) -> NavColumn:
    """`town_name` gains a report column `group › name` with a new id (above every id the portal has) and a few
    reports, linked from its tree from now on."""
    from gongkai_replica.demo import _assign_ids, credit_code

    nav: CountyNav = site.options["navigation"]
    town = next(t for t in nav.towns if t.name == town_name)
    rng = random.Random(f"{seed}/{site.name}/{town_name}")
    ids = [c.column_id for c in site.columns] + [t.page_id for t in nav.towns] + list(nav.moved) + \
        [i for t in nav.towns for i in t.group_ids.values()]
    new_id = max(ids) + rng.randint(3, 40)
    if group:
        town.group_ids.setdefault(group, new_id + 1)
    articles = _articles(rng, town_name, "reports", credit_code(rng, "331000"))
    _assign_ids(rng, articles, max((a.article_id for a in site.articles()), default=4_100_000) + 1000)
    column = ReplicaColumn(new_id, name, [], parent=town_name)
    site.columns.append(column)
    for article in articles:
        site.add_article(new_id, article)
    if nav.platform == "trs":
        site.options.setdefault("paths", {})[new_id] = _trs_dir(new_id)
    added = NavColumn(town_name, name, column, "report", group, code=XXGK_CODES["reports"])
    town.columns.append(added)
    nav.cache.clear()
    return added


def remove_column(site: ReplicaSite, column_id: int, *, page_gone: bool = True) -> NavColumn:
    """The column leaves its town's tree; with `page_gone` the column is deleted (its page and its articles
    answer 404), else its page still answers, linked from nowhere."""
    nav: CountyNav = site.options["navigation"]
    for town in nav.towns:
        for c in town.columns:
            if c.column.column_id == column_id:
                town.columns.remove(c)
                if page_gone:
                    site.columns.remove(c.column)
                nav.cache.clear()
                return c
    raise KeyError(f"{site.name}: no column {column_id} in the navigation")


# -- pages -------------------------------------------------------------------------------------------

@dataclass
class _Page:
    title: str
    crumb: list[tuple[str, str]]
    sections: list[tuple[str, list[Any]]]  # (heading, items); an item is (text, href) or (text, href, [children])
    widget: str = ""  # jpaas: the tagId whose JSON answer carries the sections


def _tree_items(nav: CountyNav, town: NavTown) -> list[Any]:
    """The town's column tree: groups with their children (inline towns) or as bare links."""
    items: list[Any] = []
    groups: dict[str, list[Any]] = {}

    def group_item(path: str) -> list[Any]:
        if path in groups:
            return groups[path]
        children: list[Any] = []
        groups[path] = children
        name = path.rsplit("/", 1)[-1]
        entry = (name, group_path(nav, town, path), children if town.inline else [])
        if "/" in path:
            group_item(path.rsplit("/", 1)[0]).append(entry)
        else:
            items.append(entry)
        return children

    for c in town.columns:
        if c.is_group_list:
            group_item("规划计划")
            continue
        link = (c.name, linked_path(nav, c))
        (group_item(c.group) if c.group else items).append(link)
    return items


def _group_children(nav: CountyNav, town: NavTown, path: str) -> list[Any]:
    out: list[Any] = []
    for sub in sorted({g for g in town.group_ids if g.startswith(path + "/") and g.count("/") == path.count("/") + 1}):
        out.append((sub.rsplit("/", 1)[-1], group_path(nav, town, sub)))
    out += [(c.name, linked_path(nav, c)) for c in town.columns if c.group == path and not c.is_group_list]
    return out


def pages(nav: CountyNav, site: ReplicaSite) -> dict[str, _Page]:
    """Every navigation page of the county by path (built once)."""
    if "pages" not in nav.cache:
        nav.cache["pages"] = _build_pages(nav, site)
    return nav.cache["pages"]


def _build_pages(nav: CountyNav, site: ReplicaSite) -> dict[str, _Page]:
    crumb0 = [("首页", home_path(nav)), ("政务公开", zwgk_path(nav))]
    towns = [(t.name if i % 4 else f"{t.name}人民政府" if t.name.endswith(("镇", "乡")) else t.name, town_path(nav, t))
             for i, t in enumerate(nav.towns)]
    out: dict[str, _Page] = {}
    out[home_path(nav)] = _Page(f"{site.site_name}", [], [
        ("导航", [("首页", home_path(nav)), ("政务动态", _col(1229000001)), ("政务公开", zwgk_path(nav)),
                ("政务服务", _col(1229000003)), ("互动交流", _col(1229000004))]),
        ("热点", [(f"{site.region}召开全市经济工作会议", _col(1229000001)), ("政府信息公开指南", zwgk_path(nav))]),
    ], widget="头部导航")
    zwgk_items = [("政府信息公开目录", ml_path(nav)), ("政府信息公开指南", zwgk_path(nav)),
                  ("政府信息公开年报", _col(1229000020)), ("政策文件", _col(1229000021)),
                  ("依申请公开", _col(1229000022))]
    out[zwgk_path(nav)] = _Page("政务公开", crumb0, [("政务公开", zwgk_items)], widget="政务公开导航")
    departments = [(f"{site.region[:-1]}{d}", _col(1229000030 + i)) for i, d in enumerate(DEPARTMENTS)]
    crumb_ml = [*crumb0, ("政府信息公开目录", ml_path(nav))]
    if nav.platform in ("jpaas", "trs"):  # 乡镇（街道） is a page of its own
        out[ml_path(nav)] = _Page("政府信息公开目录", crumb_ml, [
            ("市政府部门", departments), ("乡镇（街道）", [("乡镇（街道）", units_path(nav))])], widget="信息公开目录")
        out[units_path(nav)] = _Page("乡镇（街道）", [*crumb_ml, ("乡镇（街道）", units_path(nav))],
                                     [("乡镇（街道）", towns)], widget="乡镇列表")
    else:
        out[ml_path(nav)] = _Page("政府信息公开目录", crumb_ml, [("市政府部门", departments), ("乡镇（街道）", towns)])
    for t, (shown, path) in zip(nav.towns, towns, strict=True):
        crumb_t = [*crumb_ml, ("乡镇（街道）", units_path(nav) if nav.platform in ("jpaas", "trs") else ml_path(nav)),
                   (t.name, path)]
        out[path] = _Page(f"{t.name}信息公开目录", crumb_t, [(shown, _tree_items(nav, t))], widget="栏目导航")
        for g in t.group_ids:
            gp = group_path(nav, t, g)
            if gp not in out and not any(c.is_group_list and column_path(nav, c.column) == gp for c in t.columns):
                out[gp] = _Page(g.rsplit("/", 1)[-1], [*crumb_t, (g.rsplit("/", 1)[-1], gp)],
                                [(g.rsplit("/", 1)[-1], _group_children(nav, t, g))], widget="栏目导航")
    return out


def _items_html(items: Sequence[Any]) -> str:
    out = []
    for item in items:
        text, href = item[0], item[1]
        children = item[2] if len(item) > 2 else []
        sub = f"<ul>{_items_html(children)}</ul>" if children else ""
        out.append(f'<li><a href="{_S(href)}" title="{_S(text)}">{_S(text)}</a>{sub}</li>')
    return "".join(out)


def _sections_html(page: _Page) -> str:
    return "".join(f'<div class="xxgk_box"><div class="box_title"><span>{_S(h)}</span></div>'
                   f'<ul class="xxgk_tree">{_items_html(items)}</ul></div>' for h, items in page.sections)


def _head(site: ReplicaSite, title: str) -> str:
    charset = "gb2312" if site.charset != "utf-8" else "utf-8"
    return (f'<!DOCTYPE html>\n<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html; charset={charset}" />\n'
            f"<title>{_S(title)} - {_S(site.site_name)}</title>\n"
            f'<meta name="SiteName" content="{_S(site.site_name)}">\n<meta name="SiteDomain" content="{_S(site.domain)}">\n'
            f'<meta name="SiteIDCode" content="{_S(site.site_code)}">\n<meta name="ColumnName" content="{_S(title)}">\n'
            '<link rel="stylesheet" type="text/css" href="/images/css/style.css" />\n</head>')


def _crumb(page: _Page) -> str:
    if not page.crumb:
        return ""
    return ('<div class="position">当前位置：' + " &gt; ".join(f'<a href="{_S(h)}">{_S(t)}</a>' for t, h in page.crumb)
            + "</div>")


def _trs_header(site: ReplicaSite, nav: CountyNav) -> str:
    return (f'<div class="header"><h1>{_S(site.site_name)}</h1></div><div class="nav"><a href="/index.html">首页</a> '
            f'<a href="/xwzx/index.html">新闻中心</a> <a href="{zwgk_path(nav)}">政务公开</a> '
            '<a href="/zwfw/index.html">政务服务</a> <a href="/hdjl/index.html">互动交流</a></div>')


def _widget_script(site: ReplicaSite, page_id: str, tag: str) -> str:
    from gongkai_replica.jpaas import API_PATH

    data = (f"{{'webId':'{site.webid}','tplSetId':'{site.options['tpl_set_id']}','pageType':'column',"
            f"'tagId':'{tag}','editType':'null','pageId':'{page_id}'}}")
    return (f'<script language="javascript" src="/AuthorizedRead/unitbuild.js" url="{API_PATH}" '
            f'queryData="{_S(data)}"></script>')


def render_page(site: ReplicaSite, nav: CountyNav, path: str, page: _Page) -> str:
    if nav.platform == "jpaas":
        body = f'<div class="main" id="nav">{_widget_script(site, _page_key(path), page.widget)}</div>'
        header = header_html(site) if path != home_path(nav) else '<div class="header"><div class="logo"></div></div>'
    else:
        body = _sections_html(page)
        header = _trs_header(site, nav) if nav.platform == "trs" else header_html(site)
    town = next((t for t in nav.towns if town_path(nav, t) == path), None)
    if nav.platform == "xxgk" and town is not None:  # the town's 目录 is the xxgk category tree in an iframe
        from gongkai_replica.xxgk import TREE_PATH

        body = (f'<div class="xxgk_left"><iframe id="xxgktree" src="{TREE_PATH}?divid=div{town.page_id}&amp;area='
                f'{town.code}&amp;standardXxgk=1" width="260" height="600" frameborder="0"></iframe></div>'
                '<div class="xxgk_right"><div class="xxgk_list">请从左侧目录选择</div></div>')
    visit = f"/module/visitcount/visit.jsp?type=2&i_webid={site.webid}&i_columnid={_page_key(path)}"
    return (f"{_head(site, page.title)}\n<body>\n{header}\n<div class=\"w1200 main\">{_crumb(page)}\n{body}\n"
            f"</div>\n{footer_html(site, visit)}\n</body>\n</html>\n")


def _page_key(path: str) -> str:
    """jpaas pageId of a navigation page: its column id."""
    return path.split("/col/col", 1)[-1].split("/", 1)[0] if "/col/col" in path else path


def _tree_frame(site: ReplicaSite, nav: CountyNav, area: str) -> str | None:
    town = next((t for t in nav.towns if t.code == area), None)
    if town is None:
        return None
    items = _tree_items(nav, town)

    def lis(entries: Sequence[Any]) -> str:
        out = []
        for e in entries:
            sub = f"<ul>{lis(e[2])}</ul>" if len(e) > 2 and e[2] else ""
            out.append(f'<li><a href="{_S(e[1])}" target="_parent">{_S(e[0])}</a>{sub}</li>')
        return "".join(out)

    return (f'<html><head><meta charset="utf-8" /><title>{_S(town.name)}信息公开目录</title></head><body>'
            f'<div class="tree_title">{_S(town.name)}</div><ul class="xxgk_tree">{lis(items)}</ul></body></html>')


class _AreaView:
    """The site as one town's xxgk area sees it: only that town's columns of one category."""

    def __init__(self, site: ReplicaSite, columns: list[ReplicaColumn], **options: Any) -> None:
        self._site = site
        self.columns = columns
        self.options = {**site.options, **options}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._site, name)


def _xxgk_column(nav: CountyNav, column_id: int) -> tuple[NavTown, NavColumn] | None:
    for t in nav.towns:
        for c in t.columns:
            if c.column.column_id == column_id:
                return t, c
    return None


def route(site: ReplicaSite, method: str, path: str, query: str, headers: Any,
          form: Sequence[tuple[str, str]] = ()) -> Reply | None:
    """Navigation pages, moved columns, jpaas navigation widgets and the xxgk towns' areas; None: not ours."""
    nav: CountyNav = site.options["navigation"]
    if path == "/":
        path = home_path(nav)
    elif path.endswith("/") and nav.platform == "trs":
        path += "index.html"
    if path in nav.unavailable:
        return 503, b"<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 " \
                    b"Service Temporarily Unavailable</h1></center></body></html>", "text/html", ()
    if nav.platform == "xxgk":
        reply = _xxgk_route(site, nav, method, path, query, headers, form)
        if reply is not None:
            return reply
    if method not in ("GET", "HEAD"):
        return None
    if nav.platform == "jpaas":
        from gongkai_replica.jpaas import API_PATH

        if path == API_PATH:
            return _jpaas_widget(site, nav, query, headers)
    for old, new in nav.moved.items():
        old_path = f"/zwgk/xxgkml/c{old}/index.html" if nav.platform == "trs" else _col(old)
        if path == old_path:
            new_path = column_path(nav, site.column(new))  # type: ignore[arg-type]
            if nav.platform == "trs":  # a notice, as a static site says it
                text = (f"{_head(site, '栏目已迁移')}<body>{_trs_header(site, nav)}<div class=\"main\"><p class=\"notice\">"
                        f'本栏目已迁移至新栏目，请访问：<a href="{new_path}">{_S(site.column(new).name)}</a></p>'  # type: ignore[union-attr]
                        "</div></body></html>")
                return reply_html(site, text)
            return 301, b"", "text/html", (("Location", f"http://{headers.get('Host') or urlsplit(site.base_url).netloc}{new_path}"),)
    page = pages(nav, site).get(path)
    if page is not None:
        return reply_html(site, render_page(site, nav, path, page))
    return None


def _jpaas_widget(site: ReplicaSite, nav: CountyNav, query: str, headers: Any) -> Reply | None:
    import json

    params = dict(parse_qsl(query, keep_blank_values=True))
    by_key = {_page_key(p): (p, pg) for p, pg in pages(nav, site).items()}
    hit = by_key.get(params.get("pageId", ""))
    if hit is None or params.get("tagId") == "分页列表":
        return None  # a column's own widgets: the jpaas replica answers them
    if not (headers.get("Referer") or "") or headers.get("X-Requested-With") != "XMLHttpRequest":
        body = b"<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1></body></html>"
        return 403, body, "text/html", ()
    path, page = hit
    fragment = _sections_html(page) if params.get("tagId") == page.widget else ""
    payload = {"success": True, "message": "操作成功", "data": {"html": fragment}}
    return 200, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json;charset=UTF-8", ()


def _xxgk_route(site: ReplicaSite, nav: CountyNav, method: str, path: str, query: str, headers: Any,
                form: Sequence[tuple[str, str]]) -> Reply | None:
    from gongkai_replica import xxgk

    if path == xxgk.TREE_PATH and method in ("GET", "HEAD"):
        frame = _tree_frame(site, nav, dict(parse_qsl(query)).get("area", ""))
        return reply_html(site, frame) if frame is not None else None
    if path == xxgk.SEARCH_PATH and method in ("GET", "POST", "HEAD"):
        params = dict(form)
        params.update(parse_qsl(query, keep_blank_values=True))
        town = next((t for t in nav.towns if t.code == params.get("area")), None)
        columns = [c.column for c in town.columns if c.code == params.get("infotypeId")] if town else []
        view = _AreaView(site, columns, infotype=params.get("infotypeId") or "-")
        host = headers.get("Host") or urlsplit(site.base_url).netloc
        return reply_html(site, xxgk.search_html(view, params, host))  # type: ignore[arg-type]
    if method in ("GET", "HEAD") and path.startswith("/col/col"):
        try:
            column_id = int(_page_key(path))
        except ValueError:
            return None
        found = _xxgk_column(nav, column_id)
        if found is not None and path == _col(column_id):
            town, c = found
            view = _AreaView(site, [c.column], infotype=c.code, area=town.code, tree_column=town.page_id)
            return reply_html(site, xxgk.render_listing(view, c.column))  # type: ignore[arg-type]
    return None
