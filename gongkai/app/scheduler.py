"""`gongkai serve`: crawl every configured site on its schedule, ingest in between, survive restarts.

Design (see README "Running as a service"):
- APScheduler's BackgroundScheduler with in-memory jobs; the state that must survive a restart lives
  in Postgres (`service_jobs`): each job's next run is derived on start from when it last started, so
  a run missed while the service was down happens once (coalesced), never as a burst.
- Each crawl is a subprocess (`gongkai crawl --site NAME --no-ingest`): Scrapy's Twisted reactor cannot
  be restarted in one process, a crawl's memory is returned to the OS when it ends, and a crashing
  crawl cannot take the scheduler with it. Ingest runs in-process (plain psycopg) after each crawl and
  on its own interval.
- One scheduler per database: a session advisory lock; a second `serve` exits with code 4.
  One crawl per site: the crawl process holds an advisory lock per site, so not even a crawl left
  over from a killed service overlaps the next one (that run is skipped as `busy`).
- SIGTERM/SIGINT: no new jobs; running crawls get SIGTERM (Scrapy then finishes its in-flight
  requests and stages them, the run ends `interrupted`); exit 0 within `shutdown_timeout`.
  A crawl whose parent dies (kill -9) gets SIGTERM from the kernel (PR_SET_PDEATHSIG) and does the same.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from gongkai.app.locks import lock_sites, try_service_lock, unlock_site
from gongkai.app.service import HealthServer, Metrics
from gongkai.app.sites import sync_sites
from gongkai.app.status import FINISHED_REFRESH
from gongkai.config import ConfigError, ServiceConfig, SiteConfig, load_config
from gongkai.db import DatabaseError, connect, redact
from gongkai.errors import EXIT_BUSY, ServiceBusy
from gongkai.logs import relay_line

logger = logging.getLogger("gongkai.serve")

HEARTBEAT_SECONDS = 2.0
FORCE_GRACE_SECONDS = 5.0
FIRST_RUN_SPREAD = 60.0  # never-crawled sites start within a minute, not all at the same instant
_RUN_LINE = re.compile(r"crawl run (\d+):")
_FAILURE_REASONS = ("failed", "gone", "blocked", "unstaged")



# -- crawl runs a dead crawl left behind -------------------------------------------------------------

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
            marked += conn.execute(
                """UPDATE crawl_runs SET status = 'interrupted', finished_at = now(),
                       error = COALESCE(error, 'the crawl process ended without finishing (killed or crashed); '
                                               'the next crawl resumes it')
                   WHERE status = 'running' AND site = %s""", (name,)).rowcount
        finally:
            unlock_site(conn, name)
    return marked


# -- `gongkai serve` --------------------------------------------------------------------------------------

def serve_command(args: argparse.Namespace) -> int:
    from gongkai.db import open_database
    from gongkai.errors import UserError
    from gongkai.logs import configure_service_logging

    configure_service_logging(args.verbose)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    url, conn = open_database()
    conn.close()
    try:
        return Service(config, url, verbose=args.verbose).run()
    except ServiceBusy as exc:
        raise UserError(str(exc), EXIT_BUSY) from None


class _StopIngest(Exception):
    pass


class Service:
    """The daemon: scheduler, crawl subprocesses, ingest, heartbeat, HTTP endpoints, clean shutdown."""

    def __init__(self, config: ServiceConfig, database_url: str, *, verbose: bool = False) -> None:
        self.config = config
        self.database_url = database_url
        self.verbose = verbose
        self.metrics = Metrics()
        self.stopping = threading.Event()
        self.started_at = time.time()
        self._forced = False
        self._children: dict[str, subprocess.Popen[str]] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._active = 0
        self._last_beat = 0.0
        self._lock_conn: psycopg.Connection | None = None
        self._db_ok = True
        self._alarms: set[tuple[str, str]] = set()  # (site, check) of the extraction alarms last raised
        self.scheduler: Any = None
        self.http: HealthServer | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def run(self) -> int:
        """Run until SIGTERM/SIGINT; 0 after a clean stop."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        self._acquire_service_lock()
        assert self._lock_conn is not None
        conn = self._lock_conn
        names = [s.name for s in self.config.sites]
        sync_sites(conn, self.config.sites)
        stale = mark_stale_runs(conn, names)
        if stale:
            logger.warning("%d crawl runs of a previous service were left running; marked interrupted", stale)
        conn.execute("DELETE FROM service_jobs WHERE job <> 'ingest' AND NOT (site = ANY(%s))", (names,))
        conn.execute("UPDATE service_jobs SET running = false")

        tz = self._timezone()
        self.scheduler = BackgroundScheduler(
            timezone=tz,
            executors={"crawl": ThreadPoolExecutor(self.config.max_parallel_crawls), "default": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        now = datetime.now(UTC)
        for site in self.config.sites:
            trigger = site.schedule.trigger(tz)
            first = self._first_run(conn, site, trigger, now)
            self.scheduler.add_job(self._crawl_job, trigger, args=[site.name], id=f"crawl:{site.name}",
                                   name=f"crawl {site.name}", executor="crawl", next_run_time=first)
            conn.execute(
                """INSERT INTO service_jobs (job, site, schedule, next_run_at) VALUES (%s, %s, %s, %s)
                   ON CONFLICT (job) DO UPDATE SET site = EXCLUDED.site, schedule = EXCLUDED.schedule,
                       next_run_at = EXCLUDED.next_run_at, updated_at = now()""",
                (f"crawl:{site.name}", site.name, site.schedule.describe(), first))
            logger.info("site %s: %s; next crawl %s", site.name, site.schedule.describe(), first.isoformat(),
                        extra={"site": site.name, "next_run": first.isoformat()})
        from apscheduler.triggers.interval import IntervalTrigger

        self.scheduler.add_job(self._ingest_job, IntervalTrigger(seconds=self.config.ingest_interval, timezone=tz),
                               id="ingest", name="ingest", next_run_time=now)
        conn.execute("""INSERT INTO service_jobs (job, schedule, next_run_at) VALUES ('ingest', %s, now())
                        ON CONFLICT (job) DO UPDATE SET schedule = EXCLUDED.schedule, updated_at = now()""",
                     (f"every {self.config.ingest_interval:g}s",))

        host, port = self._http_address()
        try:
            self.http = HealthServer(host, port, self.metrics, self.health).start()
        except OSError as exc:
            self._release()
            from gongkai.errors import UserError

            raise UserError(f"cannot listen on {host}:{port} for /healthz and /metrics: {exc.strerror or exc}") from None
        self._set_state(started=True)
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
            self._signal_children(signal.SIGKILL)
            with self._idle:
                self._idle.notify_all()
            return
        logger.info("%s received: stopping (no new jobs; running crawls finish their in-flight requests)",
                    signal.Signals(signum).name)
        self.stopping.set()

    def _shutdown(self) -> int:
        started = time.monotonic()
        self.scheduler.pause()
        self.metrics.scheduler_up.set(0)
        self._signal_children(signal.SIGTERM)
        deadline = started + self.config.shutdown_timeout
        with self._idle:
            while self._active and not self._forced and time.monotonic() < deadline:
                self._idle.wait(min(0.5, max(0.0, deadline - time.monotonic())))
        if self._active and not self._forced:
            # Scrapy's second signal: stop now, still recording the run (a batch of pages may be refetched).
            logger.warning("crawls still running after %.0fs: forcing them to stop", time.monotonic() - started)
            self._signal_children(signal.SIGTERM)
            with self._idle:
                self._idle.wait_for(lambda: not self._active, timeout=FORCE_GRACE_SECONDS)
        if self._active:
            logger.warning("crawls still running: killing them (what they staged is kept; the next start resumes)")
            self._signal_children(signal.SIGKILL)
            with self._idle:
                self._idle.wait_for(lambda: not self._active, timeout=FORCE_GRACE_SECONDS)
        self.scheduler.shutdown(wait=False)
        try:
            self._sync_jobs()
            self._set_state(stopped=True)
        except (psycopg.Error, DatabaseError) as exc:
            logger.warning("could not record the stop in the database: %s", _first_line(exc))
        if self.http:
            self.http.stop()
        self._release()
        logger.info("stopped cleanly in %.1fs", time.monotonic() - started)
        return 0

    def _acquire_service_lock(self) -> None:
        conn = connect(self.database_url, autocommit=True)
        if not try_service_lock(conn):
            row = conn.execute("SELECT pid, host, started_at FROM service_state").fetchone()
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

    def _timezone(self) -> Any:
        if self.config.timezone:
            from zoneinfo import ZoneInfo

            return ZoneInfo(self.config.timezone)
        from tzlocal import get_localzone

        return get_localzone()

    def _http_address(self) -> tuple[str, int]:
        """config http: {host, port}; GONGKAI_HTTP_ADDR=host:port overrides (containers bind 0.0.0.0)."""
        override = os.environ.get("GONGKAI_HTTP_ADDR", "").strip()
        if override:
            host, _, port = override.rpartition(":")
            return host or "0.0.0.0", int(port)
        return self.config.http_host, self.config.http_port

    def _first_run(self, conn: psycopg.Connection, site: SiteConfig, trigger: Any, now: datetime) -> datetime:
        """When a site's first crawl in this service runs.

        Never crawled, or its last crawl was interrupted: now (within FIRST_RUN_SPREAD). Otherwise the
        schedule's next time after the last start; if that passed while we were down, now: one run for
        however many were missed.
        """
        row = conn.execute(
            """SELECT j.last_started_at,
                      (SELECT r.status FROM crawl_runs r WHERE r.site = %s ORDER BY r.id DESC LIMIT 1)
               FROM (SELECT 1) one LEFT JOIN service_jobs j ON j.job = %s""",
            (site.name, f"crawl:{site.name}")).fetchone()
        last_started, last_status = row if row else (None, None)
        spread = min(site.schedule.jitter, FIRST_RUN_SPREAD)
        soon = now + timedelta(seconds=random.uniform(0, spread) if spread else 0)
        if last_started is None or last_status == "interrupted":
            return soon
        if site.schedule.cron:
            due = trigger.get_next_fire_time(None, last_started)
        else:
            jitter = random.uniform(0, site.schedule.jitter) if site.schedule.jitter else 0
            due = last_started + timedelta(seconds=(site.schedule.interval or 0) + jitter)
        return soon if due is None or due <= now else due

    # -- jobs ----------------------------------------------------------------------------------------
    def _enter(self) -> bool:
        with self._lock:
            if self.stopping.is_set():
                return False
            self._active += 1
            return True

    def _leave(self) -> None:
        with self._idle:
            self._active -= 1
            self._idle.notify_all()

    def _crawl_job(self, name: str) -> None:
        if not self._enter():
            return
        job = f"crawl:{name}"
        self.metrics.running.labels("crawl").inc()
        started = time.monotonic()
        status, error = "failed", None
        try:
            self._job_event(job, started=True)
            refresh = self._refresh_due(name)
            logger.info("crawl of %s starting%s", name,
                        " (refresh: every listing page walked, every stored article re-checked)" if refresh else "",
                        extra={"site": name, "job": job, "refresh": refresh})
            status, error, run_id = self._crawl_subprocess(name, refresh)
            duration = time.monotonic() - started
            stats, db_status = self._record_run(name, run_id, status)
            if status in ("ok", "failed") and db_status in ("ok", "failed", "interrupted"):
                status = db_status  # a crawl stopped by SIGTERM exits 0 but did not finish
            self.metrics.crawl_duration.labels(name).observe(duration)
            self.metrics.crawl_runs.labels(name, status).inc()
            if status == "ok":
                self.metrics.last_success.labels(job).set(time.time())
            logger.info("crawl of %s %s in %.1fs: %s pages fetched, %s failed", name, status, duration,
                        stats.get("fetched", 0), stats.get("failed", 0),
                        extra={"site": name, "job": job, "status": status, "run_id": run_id,
                               "duration_s": round(duration, 3), "stats": stats, "error": error})
        except Exception as exc:  # the scheduler must survive anything one job does
            error = f"{exc.__class__.__name__}: {_first_line(exc)}"
            logger.exception("crawl job of %s failed", name, extra={"site": name})
        finally:
            self.metrics.running.labels("crawl").dec()
            try:
                self._job_event(job, status=status, error=error)
            except (psycopg.Error, DatabaseError) as exc:
                logger.warning("could not record the end of %s: %s", job, _first_line(exc))
            self._leave()
        if status != "busy":
            self._ingest_job(reason=f"after crawl of {name}")

    def _refresh_due(self, name: str) -> bool:
        """Whether this crawl of site `name` is a refresh (`--full --revalidate`): its `refresh` period has
        passed since the last refresh that ran to its end (ok, or failed on some listing: a failing
        column must not turn every crawl into a refresh). An interrupted one does not count."""
        period = self.config.site(name).refresh
        if period is None:
            return False
        with connect(self.database_url, autocommit=True) as conn:
            recent = conn.execute(
                f"""SELECT EXISTS (SELECT 1 FROM crawl_runs r WHERE r.site = %s AND {FINISHED_REFRESH}
                                     AND r.started_at > now() - make_interval(secs => %s))""",
                (name, period)).fetchone()[0]
        return not recent

    def _crawl_subprocess(self, name: str, refresh: bool = False) -> tuple[str, str | None, int | None]:
        cmd = [sys.executable, "-m", "gongkai", *(["-v"] if self.verbose else []), "crawl", "--site", name,
               "--config", str(self.config.path), "--no-ingest", *(["--full", "--revalidate"] if refresh else [])]
        env = {**os.environ, "DATABASE_URL": self.database_url, "GONGKAI_PARENT_PID": str(os.getpid()),
               "GONGKAI_SHUTDOWN_TIMEOUT": str(self.config.shutdown_timeout)}
        with self._lock:
            if self.stopping.is_set():
                return "interrupted", "service stopping", None
            # Own session: a terminal's Ctrl-C reaches only the service, which forwards one SIGTERM
            # (a second one would make Scrapy abandon in-flight requests).
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, encoding="utf-8", errors="replace", env=env, start_new_session=True)
            self._children[name] = proc
        run_id = None
        tail: list[str] = []
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                m = _RUN_LINE.search(line)
                if m:
                    run_id = int(m.group(1))
                if line.startswith("gongkai: "):
                    tail.append(line.strip().removeprefix("gongkai: "))
                relay_line(line, logging.getLogger("gongkai.crawl"), site=name)
            code = proc.wait()
        finally:
            with self._lock:
                self._children.pop(name, None)
        if code == EXIT_BUSY:
            return "busy", "; ".join(tail) or "site is being crawled by another process", run_id
        if code == 0:
            return "ok", None, run_id
        if code < 0:
            return "interrupted", f"crawl process ended by {signal.Signals(-code).name}", run_id
        return "failed", "; ".join(tail[-5:]) or f"crawl exited with code {code}", run_id

    def _record_run(self, name: str, run_id: int | None, status: str) -> tuple[dict[str, Any], str | None]:
        """The run's stats (into metrics) and status; a row the dead child left 'running' is closed here."""
        if status == "busy":
            return {}, None
        with connect(self.database_url, autocommit=True) as conn:
            if run_id is None:
                row = conn.execute("SELECT id FROM crawl_runs WHERE site = %s ORDER BY id DESC LIMIT 1",
                                   (name,)).fetchone()
                run_id = row[0] if row else None
            mark_stale_runs(conn, [name])
            if run_id is None:
                return {}, None
            row = conn.execute("SELECT stats, status FROM crawl_runs WHERE id = %s", (run_id,)).fetchone()
        stats: dict[str, Any] = dict(row[0] or {}) if row else {}
        self.metrics.pages_fetched.labels(name).inc(int(stats.get("fetched", 0) or 0))
        self.metrics.requests.labels(name).inc(int(stats.get("requests", 0) or 0))
        for reason in _FAILURE_REASONS:
            if stats.get(reason):
                self.metrics.page_failures.labels(name, reason).inc(int(stats[reason]))
        return stats, (row[1] if row else None)

    def _ingest_job(self, reason: str = "scheduled") -> None:
        if not self._enter():
            return
        from gongkai.ingest.run import ingest_pending

        self.metrics.running.labels("ingest").inc()
        started = time.monotonic()
        totals: Counter = Counter()
        status, error = "ok", None

        def on_batch(counts: Counter) -> None:
            totals.update(counts)
            for outcome, n in counts.items():
                self.metrics.reports_ingested.labels(outcome).inc(n)
            if self.stopping.is_set():
                raise _StopIngest  # the batch is committed; the rest stays pending for the next start

        try:
            if reason == "scheduled":
                self._job_event("ingest", started=True)
            with connect(self.database_url) as conn:
                ingest_pending(conn, on_batch=on_batch)
        except _StopIngest:
            status = "interrupted"
        except Exception as exc:
            status, error = "failed", f"{exc.__class__.__name__}: {_first_line(exc)}"
            logger.error("ingest failed: %s", error, extra={"job": "ingest"})
        finally:
            duration = time.monotonic() - started
            self.metrics.ingest_duration.observe(duration)
            self.metrics.running.labels("ingest").dec()
            if status == "ok":
                self.metrics.last_success.labels("ingest").set(time.time())
            if totals:
                self._check_extraction()
            if totals or reason == "scheduled":
                logger.info("ingest (%s) %s in %.1fs: %s", reason, status, duration,
                            ", ".join(f"{n} {k}" for k, n in sorted(totals.items())) or "nothing pending",
                            extra={"job": "ingest", "counts": dict(totals), "duration_s": round(duration, 3)})
            try:
                if reason == "scheduled":
                    self._job_event("ingest", status=status, error=error)
            except (psycopg.Error, DatabaseError):
                pass
            self._leave()

    def _check_extraction(self) -> None:
        """After an ingest: raise (log once, gauge 1) or clear the extraction alarms of gongkai.health."""
        from gongkai.app.health import extraction_alarms, read_site_extraction

        try:
            with connect(self.database_url) as conn:
                alarms = extraction_alarms(read_site_extraction(conn))
        except (psycopg.Error, DatabaseError) as exc:
            logger.warning("extraction check skipped: %s", _first_line(exc))
            return
        raised = {(a.site, a.check) for a in alarms}
        for alarm in alarms:
            self.metrics.extraction_alarm.labels(alarm.site, alarm.check).set(1)
            if (alarm.site, alarm.check) not in self._alarms:
                logger.warning("extraction alarm: %s", alarm.message, extra={"site": alarm.site, "check": alarm.check})
        for site, check in self._alarms - raised:
            self.metrics.extraction_alarm.labels(site, check).set(0)
            logger.info("extraction alarm cleared: %s (%s)", site, check, extra={"site": site, "check": check})
        self._alarms = raised

    def _job_event(self, job: str, *, started: bool = False, status: str | None = None,
                   error: str | None = None) -> None:
        with connect(self.database_url, autocommit=True) as conn:
            if started:
                conn.execute("""UPDATE service_jobs SET last_started_at = now(), running = true, updated_at = now()
                                WHERE job = %s""", (job,))
            else:
                conn.execute("""UPDATE service_jobs SET last_finished_at = now(), running = false, last_status = %s,
                                    last_error = %s, updated_at = now() WHERE job = %s""", (status, error, job))

    def _signal_children(self, sig: signal.Signals) -> None:
        with self._lock:
            for name, proc in list(self._children.items()):
                if proc.poll() is None:
                    logger.info("sending %s to the crawl of %s (pid %d)", sig.name, name, proc.pid,
                                extra={"site": name})
                    try:
                        proc.send_signal(sig)
                    except ProcessLookupError:
                        pass

    # -- heartbeat, health -----------------------------------------------------------------------------
    def _heartbeat_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self._beat()
            except Exception as exc:  # database away: /healthz says so; keep trying
                if self._db_ok:
                    logger.warning("heartbeat failed: %s", _first_line(exc))
                self._db_ok = False
                self._reconnect()
            self.stopping.wait(HEARTBEAT_SECONDS)

    def _beat(self) -> None:
        conn = self._lock_conn
        if conn is None or conn.closed:
            raise DatabaseError("no database connection")
        conn.execute("UPDATE service_state SET heartbeat_at = now() WHERE id")
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

    def _sync_jobs(self) -> None:
        conn = self._lock_conn
        if conn is None or self.scheduler is None:
            return
        for job in self.scheduler.get_jobs():
            nxt = getattr(job, "next_run_time", None)
            if nxt is not None:
                self.metrics.next_run.labels(job.id).set(nxt.timestamp())
            conn.execute("UPDATE service_jobs SET next_run_at = %s WHERE job = %s AND next_run_at IS DISTINCT FROM %s",
                         (nxt, job.id, nxt))

    def _set_state(self, *, started: bool = False, stopped: bool = False) -> None:
        conn = self._lock_conn
        if conn is None:
            return
        if started:
            conn.execute(
                """INSERT INTO service_state (id, pid, host, http_url, config_path, started_at, heartbeat_at, stopped_at)
                   VALUES (true, %s, %s, %s, %s, now(), now(), NULL)
                   ON CONFLICT (id) DO UPDATE SET pid = EXCLUDED.pid, host = EXCLUDED.host,
                       http_url = EXCLUDED.http_url, config_path = EXCLUDED.config_path, started_at = now(),
                       heartbeat_at = now(), stopped_at = NULL""",
                (os.getpid(), socket.gethostname(), self.http.url if self.http else None, str(self.config.path)))
        if stopped:
            conn.execute("UPDATE service_state SET stopped_at = now(), heartbeat_at = now() WHERE id")

    def health(self) -> tuple[bool, dict[str, Any]]:
        """/healthz: the database answers (fresh connection) and the scheduler is alive."""
        try:
            with psycopg.connect(self.database_url, connect_timeout=3, autocommit=True) as conn:
                conn.execute("SELECT 1")
            database = "ok"
        except psycopg.Error as exc:
            database = f"unreachable: {_first_line(exc)}".replace(self.database_url, redact(self.database_url))
        beat_age = time.monotonic() - self._last_beat if self._last_beat else None
        if self.stopping.is_set():
            scheduler = "stopping"
        elif self.scheduler is not None and self.scheduler.running and beat_age is not None \
                and beat_age < 5 * HEARTBEAT_SECONDS + 5:
            scheduler = "running"
        else:
            scheduler = "stalled"
        jobs = {}
        if self.scheduler is not None:
            for job in self.scheduler.get_jobs():
                nxt = getattr(job, "next_run_time", None)
                jobs[job.id] = nxt.isoformat() if nxt else None
        with self._lock:
            running = sorted(self._children)
        details = {"database": database, "scheduler": scheduler, "crawls_running": running,
                   "next_runs": jobs, "uptime_s": round(time.time() - self.started_at, 1), "pid": os.getpid()}
        return database == "ok" and scheduler == "running", details


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__
