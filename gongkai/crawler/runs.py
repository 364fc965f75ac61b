"""Crawl runs: the crawl_runs table, one row per crawl (its listings, how it ended, its counts).

This module is the only writer of crawl_runs.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from gongkai.db import after_open
from gongkai.errors import ServiceBusy

logger = logging.getLogger(__name__)

# Per-host crawl lock: (namespace, hashtext(host[:port])), a session-level advisory lock held by the crawl's
# lock connection from before its first request until it ends. Every way of crawling a host (crawl URL,
# crawl --site, serve's crawl subprocesses, a distributed crawl's coordinator) goes through run_crawl, so
# two crawls never load one portal together. (gongkai.app.locks holds namespaces 0x676B0001-2.)
HOST_LOCK_NAMESPACE = 0x676B0003
THIS_HOST = socket.gethostname()
INTERRUPTED = ("the crawl process ended without finishing (killed or crashed); the next crawl resumes it")


def unfinished_listings(conn: psycopg.Connection, urls: Sequence[str]) -> set[str]:
    """Listings crawled before whose last crawl did not end 'ok' (killed, database lost, pagination failed)."""
    return {row[0] for row in conn.execute(
        """SELECT u FROM unnest(%s::text[]) AS u
           WHERE (SELECT r.status FROM crawl_runs r WHERE u = ANY(r.listing_urls) ORDER BY r.id DESC LIMIT 1)
                 IS DISTINCT FROM 'ok'
             AND EXISTS (SELECT 1 FROM crawl_runs r WHERE u = ANY(r.listing_urls))""", (list(urls),))}


def start_run(conn: psycopg.Connection, urls: Sequence[str], full: bool, revalidate: bool,
              lock_backend: int | None = None) -> int:
    """A new run, 'running', recorded with this process's pid and host and the database session holding its
    host locks (`lock_backend`), so a run whose process is gone can be told from a live one; its id."""
    return conn.execute(
        """INSERT INTO crawl_runs (listing_urls, full_walk, revalidated, pid, host, lock_backend)
           VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
        (list(urls), full, revalidate, os.getpid(), THIS_HOST, lock_backend)).fetchone()[0]


def finish_run(conn: psycopg.Connection, run_id: int, status: str, stats: dict[str, Any], error: str | None) -> None:
    conn.execute(
        "UPDATE crawl_runs SET finished_at = now(), status = %s, stats = %s, error = %s WHERE id = %s",
        (status, Jsonb(stats), error, run_id),
    )


def mark_interrupted(conn: psycopg.Connection, site: str) -> int:
    """The site's runs left 'running' by a process that died: 'interrupted'; how many. The caller makes sure
    no crawl of the site is alive (gongkai.app.serve.crawl_runs.mark_stale_runs holds its crawl lock)."""
    return conn.execute(
        """UPDATE crawl_runs SET status = 'interrupted', finished_at = now(), error = COALESCE(error, %s)
           WHERE status = 'running' AND site = %s""", (INTERRUPTED, site)).rowcount


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, and not ours to judge
        return True
    try:  # a pid reused by another program is not the crawl
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"gongkai" in f.read()
    except OSError:
        return True


@after_open
def mark_dead_runs(conn: psycopg.Connection) -> list[int]:
    """Runs left 'running' by a crawl process that is gone (kill -9, OOM, a lost machine): 'interrupted'.

    Gone: the database session that held the run's host locks has ended (the server ends it when the
    process dies) and, for a run of this host, its pid is not a live gongkai process (a crawl whose
    database connection broke in an outage is still alive, and records its own end). Runs from before
    migration 0009 (no lock_backend) are left to the service (gongkai.app.serve.crawl_runs). Called by every
    command that opens the database (gongkai.db.open_database) and by every crawl before it starts.
    """
    rows = conn.execute(
        """SELECT r.id, r.pid, r.host FROM crawl_runs r
           WHERE r.status = 'running' AND r.lock_backend IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.lock_backend
                             AND (a.backend_start IS NULL OR a.backend_start <= r.started_at))""").fetchall()
    dead = [run_id for run_id, pid, host in rows
            if not (host == THIS_HOST and pid is not None and _process_alive(pid))]
    if dead:
        conn.execute(
            """UPDATE crawl_runs SET status = 'interrupted', finished_at = now(), error = COALESCE(error, %s)
               WHERE id = ANY(%s) AND status = 'running'""", (INTERRUPTED, dead))
        logger.warning("crawl run%s %s ended without finishing (the process is gone): marked interrupted",
                       "s" if len(dead) > 1 else "", ", ".join(map(str, dead)))
    return dead


# -- the per-host crawl lock ----------------------------------------------------------------------------------

def lock_hosts(conn: psycopg.Connection, hosts: Sequence[str], wait: float = 0.0) -> None:
    """Take the crawl lock of every host on `conn` (session level, autocommit), before anything is fetched.

    A host another crawl holds: ServiceBusy (exit 4) naming that crawl, or, with `wait` seconds, wait for it
    (at most that long). On failure no lock is kept.
    """
    deadline = time.monotonic() + wait
    held: list[str] = []
    told = False
    try:
        for host in sorted(set(hosts)):  # one order for every crawl: two waiting crawls never deadlock
            while not conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                                   (HOST_LOCK_NAMESPACE, host)).fetchone()[0]:
                holder = lock_holder(conn, host)
                if time.monotonic() >= deadline:
                    raise ServiceBusy(f"{host} is being crawled by {holder}: not starting a second crawl of it "
                                      "(it would double the portal's load)")
                if not told:
                    logger.warning("%s is being crawled by %s: waiting for it to end", host, holder)
                    told = True
                time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
            held.append(host)
    except BaseException:
        for host in held:
            unlock_host(conn, host)
        raise


def unlock_host(conn: psycopg.Connection, host: str) -> None:
    try:
        conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (HOST_LOCK_NAMESPACE, host))
    except psycopg.Error:
        pass  # the session is gone: so is its lock


def lock_holder(conn: psycopg.Connection, host: str) -> str:
    """Who holds a host's crawl lock, for the user: 'crawl run N (pid P on H)', or the database session."""
    row = conn.execute(
        """SELECT r.id, r.pid, r.host, l.pid FROM pg_locks l
           LEFT JOIN crawl_runs r ON r.lock_backend = l.pid AND r.status = 'running'
           WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::int4::oid
             AND l.objid = hashtext(%s)::oid AND l.objsubid = 2
           ORDER BY r.id DESC NULLS LAST LIMIT 1""",
        (HOST_LOCK_NAMESPACE, host)).fetchone()
    if row is None:
        return "another crawl (which has just ended)"
    run_id, pid, host_name, backend = row
    if run_id is None:
        return f"another crawl, starting (database session {backend})"
    return f"crawl run {run_id} (pid {pid} on {host_name})"
