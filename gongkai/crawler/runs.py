"""Crawl runs: the crawl_runs table, one row per crawl (its listings, how it ended, its counts).

This module is the only writer of crawl_runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def unfinished_listings(conn: psycopg.Connection, urls: Sequence[str]) -> set[str]:
    """Listings crawled before whose last crawl did not end 'ok' (killed, database lost, pagination failed)."""
    return {row[0] for row in conn.execute(
        """SELECT u FROM unnest(%s::text[]) AS u
           WHERE (SELECT r.status FROM crawl_runs r WHERE u = ANY(r.listing_urls) ORDER BY r.id DESC LIMIT 1)
                 IS DISTINCT FROM 'ok'
             AND EXISTS (SELECT 1 FROM crawl_runs r WHERE u = ANY(r.listing_urls))""", (list(urls),))}


def start_run(conn: psycopg.Connection, urls: Sequence[str], full: bool, revalidate: bool) -> int:
    """A new run, 'running'; its id."""
    return conn.execute(
        "INSERT INTO crawl_runs (listing_urls, full_walk, revalidated) VALUES (%s, %s, %s) RETURNING id",
        (list(urls), full, revalidate)).fetchone()[0]


def finish_run(conn: psycopg.Connection, run_id: int, status: str, stats: dict[str, Any], error: str | None) -> None:
    conn.execute(
        "UPDATE crawl_runs SET finished_at = now(), status = %s, stats = %s, error = %s WHERE id = %s",
        (status, Jsonb(stats), error, run_id),
    )


def mark_interrupted(conn: psycopg.Connection, site: str) -> int:
    """The site's runs left 'running' by a process that died: 'interrupted'; how many. The caller makes sure
    no crawl of the site is alive (gongkai.app.serve.crawl_runs.mark_stale_runs holds its crawl lock)."""
    return conn.execute(
        """UPDATE crawl_runs SET status = 'interrupted', finished_at = now(),
               error = COALESCE(error, 'the crawl process ended without finishing (killed or crashed); '
                                       'the next crawl resumes it')
           WHERE status = 'running' AND site = %s""", (site,)).rowcount
