"""The SQL over `crawl_runs` the service needs, each in one named function.

`crawl_runs` belongs to the crawl stage (gongkai/crawler/runs.py is its only writer); these are the
service's few looks at it, and the one repair (`mark_stale_runs`), which takes a site's crawl lock and
asks the crawler to mark its dead runs interrupted.
"""

from __future__ import annotations

from typing import Any

import psycopg

from gongkai.app.locks import lock_sites, unlock_site
from gongkai.app.status import FINISHED_REFRESH
from gongkai.crawler import runs


def mark_stale_runs(conn: psycopg.Connection, names: list[str]) -> int:
    """Crawl runs left 'running' by a process that died (kill -9, OOM, power): mark them interrupted.

    Only for sites whose crawl lock is free, i.e. no live crawl process: a crawl left over from a
    killed service may still be finishing, and its row is then still true.
    """
    marked = 0
    running = [row[0] for row in conn.execute(
        "SELECT DISTINCT site FROM crawl_runs WHERE status = 'running' AND site = ANY(%s)", (names,))]
    for name in running:
        if lock_sites(conn, [name]):
            continue
        try:
            marked += runs.mark_interrupted(conn, name)
        finally:
            unlock_site(conn, name)
    return marked


def last_run_status(conn: psycopg.Connection, site: str) -> str | None:
    """The status of the site's latest crawl run (None: never crawled)."""
    row = conn.execute("SELECT status FROM crawl_runs WHERE site = %s ORDER BY id DESC LIMIT 1", (site,)).fetchone()
    return row[0] if row else None


def latest_run_id(conn: psycopg.Connection, site: str) -> int | None:
    row = conn.execute("SELECT id FROM crawl_runs WHERE site = %s ORDER BY id DESC LIMIT 1", (site,)).fetchone()
    return row[0] if row else None


def run_outcome(conn: psycopg.Connection, run_id: int) -> tuple[dict[str, Any], str | None]:
    """A run's stats and status as recorded ({} and None: no such run)."""
    row = conn.execute("SELECT stats, status FROM crawl_runs WHERE id = %s", (run_id,)).fetchone()
    return (dict(row[0] or {}), row[1]) if row else ({}, None)


def refreshed_within(conn: psycopg.Connection, site: str, seconds: float) -> bool:
    """Whether a refresh of the site (FINISHED_REFRESH: run to its end) started in the last `seconds`."""
    return conn.execute(
        f"""SELECT EXISTS (SELECT 1 FROM crawl_runs r WHERE r.site = %s AND {FINISHED_REFRESH}
                             AND r.started_at > now() - make_interval(secs => %s))""",
        (site, seconds)).fetchone()[0]
