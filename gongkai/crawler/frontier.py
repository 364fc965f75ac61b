"""The frontier: the crawl_urls table, one row per article or file URL a crawl has listed or fetched, and
per report file a fetched article links (column-less, 'pending' until its own fetch: record_linked_files).

A URL's state: pending (listed, not fetched yet), fetched, failed (retried by the next crawl), gone
(404/410), blocked (robots.txt), or alias (another URL of an article stored or fetched under one of its
URLs: not fetched; ingest adds it to the report's URLs). `article_key` (platforms.article_key) is the
article a URL shows, where its platform names articles in their URLs: how ingest finds an alias's report.

This module is the only writer of crawl_urls. The crawl records what it listed and fetched here (from
the staging pipeline) and marks what a complete listing walk no longer shows; ingest records what it
made of a fetch (`set_states`). Readers ask through the functions below too.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from gongkai.crawler.items import (
    FetchedPage,
    FetchFailed,
    LinkedFiles,
    ListedArticle,
    ListedArticles,
    db_text,
)
from gongkai.crawler.platforms import article_key
from gongkai.urls import wire_url

logger = logging.getLogger(__name__)


def record_listed(cur: psycopg.Cursor, item: ListedArticle) -> None:
    """A listing page showed this article (again): listed now, not delisted.

    An alias (another URL of an article stored or being fetched: ListedArticle.alias) is 'alias', not
    fetched while its article's other URL is, nor retried; a URL not fetched yet (pending, failed) becomes
    one. An alias the crawl does fetch (its article's other URL gone) takes the fetch's state."""
    cur.execute(
        """INSERT INTO crawl_urls (url, site, column_url, listing_title, listing_date, state, article_key)
           VALUES (%s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (url) DO UPDATE SET last_listed_at = now(), delisted_at = NULL,
               listing_title = EXCLUDED.listing_title, listing_date = EXCLUDED.listing_date,
               article_key = EXCLUDED.article_key,
               state = CASE WHEN EXCLUDED.state = 'alias' AND crawl_urls.state IN ('pending', 'failed') THEN 'alias'
                            ELSE crawl_urls.state END""",
        (item.url, item.site, item.column_url, db_text(item.title), item.date, "alias" if item.alias else "pending",
         article_key(item.url)),
    )


def record_linked_files(cur: psycopg.Cursor, item: LinkedFiles) -> None:
    """An article fetched in this crawl links these report files: 'pending' (column-less, as every file's
    row is) until their own fetch is recorded. A URL the frontier has already keeps its row as it is."""
    cur.executemany(
        """INSERT INTO crawl_urls (url, site, state, article_key) VALUES (%s, %s, 'pending', %s)
           ON CONFLICT (url) DO NOTHING""",
        [(url, item.site, article_key(url)) for url in item.urls],
    )


def record_fetched(cur: psycopg.Cursor, item: FetchedPage, fetched_at: dt.datetime) -> None:
    """A page was fetched (and staged): 'fetched', or 'gone' on 404/410; its validators kept for revalidation."""
    state = "gone" if item.status in (404, 410) else "fetched"
    cur.execute(
        """INSERT INTO crawl_urls (url, site, column_url, listing_title, listing_date, state, attempts,
               last_status, last_fetched_at, etag, last_modified, article_key)
           VALUES (%s, %s, %s, %s, %s, %s, 1, %s, %s, %s, %s, %s)
           ON CONFLICT (url) DO UPDATE SET state = EXCLUDED.state, attempts = crawl_urls.attempts + 1,
               last_status = EXCLUDED.last_status, last_error = NULL, last_fetched_at = EXCLUDED.last_fetched_at,
               etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified, article_key = EXCLUDED.article_key""",
        (item.url, item.site, item.column_url, db_text(item.listing_title), item.listing_date, state,
         item.status, fetched_at, _header(item.headers, "ETag"), _header(item.headers, "Last-Modified"),
         article_key(item.url)),
    )


def record_failed(cur: psycopg.Cursor, item: FetchFailed) -> None:
    """A fetch failed ('failed': the next crawl tries again) or robots.txt forbade it ('blocked')."""
    state = "blocked" if item.blocked else "failed"
    cur.execute(
        """INSERT INTO crawl_urls (url, site, state, attempts, last_status, last_error)
           VALUES (%s, %s, %s, 1, %s, %s)
           ON CONFLICT (url) DO UPDATE SET state = EXCLUDED.state, attempts = crawl_urls.attempts + 1,
               last_status = EXCLUDED.last_status, last_error = EXCLUDED.last_error""",
        (item.url, item.site, state, item.status, db_text(item.reason[:500])),
    )


def record_not_modified(cur: psycopg.Cursor, url: str) -> None:
    """A conditional request answered 304."""
    cur.execute("UPDATE crawl_urls SET last_fetched_at = now(), attempts = attempts + 1 WHERE url = %s", (url,))


# A URL holding any character a URI cannot (a space, a quote mark, a NUL read as U+FFFD, Chinese): perhaps not in
# its wire form. The few rows it finds are checked in Python (gongkai.urls.wire_url).
# So may a URL in a form wire_url now normalizes: a fragment, an escape in lower case or of an unreserved
# character, a `.`/`..` segment, a default port.
_MAY_NEED_ENCODING = (r"[^][A-Za-z0-9:/?#@!$&'()*+,;=._~%-]|#|%[0-9A-F]?[a-f]|%(2[DdEe]|3[0-9]|[46][1-9A-Fa-f]"
                      r"|[57][0-9Aa]|5[Ff]|7[Ee])|/\.\.?(/|$|\?)|:(80|443)/")


def settle_url_forms(conn: psycopg.Connection, sites: Sequence[str]) -> int:
    """Rows the sites' listings recorded under a URL not in its wire form (before every stage keyed by
    `wire_url`): merged into the wire form's row, where the fetch was recorded (or renamed to it). Left as
    they were, such a row stayed 'pending' forever and every routine crawl fetched its page again. How many."""
    rows = conn.execute("SELECT url FROM crawl_urls WHERE site = ANY(%s) AND url ~ %s",
                        (list(sites), _MAY_NEED_ENCODING)).fetchall()
    settled = 0
    for (url,) in rows:
        wire = wire_url(url)
        if wire == url:
            continue
        with conn.transaction():
            merged = conn.execute(
                """UPDATE crawl_urls w SET last_listed_at = GREATEST(w.last_listed_at, r.last_listed_at),
                       listing_title = COALESCE(w.listing_title, r.listing_title),
                       listing_date = COALESCE(w.listing_date, r.listing_date),
                       column_url = COALESCE(w.column_url, r.column_url),
                       delisted_at = CASE WHEN r.delisted_at IS NULL THEN NULL ELSE w.delisted_at END
                   FROM crawl_urls r WHERE w.url = %s AND r.url = %s""", (wire, url)).rowcount
            if merged:
                conn.execute("DELETE FROM crawl_urls WHERE url = %s", (url,))
            else:
                conn.execute("UPDATE crawl_urls SET url = %s WHERE url = %s", (wire, url))
        settled += 1
    if settled:
        logger.info("%d frontier URLs settled into the form they are requested in", settled)
    return settled


def mark_delisted(conn: psycopg.Connection, run_id: int, complete_columns: Sequence[str]) -> list[str]:
    """Articles a complete walk of their listing (in crawl run `run_id`) no longer shows: delisted now.

    Returns their URLs: withdrawing their reports is the caller's (gongkai.ingest.store.withdraw_reports_of).
    Only crawl_urls rows are locked here, never the feed lock, so it cannot deadlock with an ingest batch.
    """
    if not complete_columns:
        return []
    with conn.transaction():
        delisted = [row[0] for row in conn.execute(
            """UPDATE crawl_urls SET delisted_at = now()
               WHERE column_url = ANY(%s) AND delisted_at IS NULL
                 AND last_listed_at < (SELECT started_at FROM crawl_runs WHERE id = %s) RETURNING url""",
            (list(complete_columns), run_id)).fetchall()]
    if delisted:
        logger.info("%d articles vanished from their listings", len(delisted))
    return delisted


def in_lock_order(items: Sequence[Any]) -> list[Any]:
    """A batch of crawl items in the order its crawl_urls rows are to be written: by URL (a listing's
    articles one by one), the items of one URL in their original order. Every writer locking rows in
    one order is what keeps two crawl workers' batches from deadlocking (one staging a fetched page while
    the other records the listing that shows it)."""
    keyed: list[tuple[str, int, Any]] = []
    for n, item in enumerate(items):
        if isinstance(item, ListedArticles):
            keyed.extend((article.url, n, ListedArticles([article])) for article in item.articles)
        elif isinstance(item, LinkedFiles):
            keyed.extend((url, n, LinkedFiles(item.site, [url])) for url in item.urls)
        else:
            keyed.append((getattr(item, "url", ""), n, item))
    return [item for _, _, item in sorted(keyed, key=lambda k: (k[0], k[1]))]


def set_states(cur: psycopg.Cursor, rows: Sequence[tuple[str, str | None, str, int]]) -> None:
    """Ingest's verdict on fetches: rows of (state, last_error, url, staged page id), each applied only if
    that page is the URL's latest fetch (a later one, in the same batch or staged since, has set its state).
    In URL order, as every writer of crawl_urls locks its rows (see in_lock_order)."""
    rows = sorted(rows, key=lambda row: row[2])
    cur.executemany(
        """UPDATE crawl_urls c SET state = %s, last_error = %s WHERE url = %s
           AND NOT EXISTS (SELECT 1 FROM staged_pages s WHERE s.url = c.url AND s.id > %s)""", rows)


# -- reading ----------------------------------------------------------------------------------------------

def retry_rows(conn: psycopg.Connection, sites: list[str]) -> list[dict[str, Any]]:
    """The sites' articles and report files whose fetch failed or never happened: fetched again by this
    crawl. A file's row has no column_url (the spider requests it as a file: ListingSpider.seed_request)."""
    return [
        {"url": url, "site": site, "column_url": column_url, "title": title,
         "date": date.isoformat() if date else None}
        for url, site, column_url, title, date in conn.execute(
            """SELECT url, site, column_url, listing_title, listing_date FROM crawl_urls
               WHERE site = ANY(%s) AND state IN ('failed', 'pending') ORDER BY url""", (sites,))
    ]


