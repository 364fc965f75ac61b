"""Hanweb 信息公开目录 (the xxgk module): rows come from POST /module/xxgk/search.jsp, a page at a time.

What this relies on (portal-anatomy 1.7 and 7.1; seen in public crawlers of hangzhou.gov.cn,
sthjt.zj.gov.cn, zjepb.gov.cn, jiangxi.gov.cn and harbin; reproduced by the replica, not verified
against a live site from here):

- The column page (`/col/col<id>/index.html`) draws the list by posting a form to
  `/module/xxgk/search.jsp`: `infotypeId` (the category: 计划总结 is H0100004 in Hangzhou, A0212,
  B001A011 or F0100001 elsewhere), `jdid`, `area` (a 9-digit org code, may be empty), `divid=div<id>`,
  the search box's `vc_title`, `vc_number`, `vc_filenumber`, `vc_all`, `texttype`, `fbtime`, and
  `sortfield`, `currpage`, `standardXxgk`, `isAllList`, `requestUrl`. The page carries them as the
  hidden fields of its 信息检索 form, or as a search.jsp URL or a JS object in a script; all three
  are read, the form first. Where a field has no value the server's default (empty) is sent.
- A search.jsp URL with those fields in its query string is a listing too: a GET of it answers page 1,
  so `gongkai crawl 'http://…/module/xxgk/search.jsp?infotypeId=…&divid=…'` works.
- The answer is an HTML table, rows `<tr class="tr_main_value_odd|even">` whose link carries the title
  (`title=` or `mc=`, the shown text may be cut with …), `gkfs="主动公开"` and the date (`rq=` or a cell),
  and a pager cell with 下一页 / 尾 页 and `共N页`. Past the last page the table is empty.
- search.jsp does not filter by column reliably: it answers the category for the whole area, other
  departments' and towns' rows included. Rows are kept when their link is `art_<id>_…` for this
  column (the id of the listing URL's `/col/col<id>/` or of `divid`); links of other shapes (a file)
  are kept too. A page may hold none of this column's rows and the walk goes on to `共N页`.
"""

from __future__ import annotations

import html as html_lib
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from lxml.html import HtmlElement

from gongkai.crawler.platforms.common import (
    ListingPage,
    ListingRequest,
    UnsupportedListing,
    attribute_text,
    column_in_url,
    parse_date,
    parse_html,
    row_record,
)
from gongkai.models import ListingRecord

NAME = "xxgk"
DETECT_ORDER = 30
DETECT_HINT = "a 信息公开目录 form or script posting to /module/xxgk/search.jsp, or its result table"

SEARCH_PATH = "/module/xxgk/search.jsp"
MAX_PAGES = 500
# The form fields a browser sends, in its order, with the values used where the page gives none.
FORM_DEFAULTS: dict[str, str] = {
    "infotypeId": "", "jdid": "", "area": "", "divid": "", "vc_title": "", "vc_number": "",
    "sortfield": ",createdatetime:0,orderid:0", "currpage": "1", "vc_filenumber": "", "vc_all": "",
    "texttype": "0", "fbtime": "-1",
}
IDENTITY = ("infotypeId", "jdid", "area", "divid")  # what says which list this is

_ROW_CLASS = re.compile(r"\btr_main_value_(?:odd|even)\b")
_PAGES = re.compile(r"共\s*(\d{1,6})\s*页")
_ART_COLUMN = re.compile(r"art_(\d+)_\d+\.s?html?", re.I)
# From the start of a run of URL characters only (the lookbehind): a 100 KB run of inline CSS or base64
# before the path made every start position rescan it (quadratic: 47 s on 112 KB).
_SEARCH_URL = re.compile(r"""(?<![^\s"'<>()])[^\s"'<>()]*/module/xxgk/search\.jsp\?[^\s"'<>()]*""", re.I)
_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.S | re.I)
_JS_OBJECT = re.compile(r"\{[^{}]*\}")  # an object literal holding no other: a $.ajax's data:{…}
_JS_LITERAL_PAIR = re.compile(r"""['"]?(\w+)['"]?\s*:\s*(?:'([^'\n]*)'|"([^"\n]*)"|(-?\d+(?:\.\d+)?)(?=\s*[,}]))""")
_QUERY_STRING = re.compile(r"""['"]([^'"<>]*\b(?:infotypeId|divid)=[^'"<>]*)['"]""")


