"""Replica of a plain static portal: a <ul> list of reports, paging by 下一页, relative links.

Listing pages `<dir>list.html`, `<dir>list_2.html`, … (dir three levels deep, e.g.
`/gkml/ghjh/c1229000101/`), rows `<li><span>date</span><a href="../../../content/post_<id>.html">title</a>`
(no title= attribute: the shown text is the title), a 热点 sidebar of long undated links, a nav bar,
and a pager 首页 上一页 1 2 3 下一页 尾页 whose 下一页 is a plain <span> on the last page. Articles
`/content/post_<id>.html` reuse the jcms article layouts (ground truth: ReplicaArticle.expected).

Also holds the helpers the other non-jcms replica modules share (replies, encodings, lookups).
A module's `route` answers a request or returns None to let the server's common routes
(robots.txt, downfile.jsp, /attach/, 404) answer.
"""

from __future__ import annotations

import html
import math
import random
import re
from collections.abc import Sequence
from typing import Any

from gongkai_replica.articles import head_html, header_html, render_article, render_not_found
from gongkai_replica.sites import L000, ReplicaArticle, ReplicaColumn, ReplicaSite

Reply = tuple[int, bytes, str, tuple[tuple[str, str], ...]]

_S = html.escape
_LIST = re.compile(r"^(/.*/)list(?:_(\d+))?\.html$")
_POST = re.compile(r"^/content/post_(\d+)\.html$")


# -- helpers shared by trs.py and jpaas.py -----------------------------------------------------------

def reply_html(site: ReplicaSite, text: str, status: int = 200) -> Reply:
    """UTF-8 with the charset in the header; GBK sites: GBK bytes, header without charset."""
    if site.charset.lower() == "utf-8":
        return status, text.encode("utf-8"), "text/html; charset=UTF-8", ()
    return status, text.encode(site.charset, "xmlcharrefreplace"), "text/html", ()


def not_found(site: ReplicaSite) -> Reply:
    return reply_html(site, render_not_found(site), 404)


def column_dir(site: ReplicaSite, column: ReplicaColumn, default: str) -> str:
    """The listing directory of a column: options["paths"][column_id], else `default` (with {id})."""
    path = site.options.get("paths", {}).get(column.column_id) or default.format(id=column.column_id)
    return path if path.endswith("/") else path + "/"


def column_at(site: ReplicaSite, directory: str, default: str) -> ReplicaColumn | None:
    return next((c for c in site.columns if column_dir(site, c, default) == directory), None)


def article_page(site: ReplicaSite, column: ReplicaColumn, art: ReplicaArticle, path: str) -> Reply:
    """A jcms-layout article page served at `path` (its Url meta says so)."""
    if art.withdrawn:
        return not_found(site)
    text = render_article(site, column, art).replace(art.url_path_for(column.column_id), path)
    return reply_html(site, text)


def chunk(rows: list[Any], per_page: int, page: int) -> list[Any]:
    return rows[page * per_page:(page + 1) * per_page]


def page_count(rows: list[Any], per_page: int) -> int:
    return max(1, math.ceil(len(rows) / per_page))


def sidebar(links: list[tuple[str, str]]) -> str:
    """A 热点 box of long, undated links (a listing parser must not take it for the list)."""
    items = "".join(f'<li><a href="{_S(h)}" target="_blank">{_S(t)}</a></li>' for h, t in links)
    return f'<div class="side_box"><div class="side_title">热点信息</div><ul class="side_list">{items}</ul></div>'


# -- the generic site ---------------------------------------------------------------------------------

DEFAULT_DIR = "/gkml/ghjh/c{id}/"


def listing_path(site: ReplicaSite, column: ReplicaColumn, page: int = 1) -> str:
    name = "list.html" if page == 1 else f"list_{page}.html"
    return column_dir(site, column, DEFAULT_DIR) + name


def article_path(site: ReplicaSite, column: ReplicaColumn, art: ReplicaArticle) -> str:
    return f"/content/post_{art.article_id}.html"


def _row(art: ReplicaArticle | None) -> str:
    if art is None:
        return '<li class="line"><span>&nbsp;</span></li>'
    title = _S(art.list_title or art.title)
    return (f'<li><span class="date">{art.pub_date:%Y-%m-%d}</span>'
            f'<a href="../../../content/post_{art.article_id}.html" target="_blank">{title}</a></li>')


