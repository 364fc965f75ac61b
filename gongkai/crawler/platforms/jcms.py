"""Hanweb jcms column listings: the embedded <datastore> and POST /module/jpage/dataproxy.jsp paging.

The column page embeds the first group of rows (perPage x groupSize, typically 45) as CDATA records in
`<script type="text/xml"><datastore>`, and a jpage config (totalRecord, perPage, groupSize, proxyUrl,
ajaxParam). Later rows come from POSTing the ajaxParam form to the proxy with a record window in the
query string. Everything here is read from the page itself; key order and quoting vary by site.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urljoin, urlsplit

import lxml.html

from gongkai.crawler.platforms.common import ListingPage, ListingRequest, UnsupportedListing, column_in_url
from gongkai.dates import parse_date
from gongkai.models import ListingRecord

NAME = "jcms"
DETECT_ORDER = 10
DETECT_HINT = "a <datastore> of <record>s or a jpage({...}) config"

DEFAULT_PROXY = "/module/jpage/dataproxy.jsp"
FORM_FIELDS = ("col", "appid", "webid", "path", "columnid", "sourceContentType", "unitid", "webname",
               "permissiontype")
FORM_DEFAULTS = {"col": "1", "appid": "1", "path": "/", "sourceContentType": "1", "permissiontype": "0"}
# A listing that claims more rows than this is not a township column; stop rather than page forever.
MAX_RECORDS = 20000
MAX_PAGE_ROWS = 300  # a proxy paging by number cuts perpage above ~300 (anatomy 1.4)

_RECORD = re.compile(r"<record>\s*<!\[CDATA\[(.*?)\]\]>\s*</record>", re.S | re.I)
_NEXTGROUP = re.compile(r"<nextgroup>\s*<!\[CDATA\[(.*?)\]\]>\s*</nextgroup>", re.S | re.I)
_TOTALRECORD = re.compile(r"<totalrecord>\s*(\d{1,9})\s*</totalrecord>", re.I)  # 5,000 digits: no total
_DATE = re.compile(r"(\d{4})\s*-\s*(\d{1,2})\s*-\s*(\d{1,2})")
# What opens a list widget, right before its <datastore>: <div id="<unitid>"><script type="text/xml">
_WIDGET_HEAD = re.compile(r"""<div\b[^<>]{0,200}?\bid=['"]?([\w-]{1,40})['"]?[^<>]{0,200}>\s*"""
                          r"""<script\b[^<>]{0,100}text/xml[^<>]{0,100}>\s*$""", re.I)
_SCRIPT_BODY = re.compile(r"<script\b[^>]*>(.*?)</script>", re.S | re.I)
# An article: /art/<Y>/<M>/<D>/art_<column id>_<article id>.html. One article listed under two columns has two
# such URLs, the article id the same (portal-anatomy 1).
_ARTICLE = re.compile(r"/art_\d+_(\d+)\.html?$")
_MALFORMED_HOST = re.compile(r"^(https?://[^/]+?\.(?:cn|com|net|org|gov))(art/)", re.I)


def article_id(url: str) -> str | None:
    """The article id an art_<col>_<id>.html URL names, the same under every column that lists it."""
    match = _ARTICLE.search(urlsplit(url).path)
    return match.group(1) if match else None


@dataclass
class JpageConfig:
    """What the page's jpage call says about the listing."""

    total_record: int | None = None
    per_page: int = 15
    group_size: int = 3
    proxy_url: str = DEFAULT_PROXY
    ajax_param: dict[str, str] = field(default_factory=dict)

    @property
    def window(self) -> int:
        return max(1, self.per_page * self.group_size)


def datastore(text: str) -> str | None:
    """What the first <datastore>…</datastore> holds, found with str.find: a regex's lazy scan from every
    unclosed <datastore> of a hostile page to its end was quadratic."""
    lowered = text.lower()
    end = lowered.find("</datastore>")
    start = lowered.rfind("<datastore>", 0, end) if end >= 0 else -1
    return text[start + len("<datastore>"):end] if start >= 0 else None


