"""jcms column listing pages and the jpage dataproxy.jsp XML (portal-anatomy sections 1.2-1.6, 7.2).

The column page embeds only the first group (per_page * group_size records) in
`<script type="text/xml"><datastore>`; later groups come from POST /module/jpage/dataproxy.jsp.

`site.options["proxy_path"]` moves the proxy (anatomy 1.4): `/module/web/jpage/dataproxy.jsp` (Jiangsu,
Jiangxi) answers GET and POST and ignores startrecord: it serves `page` (1-based) of `perpage` rows
(at most 300); `/module/jslib/jquery/jpage/dataproxy.jsp` (the old generation) behaves like the
default. Only the site's own proxy path answers; the others are 404.
"""

from __future__ import annotations

import html
import math

from gongkai_replica.articles import footer_html, head_html, header_html
from gongkai_replica.sites import (
    JPAGE_B,
    JPAGE_PARAM,
    REC_BRACKET,
    REC_FONT_BULLET,
    REC_ITALIC_ABS,
    REC_QUOTED_TRUNC,
    ReplicaArticle,
    ReplicaColumn,
    ReplicaSite,
)

PROXY_PATH = "/module/jpage/dataproxy.jsp"
WEB_PROXY_PATH = "/module/web/jpage/dataproxy.jsp"
MAX_WEB_PERPAGE = 300  # "perpage above ~300 is truncated" (anatomy 1.4)
TRUNCATE_AT = 18  # shown-title length on the truncating template


def record_li(site: ReplicaSite, column: ReplicaColumn, art: ReplicaArticle | None) -> str:
    """One listing row in the site's markup flavour; None renders the link-less junk row."""
    if art is None:
        return '<li class="kong"><span>&nbsp;</span></li>'
    href = art.url_path_for(column.column_id)
    title = art.list_title or art.title
    day = art.pub_date.strftime("%Y-%m-%d")
    t = html.escape(title)
    style = site.record_style
    if style == REC_QUOTED_TRUNC:
        shown = title if len(title) <= TRUNCATE_AT else title[:TRUNCATE_AT] + "…"
        return (f"<li><a href='{href}' title='{t}' target=\"_blank\">{html.escape(shown)}</a>"
                f"<span>{day}</span></li>")
    if style == REC_BRACKET:
        return f'<li><a href="{href}" title="{t}" target="_blank">{t}</a><span>[{day}]</span></li>'
    if style == REC_ITALIC_ABS:
        return f'<li><a href="{site.base_url}{href}" title="{t}" target="_blank"><span>{t}</span><i>{day}</i></a></li>'
    if style == REC_FONT_BULLET:
        return (f'<li class="ft14lh30 cf"><font> · </font><a href="{href}" title="{t}" target="_blank">{t}</a>'
                f'<span class="bt_time">{day}</span></li>')
    return f'<li><a href="{href}" title="{t}" target="_blank">{t}</a><span>{day}</span></li>'


def proxy_path(site: ReplicaSite) -> str:
    return site.options.get("proxy_path", PROXY_PATH)


def nextgroup_href(site: ReplicaSite, column: ReplicaColumn, page: int) -> str:
    return (f"{proxy_path(site)}?page={page}&appid=1&webid={site.webid}&path=/&columnid={column.column_id}"
            f"&unitid={site.unitid}&webname={site.webname}&permissiontype=0")


def _records_xml(site: ReplicaSite, column: ReplicaColumn, rows: list[ReplicaArticle | None]) -> str:
    return "\n".join(f"<record><![CDATA[\n{record_li(site, column, r)}]]></record>" for r in rows)


def _ajax_param_js(site: ReplicaSite, column: ReplicaColumn) -> str:
    return (f"{{col:1,appid:'1',webid:{site.webid},path:'/',columnid:{column.column_id},"
            f"unitid:'{site.unitid}',webname:'{site.webname}',permissiontype:0}}")


