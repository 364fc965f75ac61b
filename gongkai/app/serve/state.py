"""The service's own tables, `service_jobs` (one row per scheduled job) and `service_state` (one row: the
running service). This module is their only writer; `gongkai status` (app/status.py) reads them.

Every function takes the connection to use: the scheduler's lock connection for its start, heartbeat
and stop, a fresh one per job event (jobs run in their own threads).
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from gongkai.db import connect

# -- service_jobs ---------------------------------------------------------------------------------------

def unschedule_removed_sites(conn: psycopg.Connection, sites: list[str]) -> None:
    """Sites no longer configured: no next run. Their history (last start, last status) stays, so a site put
    back in the config resumes its schedule instead of being crawled at once as if new."""
    conn.execute("UPDATE service_jobs SET next_run_at = NULL WHERE job <> 'ingest' AND NOT (site = ANY(%s))",
                 (sites,))


def unschedule_other_jobs(conn: psycopg.Connection, jobs: list[str]) -> None:
    """Jobs this service does not schedule (a site with no column yet has no crawl; discovery turned off or a
    site without a home has none): no next run. Their history stays."""
    conn.execute("UPDATE service_jobs SET next_run_at = NULL WHERE NOT (job = ANY(%s)) AND next_run_at IS NOT NULL",
                 (jobs,))


def clear_running(conn: psycopg.Connection) -> None:
    """At start: no job of a previous service is still running in this one."""
    conn.execute("UPDATE service_jobs SET running = false")


def register_crawl_job(conn: psycopg.Connection, job: str, site: str, schedule: str, next_run: datetime) -> None:
    conn.execute(
        """INSERT INTO service_jobs (job, site, schedule, next_run_at) VALUES (%s, %s, %s, %s)
           ON CONFLICT (job) DO UPDATE SET site = EXCLUDED.site, schedule = EXCLUDED.schedule,
               next_run_at = EXCLUDED.next_run_at, updated_at = now()""",
        (job, site, schedule, next_run))


def register_ingest_job(conn: psycopg.Connection, schedule: str) -> None:
    conn.execute("""INSERT INTO service_jobs (job, schedule, next_run_at) VALUES ('ingest', %s, now())
                    ON CONFLICT (job) DO UPDATE SET schedule = EXCLUDED.schedule, updated_at = now()""",
                 (schedule,))


def job_started(conn: psycopg.Connection, job: str) -> None:
    conn.execute("""UPDATE service_jobs SET last_started_at = now(), running = true, updated_at = now()
                    WHERE job = %s""", (job,))


def job_finished(conn: psycopg.Connection, job: str, status: str | None, error: str | None) -> None:
    conn.execute("""UPDATE service_jobs SET last_finished_at = now(), running = false, last_status = %s,
                        last_error = %s, updated_at = now() WHERE job = %s""", (status, error, job))


def record_job_event(database_url: str, job: str, *, started: bool = False, status: str | None = None,
                     error: str | None = None) -> None:
    """A job's start (`started`) or its end (status, error), on a connection of its own: jobs (crawls,
    ingest, discoveries) run in their own threads."""
    with connect(database_url, autocommit=True) as conn:
        if started:
            job_started(conn, job)
        else:
            job_finished(conn, job, status, error)


def set_next_run(conn: psycopg.Connection, job: str, next_run: datetime | None) -> None:
    conn.execute("UPDATE service_jobs SET next_run_at = %s WHERE job = %s AND next_run_at IS DISTINCT FROM %s",
                 (next_run, job, next_run))


def last_started(conn: psycopg.Connection, job: str) -> datetime | None:
    """When `job` last started, in this service or an earlier one (None: never)."""
    row = conn.execute("SELECT last_started_at FROM service_jobs WHERE job = %s", (job,)).fetchone()
    return row[0] if row else None


def last_status(conn: psycopg.Connection, job: str) -> str | None:
    row = conn.execute("SELECT last_status FROM service_jobs WHERE job = %s", (job,)).fetchone()
    return row[0] if row else None


# -- service_state --------------------------------------------------------------------------------------

def service_started(conn: psycopg.Connection, *, pid: int, host: str, http_url: str | None,
                    config_path: str) -> None:
    conn.execute(
        """INSERT INTO service_state (id, pid, host, http_url, config_path, started_at, heartbeat_at, stopped_at)
           VALUES (true, %s, %s, %s, %s, now(), now(), NULL)
           ON CONFLICT (id) DO UPDATE SET pid = EXCLUDED.pid, host = EXCLUDED.host,
               http_url = EXCLUDED.http_url, config_path = EXCLUDED.config_path, started_at = now(),
               heartbeat_at = now(), stopped_at = NULL""",
        (pid, host, http_url, config_path))


def heartbeat(conn: psycopg.Connection) -> None:
    conn.execute("UPDATE service_state SET heartbeat_at = now() WHERE id")


def service_stopped(conn: psycopg.Connection) -> None:
    conn.execute("UPDATE service_state SET stopped_at = now(), heartbeat_at = now() WHERE id")


def service_holder(conn: psycopg.Connection) -> tuple[int | None, str | None, datetime | None] | None:
    """(pid, host, started_at) of the service that last started (None: never one)."""
    return conn.execute("SELECT pid, host, started_at FROM service_state").fetchone()