def detect(html: str) -> bool:
    return datastore(html) is not None or ".jpage(" in html or re.search(r"var\s+param_\d+\s*=", html) is not None


def parse_records(fragment: str, base_url: str) -> list[ListingRecord]:
    """Rows of a <recordset>: each CDATA holds an <li> (or <tr>) with a link, a title and a date."""
    records = []
    for raw in _RECORD.findall(fragment):
        record = parse_record(raw, base_url)
        if record is not None:
            records.append(record)
    return records


def parse_record(raw: str, base_url: str) -> ListingRecord | None:
    """One row; None for decorative rows without a link."""
    if "<a" not in raw.lower():
        return None
    try:
        root = lxml.html.fragment_fromstring(raw, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return None
    link = next((a for a in root.iter("a") if (a.get("href") or "").strip()), None)
    if link is None:
        return None
    href = html_lib.unescape(link.get("href", "").strip())
    if href.lower().startswith(("javascript:", "#", "mailto:")):
        return None
    href = _MALFORMED_HOST.sub(r"\1/\2", href)
    try:
        url = urljoin(base_url, href)
        urlsplit(url).port  # noqa: B018 - raises on a port that is no number
    except ValueError:  # http://[broken/…: one bad row, not the whole listing
        return None
    title = _clean_title(link.get("title") or "")
    if not title:
        # Title and date may both sit inside the link (<span>T</span><i>date</i>): drop the date part.
        parts = [t for t in (el.text_content() for el in link.iter("span", "font", "em", "b")) if t.strip()]
        text = parts[0] if parts else link.text_content()
        title = _clean_title(_DATE.sub("", text).strip(" []【】"))
    # The record's dash-printed date (a title may hold other dates: 2023年1月5日会议), read by the one parser.
    match = _DATE.search(root.text_content())
    date = parse_date(match.group()) if match else None
    return ListingRecord(url=url, title=title, date=date)


def _clean_title(text: str) -> str:
    # Some templates put markup into title=; keep its text only.
    if "<" in text:
        text = lxml.html.fragment_fromstring(text, create_parent="div").text_content()
    return " ".join(text.split())


def _js_object_pairs(text: str) -> dict[str, str]:
    """Flat key:value pairs of a JS object literal, whatever the quoting and key order."""
    pairs = {}
    for match in re.finditer(r"['\"]?(\w+)['\"]?\s*:\s*(?:'([^']*)'|\"([^\"]*)\"|([^,{}\s]+))", text):
        key = match.group(1)
        value = next((g for g in match.groups()[1:] if g is not None), "")
        pairs.setdefault(key, value)
    return pairs


def parse_jpage_config(html: str, base_url: str) -> JpageConfig:
    """Read the pager config: jpage v3 `$('#u').jpage({...})` or the older `var param_<u> = {...}`."""
    config = JpageConfig()
    ajax_block = re.search(r"ajaxParam\s*:\s*\{(.*?)\}", html, re.S)
    param_block = re.search(r"var\s+param_\d+\s*=\s*\{(.*?)\}", html, re.S)
    if ajax_block:
        config.ajax_param = _js_object_pairs(ajax_block.group(1))
    elif param_block:
        config.ajax_param = _js_object_pairs(param_block.group(1))
    for name, attr in (("totalRecord", "total_record"), ("perPage", "per_page"), ("groupSize", "group_size")):
        match = re.search(rf"\b{name}\s*:\s*['\"]?(\d{{1,9}})(?!\d)", html)  # no 5,000-digit int()
        if match:
            setattr(config, attr, int(match.group(1)))
    proxy = re.search(r"proxyUrl\s*:\s*['\"]([^'\"]+)['\"]", html)
    if proxy:
        config.proxy_url = proxy.group(1)
    # Fill gaps from the nextgroup link and the list container, which carry the same ids.
    nextgroup = _NEXTGROUP.search(html)
    if nextgroup:
        href = re.search(r"href\s*=\s*['\"]([^'\"]+)['\"]", nextgroup.group(1))
        if href:
            query = dict(parse_qsl(urlsplit(html_lib.unescape(href.group(1))).query, keep_blank_values=True))
            for key in FORM_FIELDS:
                if key in query:
                    config.ajax_param.setdefault(key, query[key])
    if "unitid" not in config.ajax_param:
        unitid = _container_unitid(html)
        if unitid:
            config.ajax_param["unitid"] = unitid
    if "columnid" not in config.ajax_param:
        column = column_in_url(base_url)
        if column:
            config.ajax_param["columnid"] = column
    return config


_XML_SCRIPT = re.compile(r"<script\b[^<>]{0,300}?text/xml", re.I)
_CONTAINER_BEFORE = re.compile(r"<div\b[^<>]*\bid=['\"](\d+)['\"][^<>]*>\s*$", re.I)


def _container_unitid(html: str) -> str | None:
    """The unit id of the widget div right before the record list's <script type="text/xml">. Looked for
    back from each such script, a tag's length at most: one regex from every `<div` of the page to its
    end went quadratic (3 s on 40 KB of "<div ")."""
    for script in _XML_SCRIPT.finditer(html):
        before = html[max(0, script.start() - 2000):script.start()]
        container = _CONTAINER_BEFORE.search(before, max(0, before.rfind("<div")))
        if container:
            return container.group(1)
    return None


def pages_by_number(proxy_url: str) -> bool:
    """The /module/web/jpage proxy (Jiangsu, Jiangxi; anatomy 1.4) ignores startrecord and serves
    `page` N of `perpage` rows, so its windows are whole pages of one window each."""
    return "/module/web/" in proxy_url


def dataproxy_request(listing_url: str, config: JpageConfig, start: int) -> ListingRequest:
    """The POST a browser's jpage sends for the record window starting at `start` (1-based).

    On a proxy that pages by number the window is the page holding `start` (perpage = the window, so
    both readings of the request name the same rows; rows already read come again and are known)."""
    query = ""
    if pages_by_number(config.proxy_url):
        per_page = min(config.window, MAX_PAGE_ROWS)
        page = (start - 1) // per_page + 1
        start, end = (page - 1) * per_page + 1, page * per_page
        query = f"&page={page}"
    else:
        end = start + config.window - 1
        per_page = config.per_page
    if config.total_record is not None:
        end = min(end, config.total_record)
    url = urljoin(listing_url, config.proxy_url) + f"?startrecord={start}&endrecord={end}&perpage={per_page}{query}"
    form = {key: str(config.ajax_param.get(key, FORM_DEFAULTS.get(key, ""))) for key in FORM_FIELDS}
    state = {"listing_url": listing_url, "start": start, "end": end, "per_page": config.per_page,
             "group_size": config.group_size, "proxy_url": config.proxy_url, "ajax_param": dict(config.ajax_param),
             "total_record": config.total_record}
    return ListingRequest(url=url, method="POST", formdata=form, state=state)


def list_widget(html: str, url: str) -> str:
    """The column's own list where a page holds several jpage widgets (a 最新信息 or 热点 box beside it):
    the widget whose ids name the URL's column, else the one with the most rows; its datastore and
    jpage call only. A page with one widget is returned whole."""
    widgets = _widgets(html)
    if len(widgets) < 2:
        return html
    scripts = "\n".join(m.group(1) for m in _SCRIPT_BODY.finditer(html))

    def call_of(unit: str) -> str:
        """The unit's own statements (its var param_<unit> = {…} and its jpage({…}) call): one script may
        hold every widget's call, and another's totalRecord must not be read as this one's."""
        found = []
        param = re.search(rf"var\s+param_{re.escape(unit)}\s*=\s*(?=\{{)", scripts)
        if param:
            found.append(param.group(0) + _balanced(scripts, param.end()))
        call = re.search(rf"""#{re.escape(unit)}['"]\s*\)\s*\.jpage\s*\(\s*(?=\{{)""", scripts)
        if call:
            found.append(f"$('#{unit}').jpage(" + _balanced(scripts, call.end()) + ")")
        return ";\n".join(found)

    column = column_in_url(url)

    def rank(widget: tuple[str, str]) -> tuple[bool, int]:
        text = widget[1] + call_of(widget[0])
        own = column is not None and _own_column(column).search(text) is not None
        return own, len(_RECORD.findall(widget[1]))

    unit, text = max(widgets, key=rank)  # the first of equals
    return f"{text}\n<script type=\"text/javascript\">{call_of(unit)}</script>"


def _widgets(html: str) -> list[tuple[str, str]]:
    """(unit id, its div's opening and datastore) of every list widget: <div id="<unitid>"><script
    type="text/xml"><datastore>…</datastore>. Found from each <datastore> back to its div, not by a regex
    trying every <div (quadratic on a hostile page of unclosed tags)."""
    lowered, found, at = html.lower(), [], 0
    while (end := lowered.find("</datastore>", at)) >= 0:
        start = lowered.rfind("<datastore>", at, end)  # the one this closes (stray opens before it skipped)
        head = _WIDGET_HEAD.search(html[max(0, start - 400):start]) if start >= 0 else None
        if head:
            found.append((head.group(1), html[start - len(head.group(0)):end + len("</datastore>")]))
        at = end + len("</datastore>")
    return found


def _balanced(text: str, start: int) -> str:
    """The {…} literal opening at text[start], through its closing brace (quoted strings skipped)."""
    depth, quote, n = 0, "", start
    while n < len(text):
        char = text[n]
        if quote:
            if char == "\\":
                n += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start:n + 1]
        n += 1
    return text[start:]


