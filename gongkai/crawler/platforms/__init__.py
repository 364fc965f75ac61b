"""Portal platforms. Each module parses one platform's listings and knows its pagination.

A platform module provides:
- `NAME`: its name in config and in the database;
- `detect(html) -> bool`: does this listing page belong to the platform;
- `parse_listing_page(html, url) -> ListingPage`: records of the first page and the next request;
- `parse_continuation(body, url, state) -> ListingPage`: records of a later page and the one after it.
Parsers are pure: text in, data out. The spider does the fetching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

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


def all_platforms() -> list[ModuleType]:
    """Every platform, in detection order: the specific ones first, the generic list last."""
    from gongkai.crawler.platforms import generic, jcms, jpaas, trs, xxgk

    return [jcms, jpaas, xxgk, trs, generic]


def platform_by_name(name: str) -> ModuleType:
    for module in all_platforms():
        if module.NAME == name:
            return module
    raise KeyError(name)


def detect_platform(html: str, url: str = "") -> ModuleType:
    """The first platform (in all_platforms' order) whose detect() takes the page. Where `url` names a
    column (/col/col<id>/) and that platform's list is not the column's, a later platform taking the page
    whose list is wins (an xxgk column page with a jpage 最新信息 box beside its list is xxgk's);
    a platform says so with an optional `names_column(html, column_id)`."""
    platforms = all_platforms()
    module = next((m for m in platforms if m.detect(html)), None)
    if module is None:
        looked_for = "; ".join(f"{m.NAME}: {m.DETECT_HINT}" for m in platforms)
        raise UnsupportedListing(f"not a listing page of a known platform (looked for {looked_for})")
    column = column_in_url(url)
    if column is None or not hasattr(module, "names_column") or module.names_column(html, column):
        return module
    for other in platforms[platforms.index(module) + 1:]:
        if hasattr(other, "names_column") and other.detect(html) and other.names_column(html, column):
            return other
    return module
