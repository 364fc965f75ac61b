"""Replica of a Hanweb jpaas county portal (portal-anatomy 2 and 7.1).

- `/col/col<id>/index.html`: a JS shell listing nothing itself; two unitbuild widgets
  (`<script src="/AuthorizedRead/unitbuild.js" url="/api-gateway/…/build/unit" queryData="{'webId':…}">`),
  a 栏目导航 one and the 分页列表 one. The attribute is spelt `options["query_attr"]` (queryData).
- `GET /api-gateway/jpaas-publish-server/front/page/build/unit`: needs webId, tplSetId, pageType=column,
  tagId, pageId, parseType=bulidstatic|buildstatic; pages only through
  `paramJson={"pageNo":N,"pageSize":K}` (bare pageNo/pageSize ignored). Strict (the default):
  paramJson with whitespace, or a request without Referer or without X-Requested-With: XMLHttpRequest,
  gets 403. Answer `{"success":true,"message":"操作成功","data":{"html":"<ul>…</ul><div class=\\"pagination\\">…
  data-page…</div>"}}`; past the last page `data.html` is ""; a wrong tagId or pageId gives ""; a wrong
  webId/tplSetId gives success:false.
- Articles `/col/col<id>/art/<YYYY>/art_<32 hex>.html` (jcms article layouts); articles whose ids are in
  `options["legacy"]` are listed at their old jcms `/art/Y/M/D/art_<col>_<id>.html` address instead.

Deployment quirks (portal-anatomy 1.6, 2.3; off by default, where the replica follows 7.1):
- `options["pager"] = False`: no pager in `data.html` ("pager, if present"), so a client learns where the list
  ends only by asking past it.
- `options["past_end"] = "fail"`: past the last page the answer is `{"success":false,…,"data":null}`
  instead of an empty `data.html` (crawlers "page until an empty/duplicate page or success:false").
  Page 1 of an empty column still answers success with an empty html.
- `options["host_forms"] = {article_id: "https" | "www"}`: that row's link is absolute and names the site in
  another form: `https://` on this HTTP-only host (the http/https mix of one list; real HTTPS there
  answers 410), or the host with `www.` added (or removed). The article is served at its http address.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from gongkai_replica.articles import footer_html, head_html, header_html
from gongkai_replica.generic import Reply, article_page, not_found, page_count, reply_html
from gongkai_replica.sites import L003, ReplicaArticle, ReplicaColumn, ReplicaSite

_S = html.escape
API_PATH = "/api-gateway/jpaas-publish-server/front/page/build/unit"
LIST_TAG = "分页列表"
NAV_TAG = "栏目导航"
_COL = re.compile(r"^/col/col(\d+)/index\.html$")
_ART = re.compile(r"^/col/col(\d+)/art/(\d{4})/art_([0-9a-f]{32})\.html$")


def art_hex(site: ReplicaSite, art: ReplicaArticle) -> str:
    return hashlib.md5(f"{site.name}/{art.article_id}".encode()).hexdigest()


def listing_path(site: ReplicaSite, column: ReplicaColumn) -> str:
    return f"/col/col{column.column_id}/index.html"


def article_path(site: ReplicaSite, column: ReplicaColumn, art: ReplicaArticle) -> str:
    if art.article_id in site.options.get("legacy", ()):
        return art.url_path_for(column.column_id)
    return f"/col/col{column.column_id}/art/{art.pub_date:%Y}/art_{art_hex(site, art)}.html"


def _page_id(site: ReplicaSite, column: ReplicaColumn) -> str:
    return str(site.options.get("page_ids", {}).get(column.column_id, column.column_id))


def query_data(site: ReplicaSite, column: ReplicaColumn, tag: str) -> str:
    """The single-quoted JSON the page hands to unitbuild.js."""
    return (f"{{'webId':'{site.webid}','tplSetId':'{site.options['tpl_set_id']}','pageType':'column',"
            f"'tagId':'{tag}','editType':'null','pageId':'{_page_id(site, column)}'}}")


def _widget(site: ReplicaSite, column: ReplicaColumn, tag: str) -> str:
    attr = site.options.get("query_attr", "queryData")
    return (f'<script language="javascript" src="/AuthorizedRead/unitbuild.js" url="{API_PATH}" '
            f'{attr}="{_S(query_data(site, column, tag))}"></script>')


def render_listing(site: ReplicaSite, column: ReplicaColumn) -> str:
    return f"""{head_html(site, f"{column.parent}{column.name} - {site.site_name}", column)}