def jpage_script(site: ReplicaSite, column: ReplicaColumn, total: int) -> str:
    """The pager call; key order and form depend on site.jpage_style (parsers must not rely on order)."""
    u = site.unitid
    if site.jpage_style == JPAGE_PARAM:
        param = (f'{{"col":1,"appid":1,"webid":{site.webid},"path":"/","columnid":{column.column_id},'
                 f'"unitid":{u},"webname":"{site.webname}","permissiontype":0}}')
        return f"""<script type="text/javascript">
var param_{u} = {param};
$(document).ready(function(){{
  $('#{u}').jpage({{dataBefore:'<ul class="list">',dataAfter:'</ul>',proxyUrl:'{proxy_path(site)}',perPage:{site.per_page},groupSize:{site.group_size},totalRecord:{total},barPosition:'bottom',showMode:'full',ajaxParam:param_{u}}});
}});
</script>"""
    if site.jpage_style == JPAGE_B:
        return f"""<script type="text/javascript">
$(document).ready(function(){{$('#{u}').jpage({{ajaxParam:{_ajax_param_js(site, column)},proxyUrl:'{proxy_path(site)}',groupSize:{site.group_size},perPage:{site.per_page},dataBefore:'<ul class="list">',dataAfter:'</ul>',totalRecord:{total},themeName:'default',showMode:'full',barPosition:'bottom',openCookies:true}});}});
</script>"""
    return f"""<script type="text/javascript">
$('#{u}').jpage({{
    themeName:'default',
    showMode:'full',
    totalRecord:{total},
    openCookies:false,
    dataBefore:'<ul class="list">',
    dataStore:$('#{u} script[type="text/xml"]').text(),
    dataAfter:'</ul>',
    groupSize:{site.group_size},
    proxyUrl:'{proxy_path(site)}',
    perPage:{site.per_page},
    barPosition:'bottom',
    ajaxParam:{_ajax_param_js(site, column)}
}});
</script>"""


def render_listing(site: ReplicaSite, column: ReplicaColumn) -> str:
    """The column page: shell + datastore with the first group only + jpage call."""
    rows = column.records()
    total = len(rows)
    first = rows[: site.per_page * site.group_size]
    nxt = nextgroup_href(site, column, site.group_size + 1) if total > len(first) else ""
    nextgroup = f'<a href="{nxt}"></a>' if nxt else ""
    crumb_bits = ["首页", "政务公开", column.parent, "规划计划", column.name]
    crumb = " &gt; ".join(f"<a href='/'>{html.escape(b)}</a>" for b in crumb_bits if b)
    title = f"{column.parent}{column.name} - {site.site_name}"
    visit = f"/module/visitcount/visit.jsp?type=2&i_webid={site.webid}&i_columnid={column.column_id}"
    return f"""{head_html(site, title, column)}
<body>
{header_html(site)}
<div class="w1200 main">
<div class="position">当前位置：{crumb}</div>
<div class="left"><div class="lm_name">{html.escape(column.parent or "规划计划")}</div>
<ul class="sub_nav"><li><a href="/col/col{column.column_id}/index.html" class="on">{html.escape(column.name)}</a></li></ul></div>
<div class="right"><div class="lm_title"><span>{html.escape(column.name)}</span></div>
<div class="list_con">
<div id="{site.unitid}"><script type="text/xml"><datastore>
<nextgroup><![CDATA[{nextgroup}]]></nextgroup>
<recordset>
{_records_xml(site, column, first)}
</recordset>
</datastore></script></div>
{jpage_script(site, column, total)}
</div></div>
<div class="clear"></div>
</div>
{footer_html(site, visit)}
</body>
</html>
"""


def dataproxy_xml(site: ReplicaSite, params: dict[str, str]) -> str:
    """Answer one dataproxy call. Wrong webid/unitid/columnid -> empty recordset, totalrecord 0."""

    def num(key: str, default: int) -> int:
        try:
            return int(params.get(key, "").strip())
        except ValueError:
            return default

    column = site.column(num("columnid", -1))
    ok = column is not None and num("webid", -1) == site.webid and num("unitid", -1) == site.unitid
    perpage = max(1, num("perpage", site.per_page))
    start = max(1, num("startrecord", 1))
    end = num("endrecord", start + perpage * site.group_size - 1)
    if proxy_path(site) == WEB_PROXY_PATH:  # startrecord ignored: page N of perpage rows
        perpage = min(perpage, MAX_WEB_PERPAGE)
        page = max(1, num("page", 1))
        start, end = (page - 1) * perpage + 1, page * perpage
    rows: list[ReplicaArticle | None] = column.records() if (ok and column is not None) else []
    total = len(rows)
    lo = start - 1
    if site.lookahead_duplicate and start > 1:
        lo -= 1  # quirk: the window starts with the previous group's last row
    window = rows[lo:end] if end >= start else []
    nextgroup = ""
    if ok and column is not None and end < total:
        nextgroup = f'<a href="{nextgroup_href(site, column, end // perpage + 1)}"></a>'
    assert column is not None or not window
    records = _records_xml(site, column, window) if (column is not None and window) else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<datastore>
<nextgroup><![CDATA[{nextgroup}]]></nextgroup>
<recordset>
{records}
</recordset>
<totalrecord>{total}</totalrecord>
<totalpage>{math.ceil(total / perpage)}</totalpage>
</datastore>
"""
