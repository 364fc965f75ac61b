"""What the spider yields. The staging pipeline turns each into rows; nothing else writes crawl data."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ListedArticle:
    """A listing showed this article: the frontier learns of it (or sees it again)."""

    url: str
    site: str
    column_url: str
    title: str
    date: str | None
    # Another URL of an article stored or fetched by this crawl (platforms.article_key: the article under a
    # second column): not fetched; the frontier keeps it as an 'alias', ingest adds it to the report's URLs.
    alias: bool = False


@dataclass
class ListedArticles:
    """What one listing page showed, as one item: an item per record sent every record on its own trip
    through Scrapy's spider-middleware chain and the item pipeline (~8 % of a crawl's CPU)."""

    articles: list[ListedArticle]


@dataclass
class LinkedFiles:
    """The report files a fetched article links (spiders.listing.document_links): recorded 'pending' in the
    frontier with the article's fetch, or before it, never after. A crawl that dies once the article is
    staged and before its files are would otherwise leave them nowhere: the article is known, so no later
    crawl fetches it again to find them; as 'pending' rows the next crawl fetches them (as files)."""

    site: str
    urls: list[str]


@dataclass
class FetchedPage:
    """A raw article response, exactly as received (any status the spider accepts: 200, 404, 410...)."""

    url: str
    final_url: str
    site: str
    column_url: str | None
    listing_title: str | None
    listing_date: str | None
    status: int
    headers: dict[str, list[str]]
    body: bytes
    fetched_at: float


@dataclass
class Revalidated:
    """A conditional request answered 304: the stored page is still current; nothing to stage."""

    url: str
    site: str


@dataclass
class FetchFailed:
    """An article that could not be fetched in this crawl; the next crawl tries it again."""

    url: str
    site: str
    reason: str
    status: int | None = None
    blocked: bool = False  # robots.txt forbids it: recorded, never retried against the rules


@dataclass
class ListingProblem:
    """A listing URL that could not be read: unreachable, not a listing we know, or failing pages."""

    column_url: str
    reason: str
    fatal: bool = True
    details: dict = field(default_factory=dict)


def db_text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; a listing title with one is kept with U+FFFD, as HTML parsers do."""
    return value.replace("\x00", "\ufffd") if value else value
