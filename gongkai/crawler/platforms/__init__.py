"""Portal platforms. Each module parses one platform's listings and knows its pagination.

A platform module provides:
- `NAME`: its name in config and in the database;
- `detect(html) -> bool`: does this listing page belong to the platform;
- `parse_listing_page(html, url) -> ListingPage`: records of the first page and the next request;
- `parse_continuation(body, url, state) -> ListingPage`: records of a later page and the one after it.
Parsers are pure: text in, data out. The spider does the fetching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

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


def detect_platform(html: str) -> ModuleType:
    for module in all_platforms():
        if module.detect(html):
            return module
    looked_for = "; ".join(f"{m.NAME}: {m.DETECT_HINT}" for m in all_platforms())
    raise UnsupportedListing(f"not a listing page of a known platform (looked for {looked_for})")
