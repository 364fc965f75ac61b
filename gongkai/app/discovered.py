"""What serve's discovery found on each portal: the tables `discovery_runs` and `discovered_columns` (migration
0011). This module is their only writer; `gongkai status` and the service's metrics read them through the
functions below.

A column's state is what the latest conclusive discovery of its portal said: found (configured and still
linked), new (found, and not configured before that run) or vanished (configured, and no longer linked or
answering 404). Nothing here touches the sites file: a vanished column stays configured until a person acts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import psycopg

STATES = ("found", "new", "vanished")


@dataclass(frozen=True)
class ColumnState:
    url: str  # as configured; as found for a new column
    site: str  # the configured site it belongs to (or was added to)
    state: str  # found | new | vanished
    town: str | None = None
    name: str | None = None
    platform: str | None = None
    rows: int | None = None
    newest: date | None = None
    in_file: bool = True  # False: the sites file could not be written, the column is crawled from memory
    why: str | None = None  # of a vanished column


def start_run(conn: psycopg.Connection, site: str, home: str) -> int:
    return conn.execute("INSERT INTO discovery_runs (site, home) VALUES (%s, %s) RETURNING id", (site, home)).fetchone()[0]


def finish_run(conn: psycopg.Connection, run_id: int, status: str, *, requests: int = 0, found: int = 0,
               new: int = 0, vanished: int = 0, error: str | None = None) -> None:
    conn.execute("""UPDATE discovery_runs SET finished_at = now(), status = %s, requests = %s, found = %s, new = %s,
                        vanished = %s, error = %s WHERE id = %s""",
                 (status, requests, found, new, vanished, error, run_id))


def record_columns(conn: psycopg.Connection, run_id: int, discovered_by: str, columns: Sequence[ColumnState],
                   *, conclusive: bool, keep: Sequence[str] = ()) -> None:
    """Store what one discovery said of its portal's columns, in one transaction.

    A column found again loses its vanished mark; a vanished one keeps the time it first went missing.
    After a conclusive run (the whole navigation read, no page that failed to answer) the rows of this
    portal's columns it did not mention (taken out of the config by a person) are dropped; after a partial
    one they keep what the last conclusive run said, and so do the rows of `keep` (columns this run could
    not decide about)."""
    with conn.transaction():
        for c in columns:
            seen = c.state != "vanished"
            conn.execute(
                """INSERT INTO discovered_columns (url, site, discovered_by, state, town, name, platform, row_count, newest,
                                                   in_file, why, last_seen_at, vanished_at, run_id)
                   VALUES (%(url)s, %(site)s, %(by)s, %(state)s, %(town)s, %(name)s, %(platform)s, %(rows)s,
                           %(newest)s, %(in_file)s, %(why)s, CASE WHEN %(seen)s THEN now() END,
                           CASE WHEN %(seen)s THEN NULL ELSE now() END, %(run)s)
                   ON CONFLICT (url) DO UPDATE SET site = EXCLUDED.site, discovered_by = EXCLUDED.discovered_by,
                       state = EXCLUDED.state,
                       town = COALESCE(EXCLUDED.town, discovered_columns.town),
                       name = COALESCE(EXCLUDED.name, discovered_columns.name),
                       platform = COALESCE(EXCLUDED.platform, discovered_columns.platform),
                       row_count = COALESCE(EXCLUDED.row_count, discovered_columns.row_count),
                       newest = COALESCE(EXCLUDED.newest, discovered_columns.newest),
                       in_file = EXCLUDED.in_file, why = EXCLUDED.why,
                       last_seen_at = COALESCE(EXCLUDED.last_seen_at, discovered_columns.last_seen_at),
                       vanished_at = CASE WHEN EXCLUDED.state <> 'vanished' THEN NULL
                                          ELSE COALESCE(discovered_columns.vanished_at, now()) END,
                       run_id = EXCLUDED.run_id, updated_at = now()""",
                {"url": c.url, "site": c.site, "by": discovered_by, "state": c.state, "town": c.town, "name": c.name,
                 "platform": c.platform, "rows": c.rows, "newest": c.newest, "in_file": c.in_file, "why": c.why,
                 "seen": seen, "run": run_id})
        if conclusive:
            conn.execute("DELETE FROM discovered_columns WHERE discovered_by = %s AND NOT (url = ANY(%s))",
                         (discovered_by, [c.url for c in columns] + list(keep)))


# -- readers -----------------------------------------------------------------------------------------------

def column_counts(conn: psycopg.Connection) -> dict[tuple[str, str], int]:
    """(site, state) -> columns, for the metrics."""
    return {(site, state): n for site, state, n in conn.execute(
        "SELECT site, state, count(*) FROM discovered_columns GROUP BY 1, 2")}


def portal_counts(conn: psycopg.Connection) -> dict[tuple[str, str], int]:
    """(site whose home was walked, state) -> columns of its portal, for `gongkai status`."""
    return {(site, state): n for site, state, n in conn.execute(
        "SELECT discovered_by, state, count(*) FROM discovered_columns GROUP BY 1, 2")}


def last_runs(conn: psycopg.Connection) -> dict[str, datetime]:
    """site -> when its last discovery that read the portal (ok or partial) ended."""
    return {site: at for site, at in conn.execute(
        "SELECT site, max(finished_at) FROM discovery_runs WHERE status IN ('ok', 'partial') GROUP BY site")}


@dataclass(frozen=True)
class RunSummary:
    site: str
    finished_at: datetime | None
    status: str
    found: int
    new: int
    vanished: int
    error: str | None


def latest_runs(conn: psycopg.Connection, names: Sequence[str] | None = None) -> list[RunSummary]:
    """Each site's latest finished discovery (of the sites named, when names are given)."""
    rows = conn.execute(
        """SELECT DISTINCT ON (site) site, finished_at, status, found, new, vanished, error FROM discovery_runs
           WHERE status <> 'running' AND (%(names)s::text[] IS NULL OR site = ANY(%(names)s::text[]))
           ORDER BY site, id DESC""", {"names": list(names) if names is not None else None}).fetchall()
    return [RunSummary(*row) for row in rows]


def vanished_columns(conn: psycopg.Connection, names: Sequence[str] | None = None) -> list[dict]:
    """The columns the latest discovery of their portal no longer found, oldest loss first."""
    cur = conn.execute(
        """SELECT site, url, town, name, why, vanished_at FROM discovered_columns
           WHERE state = 'vanished' AND (%(names)s::text[] IS NULL OR site = ANY(%(names)s::text[]))
           ORDER BY site, vanished_at, url""", {"names": list(names) if names is not None else None})
    keys = ("site", "url", "town", "name", "why", "vanished_at")
    return [dict(zip(keys, row, strict=True)) for row in cur.fetchall()]


def vanished_urls(conn: psycopg.Connection, discovered_by: str) -> set[str]:
    """The columns of this portal already recorded vanished (a new loss is logged once, not every run)."""
    return {url for (url,) in conn.execute(
        "SELECT url FROM discovered_columns WHERE discovered_by = %s AND state = 'vanished'", (discovered_by,))}


def memory_only_columns(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(site, url) of the columns discovery found but could not write into the sites file (it was not
    writable): a restarted service crawls them again from here."""
    return [(site, url) for site, url in conn.execute(
        "SELECT site, url FROM discovered_columns WHERE NOT in_file AND state <> 'vanished' ORDER BY site, url")]
