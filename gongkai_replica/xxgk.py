"""Replica of a county's Hanweb 信息公开目录 (xxgk module; portal-anatomy 1.7 and 7.1).

- `/col/col<id>/index.html`: the column page of a town's 计划总结 in the 目录. It lists nothing itself:
  a category tree in an iframe (`/module/xxgk/tree.jsp?divid=div<tree>&area=<org code>`), and the
  信息检索 form (名称 / 索引号 / 文号 / 全文 boxes, hidden infotypeId, jdid, area, divid, sortfield,
  currpage, standardXxgk, isAllList) whose POST to search.jsp the page's script sends on load.
  Every column shares the site's category (`options["infotype"]`); `divid` names the column itself.
- `POST /module/xxgk/search.jsp` (GET too; query and form merged as a servlet's getParameter does,
  the query string first): the category's rows for the whole `area`, every column of the site mixed,
  newest first, `options["per_page"]` (default 10; this site 5) a page: an HTML table of
  `<tr class="tr_main_value_odd|even">` rows (序号, the link with title= / mc= / rq= / syh= /
  gkfs="主动公开" and the shown text cut with … past 30 characters, 发布日期), then a pager cell
  首 页 上一页 下一页 尾 页 and `共N页`. Not filtered by `divid`: that is the quirk a crawler must
  handle (anatomy: "search.jsp does not filter by column reliably"). Past the last page: an empty
  table with the same pager. A wrong or missing infotypeId: an empty table, 共0页.
- `/module/xxgk/tree.jsp`: the category tree (categories with their counts).
- Articles are jcms ones at `/art/Y/M/D/art_<col>_<id>.html`, served by the common routes; rows link
  them absolute (`http://<host>/art/…`), except those in `options["relative"]`.
"""

from __future__ import annotations

import html
import random
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from gongkai_replica.articles import footer_html, head_html, header_html
from gongkai_replica.generic import Reply, not_found, page_count, reply_html
from gongkai_replica.sites import L000, ReplicaArticle, ReplicaColumn, ReplicaSite

_S = html.escape
SEARCH_PATH = "/module/xxgk/search.jsp"
TREE_PATH = "/module/xxgk/tree.jsp"
SHOWN_TITLE = 30  # characters a row shows before cutting with …
_COL = re.compile(r"^/col/col(\d+)/index\.html$")


def listing_path(site: ReplicaSite, column: ReplicaColumn) -> str:
    return f"/col/col{column.column_id}/index.html"


def article_path(site: ReplicaSite, column: ReplicaColumn, art: ReplicaArticle) -> str:
    return art.url_path_for(column.column_id)


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{name}" id="{name}" value="{_S(value)}" />'


