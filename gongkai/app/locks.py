"""The advisory locks that keep crawls and schedulers apart (two-int4 keys, session level).

- The scheduler: one `gongkai serve` per database (SERVICE_LOCK).
- One crawl per site: `hashtext(site)` in SITE_LOCK_NAMESPACE, held by the crawl process for its whole
  run, so not even a crawl left over from a killed service overlaps the next one.
"""

from __future__ import annotations

import psycopg

SERVICE_LOCK = (0x676B0001, 0)
SITE_LOCK_NAMESPACE = 0x676B0002


def lock_sites(conn: psycopg.Connection, names: list[str]) -> list[str]:
    """Take the per-site crawl locks (session level, on `conn`); return the names someone else holds."""
    busy = []
    for name in names:
        got = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (SITE_LOCK_NAMESPACE, name)).fetchone()[0]
        if not got:
            busy.append(name)
    return busy


def unlock_site(conn: psycopg.Connection, name: str) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (SITE_LOCK_NAMESPACE, name))


def try_service_lock(conn: psycopg.Connection) -> bool:
    """Take the scheduler lock on `conn` (held until its session ends); False if another service has it."""
    return conn.execute("SELECT pg_try_advisory_lock(%s, %s)", SERVICE_LOCK).fetchone()[0]
