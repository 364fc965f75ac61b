"""The service's job bodies: a site's crawl (a `gongkai crawl` subprocess) and ingest.

Jobs run in APScheduler's worker threads. This module counts them (shutdown waits for them), keeps the
crawl processes it started (shutdown signals them; /healthz lists them), records each job's start and
end (app/serve/state.py) and feeds the metrics.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from gongkai.app.crawl_result import CrawlResult, read_result
from gongkai.app.serve import crawl_runs, state
from gongkai.app.serve.alarms import ExtractionAlarms
from gongkai.app.serve.common import first_line, logger
from gongkai.app.serve.http import Metrics
from gongkai.config import ServiceConfig
from gongkai.db import DatabaseError, connect
from gongkai.errors import EXIT_BUSY, EXIT_INTERRUPTED
from gongkai.logs import relay_line

# Seconds a scheduled crawl waits for another crawl holding one of its hosts.
HOST_LOCK_WAIT = 1800
_FAILURE_REASONS = ("failed", "gone", "blocked", "unstaged")


class _StopIngest(Exception):
    pass


@dataclass(frozen=True)
class CrawlEnded:
    """How a crawl process ended: ok, failed, busy (another crawl of the site runs) or interrupted, why not
    ok, and the result it reported (None: it ended before reporting one)."""

    status: str
    error: str | None = None
    result: CrawlResult | None = None


class Jobs:
    """The crawl and ingest jobs, the crawl processes they run, and how many jobs are running."""

    def __init__(self, config: ServiceConfig, database_url: str, metrics: Metrics, stopping: threading.Event,
                 alarms: ExtractionAlarms, *, verbose: bool = False) -> None:
        self.config = config
        self.database_url = database_url
        self.metrics = metrics
        self.stopping = stopping
        self.alarms = alarms
        self.verbose = verbose
        self._children: dict[str, subprocess.Popen[str]] = {}
        # site -> a sites file holding it as the service has it in memory: columns discovery found that the real
        # file could not take (app/serve/discovery.py); its crawls read that file instead.
        self.overlays: dict[str, Path] = {}
        self._crawling: set[str] = set()  # sites whose crawl job runs (from before its process starts)
        self._again: set[str] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._active = 0

    # -- accounting -----------------------------------------------------------------------------------
    @property
    def active(self) -> int:
        return self._active

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

    @contextmanager
    def running(self) -> Iterator[bool]:
        """Count a job (of another module: discovery) as running while in the block; False: the service stops."""
        entered = self._enter()
        try:
            yield entered
        finally:
            if entered:
                self._leave()

    def wait_idle(self, timeout: float, give_up: Any = None) -> bool:
        """Wait up to `timeout` seconds for running jobs to end (or `give_up()` to turn true); True if none runs."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._active and not (give_up and give_up()) and time.monotonic() < deadline:
                self._idle.wait(min(0.5, max(0.0, deadline - time.monotonic())))
            return not self._active

    def wake(self) -> None:
        """Wake whoever waits in wait_idle (to look at give_up again)."""
        with self._idle:
            self._idle.notify_all()

    def running_crawls(self) -> list[str]:
        with self._lock:
            return sorted(self._children)

    def signal_children(self, sig: signal.Signals) -> None:
        with self._lock:
            for name, proc in list(self._children.items()):
                if proc.poll() is None:
                    logger.info("sending %s to the crawl of %s (pid %d)", sig.name, name, proc.pid,
                                extra={"site": name})
                    try:
                        proc.send_signal(sig)
                    except ProcessLookupError:
                        pass

    # -- crawl ------------------------------------------------------------------------------------------
    def crawl(self, name: str) -> None:
        """The scheduled crawl of site `name`, then an ingest of what it staged; once more at once when
        `crawl_again` asked for it meanwhile (discovery added columns the running crawl did not have)."""
        if not self.config.site(name).listings:
            logger.info("crawl of %s skipped: no column known yet (discovery finds them)", name, extra={"site": name})
            return
        with self._lock:
            self._crawling.add(name)
        while True:
            try:
                self._crawl_once(name)
            finally:
                with self._lock:
                    again = name in self._again and not self.stopping.is_set()
                    self._again.discard(name)
                    if not again:
                        self._crawling.discard(name)
            if not again:
                return

    def crawl_again(self, name: str) -> bool:
        """Have site `name` crawled once more as soon as its running crawl ends; False when none runs."""
        with self._lock:
            if name in self._crawling:
                self._again.add(name)
                return True
            return False

    def _crawl_once(self, name: str) -> None:
        if not self._enter():
            return
        job = f"crawl:{name}"
        self.metrics.running.labels("crawl").inc()
        started = time.monotonic()
        status, error = "failed", None
        try:
            state.record_job_event(self.database_url, job, started=True)
            refresh = self._refresh_due(name)
            logger.info("crawl of %s starting%s", name,
                        " (refresh: every listing page walked, every stored article re-checked)" if refresh else "",
                        extra={"site": name, "job": job, "refresh": refresh})
            ended = self._crawl_subprocess(name, refresh)
            status, error = ended.status, ended.error
            duration = time.monotonic() - started
            run_id, stats, db_status = self._record_run(name, ended)
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
            error = f"{exc.__class__.__name__}: {first_line(exc)}"
            logger.exception("crawl job of %s failed", name, extra={"site": name})
        finally:
            self.metrics.running.labels("crawl").dec()
            try:
                state.record_job_event(self.database_url, job, status=status, error=error)
            except (psycopg.Error, DatabaseError) as exc:
                logger.warning("could not record the end of %s: %s", job, first_line(exc))
            self._leave()
        if status != "busy":
            self.ingest(reason=f"after crawl of {name}")

    def _refresh_due(self, name: str) -> bool:
        """Whether this crawl of site `name` is a refresh (`--full --revalidate`): its `refresh` period has
        passed since the last refresh that ran to its end (ok, or failed on some listing: a failing
        column must not turn every crawl into a refresh). An interrupted one does not count."""
        period = self.config.site(name).refresh
        if period is None:
            return False
        with connect(self.database_url, autocommit=True) as conn:
            return not crawl_runs.refreshed_within(conn, name, period)

    def _crawl_subprocess(self, name: str, refresh: bool = False) -> CrawlEnded:
        """Run `gongkai crawl --site NAME` and wait for it; its log lines go into ours as they come."""
        with tempfile.TemporaryDirectory(prefix="gongkai-crawl-") as tmp:
            result_file = os.path.join(tmp, "result.json")
            cmd = [sys.executable, "-m", "gongkai", *(["-v"] if self.verbose else []), "crawl", "--site", name,
                   "--config", str(self.overlays.get(name, self.config.path)), "--no-ingest", *(["--full", "--revalidate"] if refresh else []),
                   "--result-file", result_file,
                   # Sites sharing a host (a county portal's towns) take turns on it: the crawl of one waits
                   # for the other's per-host lock instead of ending 'busy' until its next scheduled time.
                   "--wait", str(HOST_LOCK_WAIT)]
            env = {**os.environ, "DATABASE_URL": self.database_url, "GONGKAI_PARENT_PID": str(os.getpid()),
                   "GONGKAI_SHUTDOWN_TIMEOUT": str(self.config.shutdown_timeout)}
            with self._lock:
                if self.stopping.is_set():
                    return CrawlEnded("interrupted", "service stopping")
                # Own session: a terminal's Ctrl-C reaches only the service, which forwards one SIGTERM
                # (a second one would make Scrapy abandon in-flight requests).
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
                                        env=env, start_new_session=True)
                self._children[name] = proc
            said: list[str] = []  # its `gongkai: …` lines: the one-line errors of a crawl that could not run
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    if line.startswith("gongkai: "):
                        said.append(line.strip().removeprefix("gongkai: "))
                    relay_line(line, logging.getLogger("gongkai.crawl"), site=name)
                code = proc.wait()
            finally:
                with self._lock:
                    self._children.pop(name, None)
            result = read_result(result_file)
        if code == EXIT_BUSY:
            return CrawlEnded("busy", "; ".join(said) or "site is being crawled by another process", result)
        if code == 0:
            return CrawlEnded("ok", None, result)
        if code < 0:
            return CrawlEnded("interrupted", f"crawl process ended by {signal.Signals(-code).name}", result)
        if code in (EXIT_INTERRUPTED, 128 + signal.SIGTERM):  # it stopped gracefully on a signal
            return CrawlEnded("interrupted", f"crawl stopped by {signal.Signals(code - 128).name}", result)
        if result is not None and result.problems:
            return CrawlEnded("failed", "; ".join(result.problems[-5:]), result)
        return CrawlEnded("failed", "; ".join(said[-5:]) or f"crawl exited with code {code}", result)

    def _record_run(self, name: str, ended: CrawlEnded) -> tuple[int | None, dict[str, Any], str | None]:
        """The run's id, counts (into metrics) and status; a row a dead child left 'running' is closed here.

        From the child's result; a child that ended without one (killed, crashed) is told about by its
        site's latest run, as the database has it once closed."""
        if ended.status == "busy":
            return None, {}, None
        with connect(self.database_url, autocommit=True) as conn:
            crawl_runs.mark_stale_runs(conn, [name])
            if ended.result is not None:
                run_id, stats, db_status = ended.result.run_id, dict(ended.result.counts), ended.result.status
            else:
                run_id = crawl_runs.latest_run_id(conn, name)
                if run_id is None:
                    return None, {}, None
                stats, db_status = crawl_runs.run_outcome(conn, run_id)
        self.metrics.pages_fetched.labels(name).inc(int(stats.get("fetched", 0) or 0))
        self.metrics.requests.labels(name).inc(int(stats.get("requests", 0) or 0))
        for reason in _FAILURE_REASONS:
            if stats.get(reason):
                self.metrics.page_failures.labels(name, reason).inc(int(stats[reason]))
        return run_id, stats, db_status

    # -- ingest -----------------------------------------------------------------------------------------
    def ingest(self, reason: str = "scheduled") -> None:
        """Ingest every pending staged page (on its interval, and after each crawl); then check the alarms."""
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
                state.record_job_event(self.database_url, "ingest", started=True)
            with connect(self.database_url) as conn:
                ingest_pending(conn, on_batch=on_batch)
        except _StopIngest:
            status = "interrupted"
        except Exception as exc:
            status, error = "failed", f"{exc.__class__.__name__}: {first_line(exc)}"
            logger.error("ingest failed: %s", error, extra={"job": "ingest"})
        finally:
            duration = time.monotonic() - started
            self.metrics.ingest_duration.observe(duration)
            self.metrics.running.labels("ingest").dec()
            if status == "ok":
                self.metrics.last_success.labels("ingest").set(time.time())
            if totals:
                self.alarms.check()
            if totals or reason == "scheduled":
                logger.info("ingest (%s) %s in %.1fs: %s", reason, status, duration,
                            ", ".join(f"{n} {k}" for k, n in sorted(totals.items())) or "nothing pending",
                            extra={"job": "ingest", "counts": dict(totals), "duration_s": round(duration, 3)})
            try:
                if reason == "scheduled":
                    state.record_job_event(self.database_url, "ingest", status=status, error=error)
            except (psycopg.Error, DatabaseError):
                pass
            self._leave()