def names_column(html: str, column: str) -> bool:
    """Whether one of the page's list widgets is this column's (the columnid of its datastore's nextgroup
    or of its jpage call; not the visit counter's i_columnid): see detect_platform."""
    own = _own_column(column)
    widgets = [text for _, text in _widgets(html)]
    calls = [m.group(1) for m in _SCRIPT_BODY.finditer(html) if ".jpage(" in m.group(1) or "param_" in m.group(1)]
    return any(own.search(text) for text in widgets + calls)


def _own_column(column: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w)columnid\W{{1,3}}{re.escape(column)}(?!\d)")


def parse_listing_page(html: str, url: str) -> ListingPage:
    """First page of a column: embedded records, and the dataproxy request for the next window."""
    if not detect(html):
        raise UnsupportedListing(f"not a jcms column listing: no {DETECT_HINT} found")
    html = list_widget(html, url)
    store = datastore(html)
    records = parse_records(store, url) if store is not None else []
    config = parse_jpage_config(html, url)
    missing = [key for key in ("webid", "columnid", "unitid") if not config.ajax_param.get(key)]
    total = config.total_record
    next_request = None
    if total is None or total > len(records):
        if missing:
            if total is not None and total > len(records):
                raise UnsupportedListing(
                    f"jcms listing says {total} records but its pager lacks {', '.join(missing)}: cannot page")
        else:  # the window after the rows embedded (a full first group, fewer, or none: from record 1)
            embedded = len(_RECORD.findall(store)) if store is not None else 0
            next_request = dataproxy_request(url, config, start=embedded + 1)
            if total is not None and next_request.state["start"] > total:
                next_request = None
    return ListingPage(records=records, next=next_request, total=total)


def parse_continuation(body: str, url: str, state: dict) -> ListingPage:
    """A dataproxy answer: its records, and the next window while the listing has more.

    Paging stops at the reported total, on an empty window, or at MAX_RECORDS, so a listing whose
    total keeps growing or whose proxy ignores the window cannot make us page forever.
    """
    store = datastore(body)
    if store is None:
        raise UnsupportedListing("dataproxy answer holds no <datastore>")
    records = parse_records(store, state["listing_url"])
    total_match = _TOTALRECORD.search(store)
    total = int(total_match.group(1)) if total_match else state.get("total_record")
    config = JpageConfig(total_record=total, per_page=state["per_page"], group_size=state["group_size"],
                         proxy_url=state["proxy_url"], ajax_param=state["ajax_param"])
    next_start = state["end"] + 1
    next_request = None
    if records and total is not None and next_start <= min(total, MAX_RECORDS):
        next_request = dataproxy_request(state["listing_url"], config, next_start)
    return ListingPage(records=records, next=next_request, total=total)
