"""Generic listings: article links in a <ul>/<ol>/<table>/<dl>, pagination by a 下一页 link.

The last resort for portals that are neither jcms, jpaas nor TRS (plain static sites, 国泰新点 lists,
hand-made county pages). The listing is the list element whose rows look most like a column of
reports: rows holding a link with a real title (nav bars hold 2-4 character links), a date per row
(sidebars of 热点 links have none). Relative links are resolved against <base href> or the page URL,
so `../../../content/post_123.html` lands where a browser would take it.

Its list-finding helpers (`find_list`, `row_record`, `parse_date`) live in common.py, shared with the TRS,
jpaas and xxgk parsers.
"""

from __future__ import annotations

from urllib.parse import urldefrag, urljoin

from lxml.html import HtmlElement

from gongkai.crawler.platforms.common import (
    FoundList,
    ListingPage,
    ListingRequest,
    UnsupportedListing,
    base_url,
    find_list,
    is_next_link,
    parse_html,
    usable_href,
)
from gongkai.models import ListingRecord

NAME = "generic"
DETECT_ORDER = 100  # the generic list takes any page with a list of reports: asked last
DETECT_HINT = ("a <ul>/<ol>/<table>/<dl> of at least 2 dated article links, or of 3 article links "
               "with a 下一页 link")

# A listing that goes on longer than this is not a township column (or the pager loops): stop.
MAX_PAGES = 500


def next_link(root: HtmlElement, base: str, visited: set[str]) -> str | None:
    """Where the page's 下一页 link goes, unless it goes nowhere new (the last page links to itself)."""
    for link in root.iter("a"):
        href = usable_href(link)
        if href is None or not is_next_link(link):
            continue
        url = urldefrag(urljoin(base, href))[0]
        if url not in visited:
            return url
    return None


def looks_like_listing(found: FoundList | None, has_next: bool) -> bool:
    if found is None:
        return False
    return found.dated >= 2 or (has_next and len(found.records) >= 3)


def detect(html: str) -> bool:
    """Whether the page holds a list of reports. Pages of the specific platforms may hold one too (a TRS
    index is a table of dated links): the registry asks them first and never gives generic what they take
    (gongkai.crawler.platforms.detect_platform)."""
    root = parse_html(html)
    found = find_list(root, "http://x/")
    return looks_like_listing(found, next_link(root, "http://x/", set()) is not None)


def names_column(html: str, column: str) -> bool | None:
    """Whose column a page's list is: a generic page does not say (None)."""
    return None


def _page(html: str, url: str, visited: list[str]) -> tuple[list[ListingRecord], str | None, bool]:
    root = parse_html(html)
    base = base_url(root, url)
    found = find_list(root, base)
    seen = {*visited, url, urldefrag(url)[0]}
    nxt = next_link(root, base, seen)
    return (found.records if found else []), nxt, looks_like_listing(found, nxt is not None)


def _request(nxt: str | None, visited: list[str]) -> ListingRequest | None:
    if nxt is None or len(visited) >= MAX_PAGES:
        return None
    return ListingRequest(url=nxt, state={"visited": visited})


def parse_listing_page(html: str, url: str) -> ListingPage:
    records, nxt, ok = _page(html, url, [])
    if not ok:
        raise UnsupportedListing(f"not a generic listing: no {DETECT_HINT} found")
    return ListingPage(records=records, next=_request(nxt, [url]))


def parse_continuation(body: str, url: str, state: dict) -> ListingPage:
    """A later page: its rows and its own 下一页 (a page with no list ends the listing)."""
    visited = list(state.get("visited", []))
    records, nxt, _ = _page(body, url, visited)
    visited.append(url)
    if not records:
        return ListingPage(records=[])
    return ListingPage(records=records, next=_request(nxt, visited))