def known_urls(conn: psycopg.Connection, sites: list[str], stream: bool = False) -> Iterator[str]:
    """The sites' URLs a routine crawl does not fetch again (fetched, gone, blocked). `stream`: a server-side
    cursor, for a frontier too large to hold as rows."""
    query = "SELECT url FROM crawl_urls WHERE site = ANY(%s) AND state IN ('fetched', 'gone', 'blocked')"
    rows = conn.cursor().stream(query, (sites,)) if stream else conn.execute(query, (sites,))
    return (row[0] for row in rows)


def known_entries(conn: psycopg.Connection, sites: list[str], stream: bool = False) -> Iterator[str]:
    """What a routine crawl of the sites does not fetch again: known_urls, and the article identity
    (platforms.article_key) of every fetched one, so another URL of a stored article (the article under
    a second column) is an alias, not a fetch. Only a fetched URL stands for its article: where it is
    gone or blocked, another URL of the article is fetched when listed (a retry would be of that one)."""
    query = ("SELECT url, state = 'fetched' FROM crawl_urls"
             " WHERE site = ANY(%s) AND state IN ('fetched', 'gone', 'blocked')")
    rows = conn.cursor().stream(query, (sites,)) if stream else conn.execute(query, (sites,))
    for url, fetched in rows:
        yield url
        key = article_key(url) if fetched else None
        if key is not None:
            yield key