def detect(html: str) -> bool:
    if _ROW_CLASS.search(html):
        return True
    try:
        found = search_form(html) if SEARCH_PATH in html else None
    except UnsupportedListing:  # a list whose ids the script computes: this platform's, said by the parser
        return True
    return found is not None and names_list(found[1])


def names_list(fields: dict[str, str]) -> bool:
    """Whether these fields say which list to search (a site's quick-search box does not)."""
    return any(str(fields.get(key) or "").strip() for key in IDENTITY)


def names_category(fields: dict[str, str]) -> bool:
    """Whether they name the list itself (infotypeId or divid), not only the site (jdid, area: a header
    search box carries those too)."""
    return any(str(fields.get(key) or "").strip() for key in ("infotypeId", "divid"))


def names_column(html: str, column: str) -> bool:
    """Whether the page's list is this column's (divid=div<column>): tells an xxgk column page with a
    jpage box beside its list from a jcms page (platforms.detect_platform)."""
    try:
        found = search_form(html) if SEARCH_PATH in html else None
    except UnsupportedListing:
        return False
    return found is not None and str(found[1].get("divid") or "").strip() == f"div{column}"


def literal_pairs(text: str) -> tuple[dict[str, str], set[str]]:
    """The key: value pairs of a JS object literal whose values are quoted strings or numbers, and the keys
    whose value is a variable or an expression (infotypeId: infotypeId, $('#x').val()): nothing a crawler
    can send."""
    pairs: dict[str, str] = {}
    for match in _JS_LITERAL_PAIR.finditer(text):
        pairs.setdefault(match.group(1), next(g for g in match.groups()[1:] if g is not None))
    computed = {key for key in re.findall(r"""['"]?(\w+)['"]?\s*:""", text) if key not in pairs}
    return pairs, computed


def _form_fields(form: HtmlElement) -> dict[str, str]:
    """The fields a browser would submit: named inputs (checked boxes only), selects, textareas."""
    fields: dict[str, str] = {}
    for element in form.iter("input", "select", "textarea"):
        name = element.get("name")
        if not name or name in fields:
            continue
        if element.tag == "select":
            options = element.xpath(".//option")
            chosen = next((o for o in options if o.get("selected") is not None), options[0] if options else None)
            fields[name] = (chosen.get("value") if chosen is not None and chosen.get("value") is not None
                            else (chosen.text_content().strip() if chosen is not None else ""))
        elif element.tag == "textarea":
            fields[name] = element.text_content()
        elif (element.get("type") or "").lower() in ("checkbox", "radio") and element.get("checked") is None:
            continue
        elif (element.get("type") or "").lower() not in ("submit", "button", "reset", "image"):
            fields[name] = element.get("value") or ""
    return fields