<body>
{header_html(site)}
<div class="w1200 main">
<div class="position">当前位置：<a href='/'>首页</a> &gt; <a href='/'>政务公开</a> &gt; <a href='/'>{_S(column.parent)}</a> &gt; <a href='/'>{_S(column.name)}</a></div>
<div class="left" id="lmdh">{_widget(site, column, NAV_TAG)}</div>
<div class="right"><div class="lm_title"><span>{_S(column.name)}</span></div>
<div class="list_con" id="fylb">{_widget(site, column, LIST_TAG)}</div>
</div>
<div class="clear"></div>
</div>
{footer_html(site, f"/module/visitcount/visit.jsp?type=2&i_webid={site.webid}&i_columnid={column.column_id}")}
</body>
</html>
"""


def row_href(site: ReplicaSite, column: ReplicaColumn, art: ReplicaArticle, host: str) -> str:
    """The link a row carries: the article's path, or (options["host_forms"]) an absolute URL naming
    this site in another form; `host` is host[:port] as the client asked for it."""
    path = article_path(site, column, art)
    form = site.options.get("host_forms", {}).get(art.article_id)
    if form == "https":
        return f"https://{host}{path}"
    if form == "www":
        return f"http://{host.removeprefix('www.') if host.startswith('www.') else 'www.' + host}{path}"
    return path


def _row(site: ReplicaSite, column: ReplicaColumn, art: ReplicaArticle | None, host: str) -> str:
    if art is None:
        return '<li class="kong"></li>'
    title = _S(art.list_title or art.title)
    return (f'<li><a title="{title}" href="{_S(row_href(site, column, art, host))}" target="_blank">{title}</a>'
            f'<span class="date">{art.pub_date:%Y-%m-%d}</span></li>')


def past_end(column: ReplicaColumn, page_no: int, page_size: int) -> bool:
    """Whether page `page_no` lies past the column's last page (page 1 never does)."""
    return page_no > page_count(column.records(), page_size)


def unit_html(site: ReplicaSite, column: ReplicaColumn, page_no: int, page_size: int, host: str = "") -> str:
    rows = column.records()
    count = page_count(rows, page_size)
    if page_no < 1 or page_no > count or not rows:
        return ""
    host = host or urlsplit(site.base_url).netloc
    items = "".join(_row(site, column, a, host) for a in rows[(page_no - 1) * page_size:page_no * page_size])
    if not site.options.get("pager", True):
        return f'<ul class="list">{items}</ul>'

    def link(p: int, text: str) -> str:
        return f'<a href="javascript:;" data-page="{p}">{text}</a>'

    window = range(max(1, page_no - 2), min(count, page_no + 2) + 1)
    pager = [link(1, "首页"), link(max(1, page_no - 1), "上一页")]
    pager += [f'<span class="active" data-page="{p}">{p}</span>' if p == page_no else link(p, str(p)) for p in window]
    pager += [link(min(count, page_no + 1), "下一页"), link(count, "尾页")]
    return f'<ul class="list">{items}</ul><div class="pagination">{"".join(pager)}<span>共{count}页</span></div>'


def _json(payload: dict, status: int = 200) -> Reply:
    return status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json;charset=UTF-8", ()


def _forbidden() -> Reply:
    body = "<html><head><title>403 Forbidden</title></head><body><center><h1>403 Forbidden</h1></center></body></html>"
    return 403, body.encode(), "text/html", ()