def render_listing(site: ReplicaSite, column: ReplicaColumn) -> str:
    o = site.options
    tree = f"{TREE_PATH}?divid=div{o['tree_column']}&area={o['area']}&standardXxgk=1"
    form = "".join([
        _hidden("infotypeId", o["infotype"]), _hidden("jdid", str(site.webid)), _hidden("area", o["area"]),
        _hidden("divid", f"div{column.column_id}"), _hidden("sortfield", ",createdatetime:0,orderid:0"),
        _hidden("currpage", "1"), _hidden("standardXxgk", "1"), _hidden("isAllList", "1"),
    ])
    return f"""{head_html(site, f"{column.parent}{column.name} - {site.site_name}", column)}
<body>
{header_html(site)}
<div class="w1200 main">
<div class="position">当前位置：<a href='/'>首页</a> &gt; <a href='/'>政务公开</a> &gt; <a href='/'>政府信息公开目录</a> &gt; <a href='/'>{_S(column.parent)}</a> &gt; <a href='/'>{_S(column.name)}</a></div>
<table width="100%" border="0" cellspacing="0" cellpadding="0"><tr>
<td valign="top" width="260" class="xxgk_left"><iframe id="xxgktree" src="{_S(tree)}" width="260" height="600" frameborder="0" scrolling="auto"></iframe></td>
<td valign="top" class="xxgk_right">
<div class="xxgk_search"><form name="searchform" id="searchform" action="{SEARCH_PATH}" method="post" target="_self" onsubmit="return xxgkSearch(1);">
<table class="tb_search"><tr>
<td>名称：<input type="text" name="vc_title" id="vc_title" value="" /></td>
<td>索引号：<input type="text" name="vc_number" id="vc_number" value="" /></td>
<td>文号：<input type="text" name="vc_filenumber" id="vc_filenumber" value="" /></td></tr>
<tr><td>全文：<input type="text" name="vc_all" id="vc_all" value="" /></td>
<td>类型：<select name="texttype" id="texttype"><option value="0" selected="selected">全部</option><option value="1">文件</option><option value="2">其他</option></select></td>
<td>年份：<select name="fbtime" id="fbtime"><option value="-1">全部</option><option value="2024">2024</option><option value="2023">2023</option></select>
<input type="submit" class="btn" value="检 索" /></td></tr></table>
{form}</form></div>
<div id="div{column.column_id}" class="xxgk_list">正在加载……</div>
</td></tr></table>
<script type="text/javascript">
function xxgkSearch(page) {{ $('#currpage').val(page); $.post('{SEARCH_PATH}', $('#searchform').serialize(),
  function (html) {{ $('#div{column.column_id}').html(html); }}); return false; }}
$(function () {{ xxgkSearch(1); }});
</script>
</div>
{footer_html(site, f"/module/visitcount/visit.jsp?type=2&i_webid={site.webid}&i_columnid={column.column_id}")}
</body>
</html>
"""


def category_rows(site: ReplicaSite) -> list[tuple[ReplicaColumn, ReplicaArticle]]:
    """The category's rows for the whole area: every column's articles, newest first (no divid filter)."""
    rows = [(c, a) for c in site.columns for a in c.articles]
    return sorted(rows, key=lambda r: (r[1].pub_date, r[1].article_id), reverse=True)


def _row(site: ReplicaSite, host: str, n: int, column: ReplicaColumn, art: ReplicaArticle) -> str:
    title = art.list_title or art.title
    shown = title if len(title) <= SHOWN_TITLE else title[:SHOWN_TITLE] + "…"
    path = article_path(site, column, art)
    href = path if art.article_id in site.options.get("relative", ()) else f"http://{host}{path}"
    parity = "odd" if n % 2 else "even"
    date = f"{art.pub_date:%Y-%m-%d}"
    return (f'<tr class="tr_main_value_{parity}"><td width="8%" align="center">{n}</td>'
            f'<td align="left"><a href="{_S(href)}" target="_blank" title="{_S(title)}" gkfs="主动公开" '
            f'syh="{_S(art.index_no)}" mc="{_S(title)}" rq="{date}">{_S(shown)}</a></td>'
            f'<td width="15%" align="center">{date}</td></tr>')


def search_html(site: ReplicaSite, params: dict[str, str], host: str) -> str:
    per_page = int(site.options.get("per_page", 10))
    rows = category_rows(site) if params.get("infotypeId") == site.options["infotype"] else []
    count = page_count(rows, per_page) if rows else 0
    try:
        page = max(1, int(params.get("currpage") or 1))
    except ValueError:
        page = 1
    shown = rows[(page - 1) * per_page:page * per_page]
    body = "".join(_row(site, host, (page - 1) * per_page + i + 1, c, a) for i, (c, a) in enumerate(shown))

    def go(p: int, text: str) -> str:
        return f'<a href="javascript:void(0)" onclick="xxgkSearch({p});return false;">{text}</a>'

    pager = [go(1, "首 页"), go(max(1, page - 1), "上一页") if page > 1 else "上一页",
             go(page + 1, "下一页") if page < count else "下一页", go(count, "尾 页") if count else "尾 页"]
    return (f'<table width="100%" border="0" cellspacing="0" cellpadding="0" class="tb_main">'
            f'<tr class="tr_main_title"><td width="8%">序号</td><td>名称</td><td width="15%">发布日期</td></tr>'
            f"{body}</table>"
            f'<table width="100%" border="0" cellspacing="0" cellpadding="0"><tr><td align="right">'
            f'{" ".join(pager)}&nbsp;&nbsp;共{count}页&nbsp;&nbsp;第{page}页&nbsp;</td></tr></table>')