def _pager(site: ReplicaSite, column: ReplicaColumn, page: int, count: int) -> str:
    def link(p: int, text: str) -> str:
        return f'<a href="{listing_path(site, column, p).rsplit("/", 1)[1]}">{text}</a>'

    parts = [link(1, "首页")]
    parts.append(link(page - 1, "上一页") if page > 1 else '<span class="disabled">上一页</span>')
    parts += [f'<span class="current">{p}</span>' if p == page else link(p, str(p)) for p in range(1, count + 1)]
    parts.append(link(page + 1, "下一页") if page < count else '<span class="disabled">下一页</span>')
    parts.append(link(count, "尾页"))
    return f'<div class="page">{" ".join(parts)} <span>共{count}页</span></div>'


def render_listing(site: ReplicaSite, column: ReplicaColumn, page: int) -> str:
    rows = column.records()
    count = page_count(rows, site.per_page)
    items = "\n".join(_row(a) for a in chunk(rows, site.per_page, page - 1))
    hot = [("../../../content/post_90000001.html", f"{site.site_name}召开全县经济工作会议部署今年重点任务"),
           ("../../../content/post_90000002.html", "关于做好今冬明春森林防火工作的通知（全文）")]
    return f"""{head_html(site, f"{column.parent}{column.name}_{site.site_name}", column)}
<body>
{header_html(site)}
<div class="w1200 main">
<div class="position">当前位置：<a href="/">首页</a> &gt; <a href="../../">政府信息公开</a> &gt; <a href="../">规划计划</a> &gt; {_S(column.name)}</div>
<div class="left">{sidebar(hot)}</div>
<div class="right"><div class="list_title">{_S(column.parent)}{_S(column.name)}</div>
<ul class="news_list">
{items}
</ul>
{_pager(site, column, page, count)}
</div>
</div>
<div class="footer"><ul class="links"><li><a href="http://www.gov.cn/">中国政府网</a></li><li><a href="http://www.zj.gov.cn/">浙江省人民政府门户网站</a></li></ul>
<p>主办：{_S(site.region or site.site_name)}人民政府办公室</p></div>
</body>
</html>
"""


def route(site: ReplicaSite, method: str, path: str, query: str, headers: Any,
          form: Sequence[tuple[str, str]] = ()) -> Reply | None:
    if method not in ("GET", "HEAD"):
        return None
    m = _LIST.match(path)
    if m:
        column = column_at(site, m.group(1), DEFAULT_DIR)
        page = int(m.group(2) or 1)
        if column is None or m.group(2) == "1" or page > page_count(column.records(), site.per_page):
            return not_found(site)
        return reply_html(site, render_listing(site, column, page))
    m = _POST.match(path)
    if m:
        for column in site.columns:
            art = next((a for a in column.articles if a.article_id == int(m.group(1))), None)
            if art is not None:
                return article_page(site, column, art, path)
        return not_found(site)
    return None


def build_site(seed: int = 8801) -> ReplicaSite:
    """A county portal on a plain static CMS: 23 reports over 3 list pages, one junk row."""
    from gongkai_replica.demo import _assign_ids, _report, credit_code

    rng = random.Random(seed)
    code = credit_code(rng, "330783")
    combos = [(y, k) for y in range(2013, 2025) for k in ("annual", "half")][:23]
    arts = [_report(rng, seed_key="004", town="横店镇", year=y, kind=k, prefix=code) for y, k in combos]
    _assign_ids(rng, arts, 5_200_000)
    column = ReplicaColumn(1229000101, "计划总结", arts, parent="横店镇", junk_positions=(4,))
    return ReplicaSite(
        name="dongyang", webid=0, unitid=0, webname="东阳市人民政府", columns=[column], per_page=10,
        article_layout=L000, region="东阳市", domain="www.dongyang.gov.cn", site_code="3307830001",
        robots_txt="User-agent: *\nDisallow:\n", platform="generic",
        options={"paths": {1229000101: "/gkml/ghjh/hengdian/"}},
    )
