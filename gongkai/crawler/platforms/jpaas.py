"""Hanweb jpaas (jpaas-publish-server) column pages: a JS shell whose list comes from a JSON gateway.

What this relies on (portal-anatomy section 2; seen in public crawlers of yw.gov.cn and other
Zhejiang sites, reproduced by the replica, not verified against a live site from here):

- The column page holds one `<script src="…/unitbuild.js" url="/api-gateway/jpaas-publish-server/
  front/page/build/unit" queryData="{'webId':'3549','tplSetId':'…','pageId':'1229187636',
  'tagId':'分页列表',…}">` per widget. queryData is JSON with single quotes (the attribute's case
  varies). pageId is read from it, never derived from the URL (sub-path columns use a hash).
  Of several widgets, the one whose tagId reads like a list (分页列表, 当前栏目list, 新闻列表 …) is used.
- The rows: GET <url>?parseType=bulidstatic&webId&tplSetId&pageType=column&tagId&editType=null&pageId
  &paramJson={"pageNo":N,"pageSize":K}. paramJson must be compact JSON (spaces get 403 on strict
  sites); Referer (the column page) and X-Requested-With: XMLHttpRequest are sent, since some
  deployments answer 403 without them.
- The answer is `{"success":true,"data":{"html":"<ul><li><a href title>…</a><span>date</span></li>…"}}`
  with an optional pager (`data-page` attributes) inside the html. Past the last page the html is
  empty, or the last page again, or the answer is success:false, depending on the deployment; there
  is rarely a total. Paging stops on an empty page, a page that repeats the previous one, success:false
  on a page after the first, or the pager's last data-page. success:false on page 1 is an error (wrong
  ids): the list was never read; so is an empty or repeated page short of the pager's last data-page,
  or a list past MAX_PAGES (either would count as a completely walked list, and a --full crawl delist
  what it had not reached).
- Article links are `/col/col<id>/art/<YYYY>/art_<32 hex>.html`, next to legacy jcms
  `/art/Y/M/D/art_<col>_<id>.html` links; both are kept.
The column page itself usually lists nothing (rows arrive by script), so its ListingPage holds no
records and only the request for page 1.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from urllib.parse import quote, urlencode, urljoin

from gongkai.crawler.platforms.common import (
    ListingPage,
    ListingRequest,
    UnsupportedListing,
    find_list,
    parse_html,
    row_record,
)
from gongkai.models import ListingRecord

NAME = "jpaas"
DETECT_ORDER = 20
DETECT_HINT = "a unitbuild.js <script> with a queryData for /api-gateway/jpaas-publish-server/"

API_PATH = "/api-gateway/jpaas-publish-server/front/page/build/unit"
DEFAULT_PAGE_SIZE = 15
MAX_PAGES = 500
# tagIds of list widgets seen on jpaas sites, best first
LIST_TAGS = ("分页列表", "当前栏目list", "zw/list", "内容区域", "新闻列表", "概览信息列表", "ajax分页", "右侧内容")
ARTICLE_URL = re.compile(r"/art/\d{4}/(?:\d{1,2}/\d{1,2}/)?art_[0-9a-f_]+\.html", re.I)
REQUIRED = ("webId", "tplSetId", "pageId", "tagId")

_SCRIPT = re.compile(r"<script\b([^>]*)>", re.I)
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")


def detect(html: str) -> bool:
    return bool(widgets(html))


def names_column(html: str, column: str) -> bool | None:
    """Whose column a page's list is: a jpaas page does not say (None)."""
    return None


def _attributes(tag: str) -> dict[str, str]:
    attrs = {}
    for match in _ATTR.finditer(tag):
        value = next((g for g in match.groups()[1:] if g is not None), "")
        attrs.setdefault(match.group(1).lower(), html_lib.unescape(value))
    return attrs


def parse_query_data(text: str) -> dict:
    """queryData is JSON written with single quotes: {'webId':'3549','tagId':'分页列表'}."""
    text = text.strip()
    for candidate in (text, text.replace("'", '"')):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    pairs = re.findall(r"""['"]?(\w+)['"]?\s*:\s*(?:'([^']*)'|"([^"]*)"|([^,{}\s]+))""", text)
    return {key: next((v for v in values if v), "") for key, *values in pairs}


def widgets(html: str) -> list[tuple[str, dict]]:
    """(gateway URL, queryData) of every unitbuild script on the page."""
    found = []
    for match in _SCRIPT.finditer(html):
        attrs = _attributes(match.group(1))
        url = attrs.get("url", "")
        if "querydata" not in attrs or ("unitbuild" not in attrs.get("src", "") and "jpaas-publish-server" not in url):
            continue
        found.append((url or API_PATH, parse_query_data(attrs["querydata"])))
    return found


def _is_list(tag_id: str) -> int:
    """How list-like a widget's tagId is: LIST_TAGS order, then anything saying list/列表."""
    for rank, name in enumerate(LIST_TAGS):
        if name.lower() in tag_id.lower():
            return len(LIST_TAGS) + 1 - rank
    return 1 if re.search(r"list|列表|分页", tag_id, re.I) else 0


def choose_widget(html: str) -> tuple[str, dict] | None:
    candidates = [(url, data) for url, data in widgets(html) if all(data.get(k) for k in REQUIRED)]
    if not candidates:
        return None
    return max(candidates, key=lambda c: _is_list(str(c[1].get("tagId", ""))))  # first of equals wins


