"""The service's life: the scheduler lock, APScheduler and its triggers, when each site's first crawl
runs, the heartbeat, signals and the clean shutdown.

The jobs themselves are app/serve/jobs.py; what survives a restart is written by app/serve/state.py.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from gongkai.app.locks import try_service_lock
from gongkai.app.serve import crawl_runs, state
from gongkai.app.serve.common import first_line, logger
from gongkai.app.serve.discovery import Discoveries
from gongkai.app.serve.http import HealthServer, Metrics
from gongkai.app.serve.jobs import Jobs
from gongkai.app.sites import sync_sites
from gongkai.config import Schedule, ServiceConfig, SiteConfig
from gongkai.db import DatabaseError, connect
from gongkai.errors import ServiceBusy

HEARTBEAT_SECONDS = 2.0
FORCE_GRACE_SECONDS = 5.0
FIRST_RUN_SPREAD = 60.0  # never-crawled sites start within a minute, not all at the same instant


class Scheduling:
    """Runs the service from the scheduler lock to the clean stop (`run`)."""

    def __init__(self, config: ServiceConfig, database_url: str, metrics: Metrics, stopping: threading.Event,
                 jobs: Jobs, discoveries: Discoveries) -> None:
        self.config = config
        self.database_url = database_url
        self.metrics = metrics
        self.stopping = stopping
        self.jobs = jobs
        self.discoveries = discoveries
        discoveries.on_site_changed = self.site_changed
        self._config_lock = threading.Lock()
        self.scheduler: Any = None
        self._tz: Any = None
        self.http: HealthServer | None = None
        self._forced = False
        self._last_beat = 0.0
        self._lock_conn: psycopg.Connection | None = None
        self._db_ok = True

    # -- lifecycle -----------------------------------------------------------------------------------
    def run(self, start_http: Callable[[], HealthServer]) -> int:
        """Run until SIGTERM/SIGINT; 0 after a clean stop. `start_http` starts /healthz and /metrics."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        self._acquire_service_lock()
        assert self._lock_conn is not None
        conn = self._lock_conn
        # The port first: a start that cannot come up (port in use) must change nothing in the database.
        try:
            self.http = start_http()
        except BaseException:
            self._release()
            raise
        names = [s.name for s in self.config.sites]
        sync_sites(conn, self.config.sites)
        stale = crawl_runs.mark_stale_runs(conn, names)
        if stale:
            logger.warning("%d crawl runs of a previous service were left running; marked interrupted", stale)
        state.unschedule_removed_sites(conn, names)
        state.clear_running(conn)
        for site in self.discoveries.restore(conn):  # columns found before that the sites file could not take
            self._use_site(site)
            sync_sites(conn, [site])

        tz = self._tz = self._timezone()
        self.scheduler = BackgroundScheduler(
            timezone=tz,
            # Discovery walks portals too, in threads of its own so that a first start with many portals to walk
            # does not hold the crawls back (each walk is polite to its own host: they are different hosts).
            executors={"crawl": ThreadPoolExecutor(self.config.max_parallel_crawls), "default": ThreadPoolExecutor(2),
                       "discovery": ThreadPoolExecutor(max(1, self.config.max_parallel_crawls // 2))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        now = datetime.now(UTC)
        scheduled = ["ingest"]
        for site in self.config.sites:
            if site.listings:
                scheduled.append(self._add_crawl_job(conn, site, self._first_run(conn, site.schedule, f"crawl:{site.name}",
                                                                                 now, crawl_of=site.name)))
            else:  # nothing to crawl until discovery finds its columns
                logger.info("site %s: no column yet; %s", site.name,
                            f"discovery {self.config.discovery.describe()}" if self.config.discovery and site.home
                            else "add its listings (or a home and a discovery schedule)", extra={"site": site.name})
            if site.home and self.config.discovery is not None:
                scheduled.append(self._add_discovery_job(conn, site, self.config.discovery, now))
        state.unschedule_other_jobs(conn, scheduled)
        self.scheduler.add_job(self.jobs.ingest, IntervalTrigger(seconds=self.config.ingest_interval, timezone=tz),
                               id="ingest", name="ingest", next_run_time=now)
        state.register_ingest_job(conn, f"every {self.config.ingest_interval:g}s")

        state.service_started(conn, pid=os.getpid(), host=socket.gethostname(), http_url=self.http.url,
                              config_path=str(self.config.path))
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        self.scheduler.start()
        self.metrics.scheduler_up.set(1)
        beat = threading.Thread(target=self._heartbeat_loop, name="gongkai-heartbeat", daemon=True)
        beat.start()
        logger.info("serving %d sites from %s; health and metrics on %s", len(self.config.sites),
                    self.config.path, self.http.url, extra={"pid": os.getpid()})
        try:
            while not self.stopping.wait(0.5):
                pass
            return self._shutdown()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.stopping.is_set():
            self._forced = True  # a second signal: stop waiting for crawls
            logger.warning("second %s: killing running crawls now", signal.Signals(signum).name)
            self.jobs.signal_children(signal.SIGKILL)
            self.jobs.wake()
            return
        logger.info("%s received: stopping (no new jobs; running crawls finish their in-flight requests)",
                    signal.Signals(signum).name)
        self.stopping.set()

    def _shutdown(self) -> int:
        started = time.monotonic()
        self.scheduler.pause()
        self.metrics.scheduler_up.set(0)
        self.jobs.signal_children(signal.SIGTERM)
        self.jobs.wait_idle(self.config.shutdown_timeout, give_up=lambda: self._forced)
        if self.jobs.active and not self._forced:
            # Scrapy's second signal: stop now, still recording the run (a batch of pages may be refetched).
            logger.warning("crawls still running after %.0fs: forcing them to stop", time.monotonic() - started)
            self.jobs.signal_children(signal.SIGTERM)
            self.jobs.wait_idle(FORCE_GRACE_SECONDS)
        if self.jobs.active:
            logger.warning("crawls still running: killing them (what they staged is kept; the next start resumes)")
            self.jobs.signal_children(signal.SIGKILL)
            self.jobs.wait_idle(FORCE_GRACE_SECONDS)
        self.scheduler.shutdown(wait=False)
        try:
            self._sync_jobs()
            if self._lock_conn is not None:
                state.service_stopped(self._lock_conn)
        except (psycopg.Error, DatabaseError) as exc:
            logger.warning("could not record the stop in the database: %s", first_line(exc))
        if self.http:
            self.http.stop()
        self._release()
        logger.info("stopped cleanly in %.1fs", time.monotonic() - started)
        return 0

    # -- the scheduler lock -------------------------------------------------------------------------------
    def _acquire_service_lock(self) -> None:
        conn = connect(self.database_url, autocommit=True)
        if not try_service_lock(conn):
            row = state.service_holder(conn)
            conn.close()
            who = f" (pid {row[0]} on {row[1]}, since {row[2]:%Y-%m-%d %H:%M:%S %Z})" if row and row[0] else ""
            raise ServiceBusy(f"another `gongkai serve`{who} already runs the scheduler for this database; "
                              "one per database")
        self._lock_conn = conn

    def _release(self) -> None:
        if self._lock_conn is not None:
            try:
                self._lock_conn.close()  # ends the session: the advisory lock goes with it
            except psycopg.Error:
                pass
            self._lock_conn = None

    # -- schedules ----------------------------------------------------------------------------------------
    def _timezone(self) -> Any:
        if self.config.timezone:
            from zoneinfo import ZoneInfo

            return ZoneInfo(self.config.timezone)
        from tzlocal import get_localzone

        return get_localzone()

    def _add_crawl_job(self, conn: psycopg.Connection, site: SiteConfig, first: datetime) -> str:
        job = f"crawl:{site.name}"
        self.scheduler.add_job(self.jobs.crawl, site.schedule.trigger(self._tz), args=[site.name], id=job,
                               name=f"crawl {site.name}", executor="crawl", next_run_time=first)
        state.register_crawl_job(conn, job, site.name, site.schedule.describe(), first)
        logger.info("site %s: %s; next crawl %s", site.name, site.schedule.describe(), first.isoformat(),
                    extra={"site": site.name, "next_run": first.isoformat()})
        return job

    def _add_discovery_job(self, conn: psycopg.Connection, site: SiteConfig, schedule: Schedule, now: datetime) -> str:
        """The site's portal walked on the discovery schedule (app/serve/discovery.py), at most half of
        max_parallel_crawls at a time."""
        job = f"discover:{site.name}"
        first = self._first_run(conn, schedule, job, now)
        self.scheduler.add_job(self.discoveries.run, schedule.trigger(self._tz), args=[site.name], id=job,
                               name=f"discover {site.name}", executor="discovery", next_run_time=first)
        state.register_crawl_job(conn, job, site.name, f"discovery {schedule.describe()}", first)
        logger.info("site %s: discovery from %s %s; next %s", site.name, site.home, schedule.describe(),
                    first.isoformat(), extra={"site": site.name, "next_run": first.isoformat()})
        return job

    def site_changed(self, site: SiteConfig) -> None:
        """Discovery added columns to `site`: the service crawls it as it is now, at once (a site that had
        none gets its crawl job; a crawl running now, which read the old listings, runs once more)."""
        self._use_site(site)
        try:
            with connect(self.database_url, autocommit=True) as conn:
                sync_sites(conn, [site])
                if self.scheduler is None or self.stopping.is_set():
                    return
                job = f"crawl:{site.name}"
                if self.scheduler.get_job(job) is None:
                    self._add_crawl_job(conn, site, datetime.now(UTC))
                elif not self.jobs.crawl_again(site.name):
                    self.scheduler.modify_job(job, next_run_time=datetime.now(UTC))
        except (psycopg.Error, DatabaseError) as exc:
            logger.warning("could not schedule the new columns of %s now: %s (its next crawl takes them)", site.name,
                           first_line(exc), extra={"site": site.name})

    def _use_site(self, site: SiteConfig) -> None:
        """Every part of the service sees the site's new config (jobs read it when they start)."""
        with self._config_lock:
            self.config = replace(self.config, sites=tuple(site if s.name == site.name else s for s in self.config.sites))
            self.jobs.config = self.config
            self.discoveries.config = self.config

    def _first_run(self, conn: psycopg.Connection, schedule: Schedule, job: str, now: datetime,
                   crawl_of: str | None = None) -> datetime:
        """When a job's first run in this service is.

        Never run, or (a crawl) its last run was interrupted: now (within FIRST_RUN_SPREAD). Otherwise the
        schedule's next time after the last start; if that passed while we were down, now: one run for
        however many were missed.
        """
        last_started = state.last_started(conn, job)
        interrupted = crawl_runs.last_run_status(conn, crawl_of) == "interrupted" if crawl_of else \
            state.last_status(conn, job) == "interrupted"
        spread = min(schedule.jitter, FIRST_RUN_SPREAD)
        soon = now + timedelta(seconds=random.uniform(0, spread) if spread else 0)
        if last_started is None or interrupted:
            return soon
        if schedule.cron:
            due = schedule.trigger(self._tz).get_next_fire_time(None, last_started)
        else:
            jitter = random.uniform(0, schedule.jitter) if schedule.jitter else 0
            due = last_started + timedelta(seconds=(schedule.interval or 0) + jitter)
        return soon if due is None or due <= now else due

    def next_runs(self) -> dict[str, str | None]:
        """Each job's next run (ISO), for /healthz."""
        jobs: dict[str, str | None] = {}
        if self.scheduler is not None:
            for job in self.scheduler.get_jobs():
                nxt = getattr(job, "next_run_time", None)
                jobs[job.id] = nxt.isoformat() if nxt else None
        return jobs

    def _sync_jobs(self) -> None:
        conn = self._lock_conn
        if conn is None or self.scheduler is None:
            return
        for job in self.scheduler.get_jobs():
            nxt = getattr(job, "next_run_time", None)
            if nxt is not None:
                self.metrics.next_run.labels(job.id).set(nxt.timestamp())
            state.set_next_run(conn, job.id, nxt)

    # -- heartbeat --------------------------------------------------------------------------------------
    def scheduler_state(self) -> str:
        """stopping, running (the scheduler runs and the heartbeat is fresh) or stalled."""
        beat_age = time.monotonic() - self._last_beat if self._last_beat else None
        if self.stopping.is_set():
            return "stopping"
        if self.scheduler is not None and self.scheduler.running and beat_age is not None \
                and beat_age < 5 * HEARTBEAT_SECONDS + 5:
            return "running"
        return "stalled"

    def _heartbeat_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self._beat()
            except Exception as exc:  # database away: /healthz says so; keep trying
                if self._db_ok:
                    logger.warning("heartbeat failed: %s", first_line(exc))
                self._db_ok = False
                self._reconnect()
            self.stopping.wait(HEARTBEAT_SECONDS)

    def _beat(self) -> None:
        conn = self._lock_conn
        if conn is None or conn.closed:
            raise DatabaseError("no database connection")
        state.heartbeat(conn)
        pending, lag = conn.execute(
            """SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(fetched_at)), 0)::float8
               FROM staged_pages WHERE ingest_state = 'pending'""").fetchone()
        self.metrics.queue_pending.set(pending)
        self.metrics.queue_lag.set(lag)
        self._sync_jobs()
        self._db_ok = True
        self._last_beat = time.monotonic()

    def _reconnect(self) -> None:
        """After a database outage, take the scheduler lock again; if someone else took it, stop."""
        if self._lock_conn is not None and not self._lock_conn.closed:
            try:
                self._lock_conn.execute("SELECT 1")
                return
            except psycopg.Error:
                pass
        self._release()
        try:
            self._acquire_service_lock()
            logger.info("database back; scheduler lock re-acquired")
        except ServiceBusy as exc:
            logger.error("lost the scheduler lock while the database was away: %s; stopping", exc)
            self.stopping.set()
        except (DatabaseError, psycopg.Error):
            pass