def unit(site: ReplicaSite, query: str, headers: Any) -> Reply:
    params = dict(parse_qsl(query, keep_blank_values=True))
    strict = site.options.get("strict", True)
    if strict and (not (headers.get("Referer") or "") or headers.get("X-Requested-With") != "XMLHttpRequest"):
        return _forbidden()
    raw = params.get("paramJson", "")
    if strict and re.search(r"\s", raw):
        return _forbidden()
    try:
        paging = json.loads(raw) if raw else {}
        page_no = int(paging.get("pageNo", 1))
        page_size = min(100, max(1, int(paging.get("pageSize", 15))))
    except (ValueError, TypeError, AttributeError):
        return _json({"success": False, "message": "paramJson格式错误", "data": None})
    if (params.get("webId") != str(site.webid) or params.get("tplSetId") != site.options["tpl_set_id"]
            or params.get("pageType") != "column" or params.get("parseType") not in ("bulidstatic", "buildstatic")):
        return _json({"success": False, "message": "参数错误", "data": None})
    column = next((c for c in site.columns if _page_id(site, c) == params.get("pageId")), None)
    fragment = ""
    if column is not None and params.get("tagId") == LIST_TAG:
        if site.options.get("past_end") == "fail" and past_end(column, page_no, page_size):
            return _json({"success": False, "message": "没有更多数据", "data": None})
        fragment = unit_html(site, column, page_no, page_size, headers.get("Host") or "")
    elif column is not None and params.get("tagId") == NAV_TAG:
        fragment = (f'<ul class="lmdh"><li class="on"><a href="{listing_path(site, column)}">'
                    f"{_S(column.name)}</a></li></ul>")
    return _json({"success": True, "message": "操作成功", "data": {"html": fragment}})


def route(site: ReplicaSite, method: str, path: str, query: str, headers: Any,
          form: Sequence[tuple[str, str]] = ()) -> Reply | None:
    if method not in ("GET", "HEAD"):
        return None
    if path == API_PATH:
        return unit(site, query, headers)
    if path == "/AuthorizedRead/unitbuild.js":
        return 200, b"/* unitbuild.js replica stub: fetches the unit html and writes it in place */", \
            "application/javascript", ()
    m = _COL.match(path)
    if m:
        column = site.column(int(m.group(1)))
        return reply_html(site, render_listing(site, column)) if column else not_found(site)
    m = _ART.match(path)
    if m:
        column = site.column(int(m.group(1)))
        art = next((a for a in column.articles if article_path(site, column, a) == path), None) if column else None
        if column is None or art is None:
            return not_found(site)
        return article_page(site, column, art, path)
    return None


def build_site(seed: int = 8803, **quirks: Any) -> ReplicaSite:
    """Yiwu-like jpaas portal: two columns (34 and 6 reports), 15 a page; two legacy jcms links.

    `quirks` go into the site's options (pager, past_end, host_forms: see the module docstring).
    """
    from gongkai_replica.demo import _assign_ids, _report, credit_code

    rng = random.Random(seed)
    code_f, code_c = credit_code(rng, "330782"), credit_code(rng, "330782")
    combos = [(y, k) for y in range(2008, 2025) for k in ("annual", "half2")]
    arts_f = [_report(rng, seed_key="003", town="佛堂镇", year=y, kind=k, prefix=code_f) for y, k in combos]
    arts_c = [_report(rng, seed_key="003", town="赤岸镇", year=y, kind=k, prefix=code_c)
              for y, k in ((2024, "annual"), (2023, "annual"), (2023, "half"), (2022, "annual2"),
                           (2021, "half2"), (2020, "yearly"))]
    _assign_ids(rng, arts_f + arts_c, 5_400_000)
    legacy = {arts_f[0].article_id, arts_c[-1].article_id}
    return ReplicaSite(
        name="yiwu", webid=3549, unitid=0, webname="义乌市人民政府",
        columns=[ReplicaColumn(1229187636, "计划总结", arts_f, parent="佛堂镇"),
                 ReplicaColumn(1229187644, "计划总结", arts_c, parent="赤岸镇")],
        article_layout=L003, region="义乌市", domain="www.yw.gov.cn", site_code="3307820001",
        robots_txt="User-agent: *\nDisallow: /module/visitcount/\n", platform="jpaas",
        options={"tpl_set_id": "zfHuDn7pjzPV0dB1wLhu9", "strict": True, "legacy": legacy,
                 "query_attr": "queryData", **quirks},
    )
