"""What every platform shares: the listing types a parser returns, and the HTML helpers that read a list of
report rows out of a page (moved here unchanged from generic.py, which jpaas, trs and xxgk borrowed them from).

Platform modules import this module and never each other (see gongkai/crawler/platforms/__init__.py).
`parse_date` is moved as it was; it is one of the project's date parsers that disagree (to be replaced by a
shared one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.etree
import lxml.html
from lxml.html import HtmlElement

from gongkai.dates import parse_date
from gongkai.models import ListingRecord


@dataclass
class ListingRequest:
    """A further request needed to read the rest of a listing (a pagination step)."""

    url: str
    method: str = "GET"
    formdata: dict[str, str] | None = None
    state: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] | None = None  # extra request headers (jpaas: Referer, X-Requested-With)


@dataclass
class ListingPage:
    records: list[ListingRecord]
    next: ListingRequest | None = None
    total: int | None = None


_COLUMN = re.compile(r"/col/col(\d+)/")


def column_in_url(url: str) -> str | None:
    """The column id a Hanweb URL names (/col/col<id>/…), if it names one."""
    found = _COLUMN.search(urlsplit(url).path)
    return found.group(1) if found else None


class UnsupportedListing(Exception):
    """The page is not a listing of any platform we know; the message says what was looked for."""


# -- HTML helpers -------------------------------------------------------------------------------------

MIN_TITLE = 5  # characters; nav links (首页, 政务公开, 走进仙居) are shorter than any report title

_DATE = re.compile(r"(?<!\d)(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})(?!\d)")
_NEXT = re.compile(r"^[\s<>《》«»‹›\[\]【】()（）]*下一?页[\s<>《》«»‹›\[\]【】()（）>]*$")
_SKIP_HREF = ("javascript:", "#", "mailto:", "tel:")


@dataclass
class FoundList:
    """The list element chosen as the listing, and its rows' records."""

    element: HtmlElement
    records: list[ListingRecord]
    dated: int
    preferred: int


def parse_html(html: str) -> HtmlElement:
    """Parse a page or a fragment (an XML declaration would make lxml refuse a str)."""
    html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html)
    if not html.strip():
        return lxml.html.fromstring("<div></div>")
    try:
        return lxml.html.fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return lxml.html.fromstring("<div></div>")


def base_url(root: HtmlElement, url: str) -> str:
    for href in root.xpath("//base/@href"):
        if href.strip():
            return urljoin(url, href.strip())
    return url


def _clean(text: str) -> str:
    return " ".join(text.split())


def attribute_text(value: str) -> str:
    """An attribute's text, whitespace collapsed; some templates put markup into title= (anatomy 1.6)."""
    text = _clean(value)
    if "<" in text:
        try:
            text = _clean(lxml.html.fragment_fromstring(text, create_parent="div").text_content())
        except (lxml.etree.ParserError, ValueError, AssertionError):  # <html>, <!DOCTYPE …> in title=
            text = _clean(re.sub(r"<[^<>]*>", " ", text))
    return text


def link_title(link: HtmlElement) -> str:
    """The title= attribute (whole where the shown text is cut with …), else the shown text."""
    title = attribute_text(link.get("title") or "")
    if not title:
        title = _clean(_DATE.sub("", link.text_content())).strip(" []【】")
    return title


def usable_href(link: HtmlElement) -> str | None:
    href = (link.get("href") or "").strip()
    if not href or href.lower().startswith(_SKIP_HREF):
        return None
    return href


def is_next_link(link: HtmlElement) -> bool:
    text = _clean(link.text_content()) or _clean(link.get("title") or "")
    if not text:
        text = " ".join(_clean(img.get("alt") or "") for img in link.iter("img"))
    return bool(_NEXT.match(text))


def row_record(row: HtmlElement, base: str, prefer: re.Pattern[str] | None = None) -> ListingRecord | None:
    """The report a row lists: its best link (a preferred URL shape, else the longest title) and date."""
    best: tuple[int, int, HtmlElement, str, str] | None = None
    for link in row.iter("a"):
        href = usable_href(link)
        if href is None or is_next_link(link):
            continue
        title = link_title(link)
        if len(title) < MIN_TITLE:
            continue
        url = urldefrag(urljoin(base, href))[0]
        rank = (1 if prefer is not None and prefer.search(url) else 0, len(title))
        if best is None or rank > best[:2]:
            best = (*rank, link, url, title)
    if best is None:
        return None
    return ListingRecord(url=best[3], title=best[4], date=parse_date(row.text_content()))


def _rows(container: HtmlElement) -> list[HtmlElement]:
    tag = container.tag
    if tag in ("ul", "ol"):
        return container.xpath("./li")
    if tag == "table":
        return container.xpath("./tr|./tbody/tr|./thead/tr|./tfoot/tr")
    if tag == "dl":
        return container.xpath("./dd|./dt")
    return []


def find_list(root: HtmlElement, base: str, prefer: re.Pattern[str] | None = None) -> FoundList | None:
    """The list element that looks most like a column of reports.

    Ranked by rows that are dated and link a `prefer`red URL shape, then dated rows, then preferred
    rows, then rows: sidebars of 热点 links carry no dates, nav bars no titles.
    """
    best: FoundList | None = None
    best_key: tuple[int, int, int, int] = (0, 0, 0, 0)
    for container in root.iter("ul", "ol", "table", "dl"):
        records: list[ListingRecord] = []
        seen: set[str] = set()
        for row in _rows(container):
            record = row_record(row, base, prefer)
            if record is not None and record.url not in seen:
                seen.add(record.url)
                records.append(record)
        if not records:
            continue
        dated = sum(1 for r in records if r.date)
        preferred = sum(1 for r in records if prefer is not None and prefer.search(r.url))
        both = sum(1 for r in records if r.date and prefer is not None and prefer.search(r.url))
        key = (both, dated, preferred, len(records))
        if key > best_key:
            best, best_key = FoundList(container, records, dated, preferred), key
    return best