def tree_html(site: ReplicaSite) -> str:
    count = len(category_rows(site))
    return (f'<html><head><meta charset="utf-8" /><title>信息公开目录</title></head><body><ul class="xxgk_tree">'
            f'<li><a href="javascript:void(0)" onclick="parent.xxgkType(\'{site.options["infotype"][:1]}\')">规划计划</a>'
            f'<ul><li><a href="javascript:void(0)" onclick="parent.xxgkType(\'{site.options["infotype"]}\')">'
            f"计划总结({count})</a></li></ul></li></ul></body></html>")


def route(site: ReplicaSite, method: str, path: str, query: str, headers: Any,
          form: Sequence[tuple[str, str]] = ()) -> Reply | None:
    if path == SEARCH_PATH and method in ("GET", "POST", "HEAD"):
        params = dict(form)
        params.update(parse_qsl(query, keep_blank_values=True))  # the query string's value wins
        return reply_html(site, search_html(site, params, headers.get("Host") or urlsplit(site.base_url).netloc))
    if method not in ("GET", "HEAD"):
        return None
    if path == TREE_PATH:
        return reply_html(site, tree_html(site))
    m = _COL.match(path)
    if m:
        column = site.column(int(m.group(1)))
        return reply_html(site, render_listing(site, column)) if column else not_found(site)
    return None


def build_site(seed: int = 8804, **quirks: Any) -> ReplicaSite:
    """Shangyu-like 信息公开目录: the 计划总结 of two towns (22 and 6 reports) and of the 区发改局
    (16 reports, all newer: the first three pages of search.jsp hold none of the towns' rows), 5 a page.

    `quirks` go into the site's options (per_page, relative: see the module docstring).
    """
    from gongkai_replica.demo import _assign_ids, _report, credit_code

    rng = random.Random(seed)
    code_b, code_f, code_d = (credit_code(rng, "330604") for _ in range(3))
    arts_b = [_report(rng, seed_key="000", town="百官街道", year=y, kind=k, prefix=code_b)
              for y in range(2010, 2021) for k in ("annual", "half")]
    arts_f = [_report(rng, seed_key="000", town="丰惠镇", year=y, kind="annual2", prefix=code_f)
              for y in (2012, 2014, 2016, 2017, 2019, 2020)]
    arts_d = [_report(rng, seed_key="000", town="区发展和改革局", year=y, kind=k, prefix=code_d)
              for y in range(2021, 2025) for k in ("annual", "half", "half2", "yearly")]
    _assign_ids(rng, arts_b + arts_f + arts_d, 5_476_000)
    return ReplicaSite(
        name="shangyu", webid=2328, unitid=5476089, webname="绍兴市上虞区人民政府",
        columns=[ReplicaColumn(1229423101, "计划总结", arts_b, parent="百官街道"),
                 ReplicaColumn(1229423117, "计划总结", arts_f, parent="丰惠镇"),
                 ReplicaColumn(1229423140, "计划总结", arts_d, parent="区发展和改革局")],
        article_layout=L000, region="上虞区", domain="xxgk.shangyu.gov.cn", site_code="3306040001",
        robots_txt="User-agent: *\nDisallow: /module/visitcount/\n", platform="xxgk",
        options={"infotype": "B001A011", "area": "002590173", "tree_column": 1229423001, "per_page": 5,
                 "relative": {arts_f[0].article_id}, **quirks},
    )
