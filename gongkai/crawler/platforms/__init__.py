"""Portal platforms. Each module parses one platform's listings and knows its pagination.

Every platform module is a `Platform` (the Protocol below; the module itself is the object, its
functions the methods): `NAME`, `DETECT_HINT`, `detect`, `names_column`, `parse_listing_page` and
`parse_continuation`. Parsers are pure: text in, data out. The spider does the fetching.

A platform whose article URLs carry an article id besides the column (jcms lists one article under two
columns as art_<colA>_<id> and art_<colB>_<id>) also has `article_id(url)`: `article_key` below makes it
the one identity the crawl (one fetch per article) and the store (one report per article) both use.

Platform modules import `common` (the listing types and the shared HTML helpers) and never one another:
whatever depends on more than one platform (the detection order, which platform a page belongs to when
several take it) is decided here.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from gongkai.crawler.platforms.common import (
    ListingPage,
    ListingRequest,
    UnsupportedListing,
    column_in_url,
)

__all__ = [
    "PLATFORMS", "ListingPage", "ListingRequest", "Platform", "UnsupportedListing", "all_platforms",
    "article_key", "column_in_url", "detect_platform", "platform_by_name",
]


logger = logging.getLogger(__name__)


@runtime_checkable
class Platform(Protocol):
    """What the spider, the detector and `gongkai sites` use of a platform."""

    NAME: str  # its name in config and in the database
    DETECT_HINT: str  # what detect() looks for, said when no platform takes a page
    DETECT_ORDER: int  # detection asks platforms in this order: the specific ones first, the generic list last

    def detect(self, html: str) -> bool:
        """Does this listing page belong to the platform. (The generic list takes any page with a list
        of reports in it, the specific platforms' too: detect_platform asks it last.)"""
        ...

    def names_column(self, html: str, column: str) -> bool | None:
        """Is the page's list the one of column `column` (the id of a /col/col<id>/ URL); None where the
        platform cannot tell. See detect_platform."""
        ...

    def parse_listing_page(self, html: str, url: str) -> ListingPage:
        """Records of the first page and the request for the next (UnsupportedListing: not this platform's)."""
        ...

    def parse_continuation(self, body: str, url: str, state: dict[str, Any]) -> ListingPage:
        """Records of a later page (the answer to a ListingRequest, `state` its state) and the one after it."""
        ...

    # Optional, so not declared here (a runtime_checkable Protocol would require it of every platform):
    # `article_id(url) -> str | None`, the article an article URL names, the same under every column (see
    # article_key below).


def _discover_platforms() -> tuple[Platform, ...]:
    """Every module of this package but `common` is a platform: adding one is adding its module (and its
    fixture folder), nothing here. Ordered by DETECT_ORDER."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name == "common" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if not isinstance(module, Platform):
            raise TypeError(f"{module.__name__} is not a Platform: it lacks part of the protocol")
        found.append(module)
    return tuple(sorted(found, key=lambda p: (p.DETECT_ORDER, p.NAME)))


PLATFORMS: tuple[Platform, ...] = _discover_platforms()


# The platforms that can name an article by its URL (the optional `article_id(url)`), as (NAME, article_id).
_ARTICLE_IDS: tuple[tuple[str, Callable[[str], str | None]], ...] = tuple(
    (p.NAME, p.article_id) for p in PLATFORMS if callable(getattr(p, "article_id", None)))  # type: ignore[attr-defined]


def article_key(url: str) -> str | None:
    """host/platform/article id: one article however many URLs (columns) list it; None where no platform
    reads an id from the URL. Asked of any URL, whatever its listing's platform: a jpaas column keeps
    legacy jcms article URLs (portal-anatomy 2). Stored as reports.article_key: its form must not change."""
    for name, article_id in _ARTICLE_IDS:
        found = article_id(url)
        if found:
            return f"{(urlsplit(url).hostname or '').lower()}/{name}/{found}"
    return None


def all_platforms() -> list[Platform]:
    """Every platform, in detection order: the specific ones first, the generic list last."""
    return list(PLATFORMS)


def platform_by_name(name: str) -> Platform:
    for platform in PLATFORMS:
        if platform.NAME == name:
            return platform
    raise KeyError(name)


def detect_platform(html: str, url: str = "") -> Platform:
    """The first platform (in all_platforms' order) whose detect() takes the page; so the generic list
    never gets a page a specific platform takes. Where `url` names a column (/col/col<id>/) and that
    platform says its list is not the column's (names_column False), a later platform taking the page
    that says its list is wins (an xxgk column page with a jpage 最新信息 box beside its list is xxgk's)."""
    platforms = all_platforms()
    platform = next((p for p in platforms if p.detect(html)), None)
    if platform is None:
        # One short line; what each platform looks for is said with -v (a 600-character line helped nobody).
        logger.info("no platform takes the page; looked for %s",
                    "; ".join(f"{p.NAME}: {p.DETECT_HINT}" for p in platforms))
        raise UnsupportedListing("not a column listing page of a platform gongkai knows "
                                 f"({', '.join(p.NAME for p in platforms)}; -v says what each looks for)")
    column = column_in_url(url)
    if column is None or platform.names_column(html, column) is not False:
        return platform
    for other in platforms[platforms.index(platform) + 1:]:
        if other.names_column(html, column) and other.detect(html):
            return other
    return platform