def search_form(html: str) -> tuple[str, dict[str, str]] | None:
    """(search.jsp URL as written, fields) of the list the page posts to search.jsp: from a form holding
    the list's hidden fields (whatever its action: a script may post it), a search.jsp URL naming the
    list, or the data object (or query string) of the script's call. Fields naming the list itself
    (infotypeId, divid) win over ones naming only the site (a header search box's jdid, area), and those
    over a search box naming nothing."""
    if SEARCH_PATH not in html:
        return None
    urls = [html_lib.unescape(m.group(0)) for m in _SEARCH_URL.finditer(html)]
    default_action = next((u for u in urls), SEARCH_PATH)
    found: list[tuple[str, dict[str, str]]] = []  # in the order above
    unnamed: tuple[str, dict[str, str]] | None = None
    scripted = ""  # ids a script object computes (a variable, $('#x').val()) instead of saying them
    for form in parse_html(html).iter("form"):
        fields = _form_fields(form)
        action = (form.get("action") or "").strip()
        if names_list(fields):
            found.append(((action if SEARCH_PATH in action else default_action), fields))
        elif SEARCH_PATH in action and unnamed is None:
            unnamed = action, fields
    for url in urls:
        fields = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        if names_list(fields):
            found.append((url, {k: v for k, v in fields.items() if k in FORM_DEFAULTS}))
    scripts = [m.group(1) for m in _SCRIPT.finditer(html)]
    for script in sorted(scripts, key=lambda text: SEARCH_PATH not in text):  # the one calling search.jsp first
        for literal in _JS_OBJECT.finditer(script):
            pairs, computed = literal_pairs(literal.group(0))
            fields = {k: v for k, v in pairs.items() if k != "currpage"}
            if computed & {"infotypeId", "divid"}:  # not this object's list: which one, the script decides
                scripted = scripted or ", ".join(sorted(computed & {"infotypeId", "divid"}))
                continue
            if names_list(fields):
                found.append((default_action, fields))
        for literal in _QUERY_STRING.finditer(script):  # data: "infotypeId=…&divid=…&currpage=" + page
            fields = dict(parse_qsl(literal.group(1).lstrip("?&"), keep_blank_values=True))
            if names_list(fields):
                found.append((default_action, {k: v for k, v in fields.items() if k != "currpage"}))
    named = next((f for f in found if names_category(f[1])), None)
    if named is None and scripted:
        raise UnsupportedListing(f"the xxgk list's {scripted} is computed by the page's script: give its "
                                 "search.jsp URL with infotypeId=…&divid=… as the listing")
    return named or (found[0] if found else unnamed)


def column_ids(listing_url: str, fields: dict[str, str]) -> frozenset[str]:
    """The column ids this listing's article links carry (art_<id>_…): the URL's col<id> and divid's."""
    ids = {column} if (column := column_in_url(listing_url)) else set()
    divid = re.fullmatch(r"div(\d+)", str(fields.get("divid") or "").strip())
    if divid:
        ids.add(divid.group(1))
    return frozenset(ids)


def search_request(listing_url: str, action: str, fields: dict[str, str], page_no: int,
                   columns: frozenset[str], walk: dict | None = None) -> ListingRequest:
    """The POST a browser sends for page `page_no` (1-based); currpage in the form, not the query.
    `walk`: what the pages read so far showed (their first row, 共N页, rows seen and kept)."""
    parts = urlsplit(urljoin(listing_url, action))
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in fields and k != "currpage"]
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    in_query = {k for k, _ in query}  # the servlet reads a field from the query string first: say it once
    form = {**{k: v for k, v in FORM_DEFAULTS.items() if k not in in_query}, **fields, "currpage": str(page_no)}
    headers = {"Referer": listing_url, "X-Requested-With": "XMLHttpRequest"}
    state = {"listing_url": listing_url, "action": action, "fields": fields, "page_no": page_no,
             "columns": sorted(columns), **(walk or {})}
    return ListingRequest(url=url, method="POST", formdata=form, state=state, headers=headers)


def result_rows(root: HtmlElement, base: str) -> list[ListingRecord]:
    """Every row of a search.jsp answer (all columns): link, full title, date."""
    records = []
    for row in root.xpath("//tr[contains(@class, 'tr_main_value_')]"):
        if not _ROW_CLASS.search(row.get("class") or ""):
            continue
        record = row_record(row, base)
        if record is None:
            continue
        link = next((a for a in row.iter("a") if urljoin(base, (a.get("href") or "").strip()) == record.url), None)
        if link is not None:
            title = attribute_text(link.get("title") or "") or attribute_text(link.get("mc") or "")
            date = parse_date(link.get("rq") or "")
            record = ListingRecord(url=record.url, title=title or record.title, date=date or record.date)
        records.append(record)
    return records


def page_count(root: HtmlElement) -> int | None:
    """共N页 of the pager, if the answer has one."""
    found = _PAGES.search(" ".join(root.text_content().split()))
    return int(found.group(1)) if found else None


def in_column(record: ListingRecord, columns: frozenset[str] | set[str]) -> bool:
    found = _ART_COLUMN.search(record.url)
    return not columns or found is None or found.group(1) in columns


