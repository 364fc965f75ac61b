"""TRS WCM (拓尔思) static listings: index.html, index_1.html, … announced by createPageHTML.

TRS publishes a column as static pages in one directory: `index.html`, then `index_1.html`,
`index_2.html` … (0-based). The page's pager script says how many there are:

    var currentPage = 0;//所在页从0开始
    var countPage = 5//共多少页
    createPageHTML(countPage, currentPage, "index", "html");

(literals or variables; some templates pass a container id first and a 1-based index:
`createPageHTML('page_div', 5, 1, 'index', 'html', 68)`; the function's own definition on the page
is not a call). Rows link to articles relatively, `./202311/t20231107_123456.html`; TRS article URLs
end in `t<YYYYMMDD>_<id>.html`, which is how the listing is told from sidebars of other links.
Older TRS sites are GBK with the charset only in a <meta>; the parser works on decoded text.

The rows are the list the pager belongs to: the template draws the pager right after the column's list (or in
its last row), so the list element holding the pager call, else the one nearest before it, is the column's,
and an empty column is that list with no rows, never the 最新文件/热点 sidebar of other columns' links
elsewhere on the page.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from lxml.html import HtmlElement

from gongkai.crawler.platforms.common import (
    ListingPage,
    ListingRequest,
    UnsupportedListing,
    base_url,
    find_list,
    parse_html,
)
from gongkai.models import ListingRecord

NAME = "trs"
DETECT_ORDER = 40
DETECT_HINT = 'a createPageHTML(countPage, currentPage, "index", "html") pager call'

MAX_PAGES = 500
ARTICLE_URL = re.compile(r"/t\d{8}_\d+\.s?html?(?:$|\?)", re.I)
_CALL = re.compile(r"\bcreatePageHTML\s*\(([^()]*)\)")
_STRING = re.compile(r"""^\s*(['"])(.*)\1\s*$""")


def _calls(html: str) -> list[list[str]]:
    """Argument lists of every createPageHTML(...) call (its `function createPageHTML(...)` skipped)."""
    calls = []
    for match in _CALL.finditer(html):
        if re.search(r"function\s*$", html[max(0, match.start() - 30):match.start()]):
            continue
        calls.append([a.strip() for a in match.group(1).split(",")])
    return calls


def detect(html: str) -> bool:
    return bool(_calls(html))


def names_column(html: str, column: str) -> bool | None:
    """Whose column a page's list is: a trs page does not say (None)."""
    return None


def _resolve(arg: str, html: str) -> int | str | None:
    string = _STRING.match(arg)
    if string:
        return string.group(2)
    if re.fullmatch(r"\d+", arg):
        return int(arg)
    if re.fullmatch(r"[A-Za-z_$][\w$]*", arg):
        assigned = re.findall(rf"(?<![\w$.]){re.escape(arg)}\s*=\s*['\"]?(\d+)", html)
        if assigned:
            return int(assigned[-1])
    return None


def pager(html: str) -> dict | None:
    """{count, index (0-based), prefix, ext} from the page's createPageHTML call, or None."""
    for args in _calls(html):
        values = [_resolve(a, html) for a in args]
        container = bool(values) and isinstance(values[0], str)
        rest = values[1:] if container else values
        numbers = [v for v in rest[:2] if isinstance(v, int)]
        strings = [v for v in rest[2:] if isinstance(v, str)]
        if len(numbers) < 2:
            continue
        count, index = numbers
        if container:  # the container variant counts pages from 1
            index -= 1
        prefix = strings[0] if strings else "index"
        ext = strings[1] if len(strings) > 1 else "html"
        return {"count": count, "index": max(0, index), "prefix": prefix, "ext": ext}
    return None


def page_url(url: str, prefix: str, ext: str, index: int) -> str:
    """index.html for page 0, index_<n>.html after, in the directory of `url`."""
    name = f"{prefix}.{ext}" if index == 0 else f"{prefix}_{index}.{ext}"
    return urljoin(url, name)


_LISTS = ("ul", "ol", "table", "dl")


def pager_list(root: HtmlElement) -> HtmlElement | None:
    """The list element the pager call belongs to: the innermost list holding the call's <script> (a pager in
    the list's last row; its best inner list is then searched), else the last list that ends before the
    script. None when the page has no call or no list before it (then the whole page is searched)."""
    script = next((s for s in root.iter("script") if _calls(s.text or "")), None)
    if script is None:
        return None
    holding = next((a for a in script.iterancestors() if a.tag in _LISTS), None)
    if holding is not None:
        return holding
    order = {el: n for n, el in enumerate(root.iter())}
    before: tuple[HtmlElement, int] | None = None
    for container in root.iter(*_LISTS):
        tail = container
        while len(tail):  # its last descendant, in document order
            tail = tail[-1]
        if order[tail] < order[script] and (before is None or order[tail] > before[1]):
            before = (container, order[tail])
    return before[0] if before else None


def records_of(html: str, url: str) -> list[ListingRecord]:
    root = parse_html(html)
    scope = pager_list(root)
    found = find_list(scope if scope is not None else root, base_url(root, url), prefer=ARTICLE_URL)
    return found.records if found else []


def _next(url: str, state: dict) -> ListingRequest | None:
    index = state["index"] + 1
    if index >= min(state["count"], MAX_PAGES):
        return None
    next_state = {**state, "index": index}
    return ListingRequest(url=page_url(url, state["prefix"], state["ext"], index), state=next_state)


def parse_listing_page(html: str, url: str) -> ListingPage:
    found = pager(html)
    if found is None:
        raise UnsupportedListing(f"not a TRS listing: no {DETECT_HINT} found")
    state = {**found, "listing_url": url}
    return ListingPage(records=records_of(html, url), next=_next(url, state))


def parse_continuation(body: str, url: str, state: dict) -> ListingPage:
    """index_<n>.html: its rows; the page count is re-read (a column can grow while we walk it)."""
    records = records_of(body, url)
    found = pager(body)
    if found is not None:
        state = {**state, "count": found["count"]}
    if not records:
        return ListingPage(records=[])
    return ListingPage(records=records, next=_next(url, state))
