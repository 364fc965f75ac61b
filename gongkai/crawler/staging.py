"""The staging table, staged_pages: every fetched response as it came, waiting for ingest.

This module is the only writer of staged_pages. The crawl appends fetches (from the staging pipeline);
ingest marks what it made of each (`mark_ingested`) and queues pages for extraction again (`requeue_*`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

import psycopg
from psycopg.types.json import Jsonb

from gongkai.crawler.items import FetchedPage, db_text


def fetched_at(item: FetchedPage) -> dt.datetime:
    """When the page was fetched, as staged_pages.fetched_at holds it."""
    return dt.datetime.fromtimestamp(item.fetched_at, tz=dt.UTC)


def stage_page(cur: psycopg.Cursor, item: FetchedPage, run_id: int | None) -> None:
    """Append one fetched response (its ingest_state starts 'pending')."""
    cur.execute(
        """INSERT INTO staged_pages (url, final_url, site, column_url, listing_title, listing_date, status,
               headers, body, body_sha256, fetched_at, crawl_run_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (item.url, item.final_url, item.site, item.column_url, db_text(item.listing_title), item.listing_date,
         item.status, Jsonb(item.headers), item.body, hashlib.sha256(item.body).digest(), fetched_at(item),
         run_id),
    )


def already_staged(cur: psycopg.Cursor, pages: Sequence[FetchedPage]) -> set[tuple[str, dt.datetime]]:
    """(url, fetched_at) of the pages that staged_pages already holds: that exact fetch."""
    if not pages:
        return set()
    rows = cur.execute(
        """SELECT s.url, s.fetched_at FROM unnest(%s::text[], %s::timestamptz[]) AS p(url, fetched_at)
           JOIN staged_pages s ON s.url = p.url AND s.fetched_at = p.fetched_at""",
        ([page.url for page in pages], [fetched_at(page) for page in pages])).fetchall()
    return {(url, when) for url, when in rows}


# -- ingest's side ------------------------------------------------------------------------------------------

def mark_ingested(cur: psycopg.Cursor, marks: Sequence[tuple[int, str, str, int | None]]) -> None:
    """Ingest's outcome per staged page: (id, ingest_state, ingest_note, report_id)."""
    cur.execute(
        """UPDATE staged_pages s SET ingest_state = m.state, ingest_note = m.note, report_id = m.report_id,
                  ingested_at = now()
           FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bigint[]) AS m(id, state, note, report_id)
           WHERE s.id = m.id""",
        [list(column) for column in zip(*marks, strict=True)],
    )


def requeue_articles_of_reports(cur: psycopg.Cursor, report_ids: Sequence[int], except_ids: Sequence[int]) -> None:
    """The latest 200 fetch of every URL of these reports goes back to 'pending' (its document was fetched),
    unless it is pending already or one of `except_ids` (the batch being ingested)."""
    cur.execute(
        """UPDATE staged_pages SET ingest_state = 'pending', ingest_note = 'reingest: its document was fetched'
           WHERE id IN (SELECT max(s.id) FROM staged_pages s JOIN report_urls u ON u.url = s.url
                        WHERE u.report_id = ANY(%s) AND s.status = 200 GROUP BY s.url)
             AND ingest_state <> 'pending' AND NOT (id = ANY(%s))""",
        (list(report_ids), list(except_ids)))


def requeue_latest(conn: psycopg.Connection, site: str | None = None) -> int:
    """The latest staged response of every URL (of one site) back to 'pending'; how many."""
    return conn.execute(
        """UPDATE staged_pages SET ingest_state = 'pending', ingest_note = 'reingest'
           WHERE id IN (SELECT max(id) FROM staged_pages WHERE (%(site)s::text IS NULL OR site = %(site)s)
                        GROUP BY url)""",
        {"site": site},
    ).rowcount


def relabel_pages(conn: psycopg.Connection, urls: Sequence[str], site: str, defaults: Sequence[str]) -> int:
    """Staged pages of those URLs filed under a default host name: now `site`'s (frontier.relabel_listings)."""
    return conn.execute("UPDATE staged_pages SET site = %s WHERE url = ANY(%s) AND site = ANY(%s)",
                        (site, list(urls), list(defaults))).rowcount