def _page(html: str, state: dict) -> ListingPage:
    """One search.jsp answer. Anything but a result table, or a page short of 共N页 coming back empty or
    repeated, is an error: ending the walk there would count the column as completely walked, and a
    --full crawl would delist every row not yet seen."""
    listing_url, page_no = state["listing_url"], state["page_no"]
    columns = frozenset(state["columns"])
    root = parse_html(html)
    rows = result_rows(root, listing_url)
    pages = page_count(root)
    if not rows and pages is None and not root.xpath("//tr[contains(@class, 'tr_main_title')]"):
        raise UnsupportedListing(f"search.jsp answered page {page_no} without a result table")
    known = pages if pages is not None else state.get("pages")
    seen, kept = state.get("seen", 0), state.get("kept", 0)
    others: dict[str, int] = dict(state.get("others", {}))
    first = rows[0].url if rows else None
    if not rows or first == state.get("previous_first"):
        if known is not None and page_no <= known:
            what = "empty" if not rows else "the same rows as page " + str(page_no - 1)
            raise UnsupportedListing(f"search.jsp answered page {page_no} of {known} with {what}")
        _check_kept(seen, kept, columns, others)
        return ListingPage(records=[])  # past the last page
    records = [r for r in rows if in_column(r, columns)]
    for row in rows:
        found = _ART_COLUMN.search(row.url)
        if found and not in_column(row, columns) and (found.group(1) in others or len(others) < 5):
            others[found.group(1)] = others.get(found.group(1), 0) + 1
    seen, kept = seen + len(rows), kept + len(records)
    if pages is not None and page_no >= pages or pages is None and not rows:
        _check_kept(seen, kept, columns, others)
        return ListingPage(records=records)
    if page_no >= MAX_PAGES:
        raise UnsupportedListing(f"search.jsp lists more than {MAX_PAGES} pages: not read to its end")
    walk = {"previous_first": first, "pages": known, "seen": seen, "kept": kept, "others": others}
    next_request = search_request(listing_url, state["action"], state["fields"], page_no + 1, columns, walk)
    return ListingPage(records=records, next=next_request)


def _check_kept(seen: int, kept: int, columns: frozenset[str], others: dict[str, int]) -> None:
    """A walk that kept none of the rows it saw names the wrong column ids, or a portal whose links do not
    carry the column: said loudly, not a column silently empty."""
    if seen and not kept and columns:
        ids = "/".join(sorted(columns))
        found = ", ".join(f"{col} ({n})" for col, n in sorted(others.items(), key=lambda item: -item[1]))
        raise UnsupportedListing(f"none of the {seen} rows search.jsp listed link this column (art_{ids}_…); "
                                 f"they link columns {found or 'of no art_ form'}")


def parse_listing_page(html: str, url: str) -> ListingPage:
    """A column page (its form, no rows yet: the request for page 1), or a search.jsp answer fetched
    by GET from a URL naming the list (its rows, and the POST for page 2)."""
    if SEARCH_PATH in urlsplit(url).path:
        fields = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        if not names_list(fields):
            raise UnsupportedListing(f"an xxgk search.jsp URL names no list: give one of {', '.join(IDENTITY)}")
        if fields.pop("currpage", "1").strip() not in ("", "1"):  # a walk from page 4 would count as complete
            return ListingPage(records=[], next=search_request(url, SEARCH_PATH, fields, 1, column_ids(url, fields)))
        state = {"listing_url": url, "action": SEARCH_PATH, "fields": fields, "page_no": 1,
                 "columns": sorted(column_ids(url, fields))}
        return _page(html, state)
    found = search_form(html)
    if found is None:
        raise UnsupportedListing(f"not an xxgk column page: no {DETECT_HINT} found")
    action, fields = found
    fields = {k: v for k, v in fields.items() if k != "currpage"}
    if not names_list(fields):
        raise UnsupportedListing(f"the xxgk search form names no list: none of {', '.join(IDENTITY)} has a value")
    return ListingPage(records=[], next=search_request(url, action, fields, 1, column_ids(url, fields)))


def parse_continuation(body: str, url: str, state: dict) -> ListingPage:
    """A search.jsp answer: this column's rows and the next page's request, none after the last page."""
    return _page(body, state)