def _page_size(data: dict) -> int:
    for source in (data, data.get("paramJson") if isinstance(data.get("paramJson"), dict) else {}):
        try:
            return max(1, int(source.get("pageSize")))
        except (TypeError, ValueError):
            continue
    return DEFAULT_PAGE_SIZE


def unit_request(listing_url: str, gateway: str, data: dict, page_no: int, page_size: int,
                 previous_first: str | None = None, last_page: int | None = None) -> ListingRequest:
    """The GET a browser's unitbuild.js sends for page `page_no` (1-based)."""
    params: dict[str, str] = {
        "parseType": str(data.get("parseType") or "bulidstatic"),  # sic: the gateway's spelling
        "webId": str(data["webId"]),
        "tplSetId": str(data["tplSetId"]),
        "pageType": str(data.get("pageType") or "column"),
        "tagId": str(data["tagId"]),
        "editType": str(data.get("editType") or "null"),
        "pageId": str(data["pageId"]),
    }
    for key, value in data.items():
        if key not in params and key not in ("paramJson", "pageNo", "pageSize") and not isinstance(value, dict | list):
            params[key] = str(value)
    params["paramJson"] = json.dumps({"pageNo": page_no, "pageSize": page_size}, separators=(",", ":"))
    url = urljoin(listing_url, gateway) + "?" + urlencode(params, quote_via=quote)
    headers = {"Referer": listing_url, "X-Requested-With": "XMLHttpRequest",
               "Accept": "application/json, text/javascript, */*; q=0.01"}
    state = {"listing_url": listing_url, "gateway": gateway, "query": {k: v for k, v in data.items()
                                                                         if not isinstance(v, dict | list)},
             "page_no": page_no, "page_size": page_size, "previous_first": previous_first, "last_page": last_page}
    return ListingRequest(url=url, state=state, headers=headers)


def parse_listing_page(html: str, url: str) -> ListingPage:
    """The column shell: no rows of its own, the request for page 1 of its list widget."""
    chosen = choose_widget(html)
    if chosen is None:
        if widgets(html):
            raise UnsupportedListing(f"jpaas page's queryData lacks one of {', '.join(REQUIRED)}")
        raise UnsupportedListing(f"not a jpaas column page: no {DETECT_HINT} found")
    gateway, data = chosen
    return ListingPage(records=[], next=unit_request(url, gateway, data, 1, _page_size(data)))


def records_of(fragment: str, base: str) -> tuple[list[ListingRecord], int | None]:
    """Rows of a unit's html and the highest data-page its pager shows (None without a pager)."""
    root = parse_html(f"<div>{fragment}</div>")
    found = find_list(root, base, prefer=ARTICLE_URL)
    records = found.records if found else []
    if not records:  # rows not in a list element: take every article-shaped link
        seen = set()
        for link in root.iter("a"):
            record = row_record(link.getparent() if link.getparent() is not None else link, base, ARTICLE_URL)
            if record is not None and ARTICLE_URL.search(record.url) and record.url not in seen:
                seen.add(record.url)
                records.append(record)
    pages = [int(p) for p in root.xpath("//@data-page") if str(p).strip().isdigit()]
    return records, (max(pages) if pages else None)


def parse_continuation(body: str, url: str, state: dict) -> ListingPage:
    """A gateway answer: its rows and the next page's request, or no request at the end of the list."""
    try:
        answer = json.loads(body)
    except ValueError as exc:
        raise UnsupportedListing(f"jpaas gateway answered no JSON ({exc})") from None
    if not isinstance(answer, dict):
        raise UnsupportedListing("jpaas gateway answered JSON that is not an object")
    if answer.get("success") is False:
        last_page = state.get("last_page")
        if state["page_no"] > 1 and (last_page is None or state["page_no"] > last_page):
            return ListingPage(records=[])  # past the last page: the way many deployments end a list (anatomy 2.3)
        raise UnsupportedListing(f"jpaas gateway answered success=false: {answer.get('message') or ''}".strip())
    data = answer.get("data")
    fragment = data.get("html") if isinstance(data, dict) else None
    if not isinstance(fragment, str):
        raise UnsupportedListing("jpaas gateway answer holds no data.html")
    records, last_page = records_of(fragment, state["listing_url"])
    page_no = state["page_no"]
    first = records[0].url if records else None
    known = last_page if last_page is not None else state.get("last_page")
    if not records or first == state.get("previous_first"):  # past the end: empty, or the last page again
        if known is not None and page_no <= known:  # short of the pager's last page: not the end
            what = "empty" if not records else f"the rows of page {page_no - 1}"
            raise UnsupportedListing(f"jpaas gateway answered page {page_no} of {known} with {what}")
        return ListingPage(records=[])
    if last_page is not None and page_no >= last_page:
        return ListingPage(records=records)
    if page_no >= MAX_PAGES:  # not the end of the list, and not walked to it: said, not a complete walk
        raise UnsupportedListing(f"jpaas list runs past {MAX_PAGES} pages: not read to its end")
    next_request = unit_request(state["listing_url"], state["gateway"], state["query"], page_no + 1,
                                state["page_size"], previous_first=first, last_page=known)
    return ListingPage(records=records, next=next_request)