def revalidate_rows(conn: psycopg.Connection, sites: list[str]) -> list[dict[str, Any]]:
    """The sites' fetched articles with their validators, for conditional requests."""
    return [
        {"url": url, "site": site, "column_url": column_url, "etag": etag, "last_modified": last_modified}
        for url, site, column_url, etag, last_modified in conn.execute(
            """SELECT url, site, column_url, etag, last_modified FROM crawl_urls
               WHERE site = ANY(%s) AND state = 'fetched' ORDER BY url""", (sites,))
    ]

def _header(headers: dict[str, list[str]], name: str) -> str | None:
    for key, values in headers.items():
        if key.lower() == name.lower() and values:
            return values[0]
    return None


def relabel_listings(conn: psycopg.Connection, listings: Sequence[str], site: str,
                     defaults: Sequence[str]) -> list[str]:
    """Articles of `listings` crawled before the listing was configured (filed under `defaults`, the host
    names a crawl of a bare URL uses): now `site`'s. Returns their URLs, for the other stages' rows."""
    # Their report files (fetched for an article, so listed under no column) come along.
    rows = conn.execute("UPDATE crawl_urls SET site = %s WHERE (column_url = ANY(%s) OR column_url IS NULL)"
                        " AND site = ANY(%s) RETURNING url", (site, list(listings), list(defaults))).fetchall()
    return sorted(url for (url,) in rows)
