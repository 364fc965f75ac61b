"""Serve's discovery job: every site with a `home` is walked again on the `discovery:` schedule (weekly by
default), so new report columns join the crawl and vanished ones are reported, with nobody editing the file.

One run of `discover:<site>`:
- waits for the portal's host to be free (the per-host crawl lock a crawl holds, gongkai/crawler/runs.py):
  discovery never loads a portal while it is being crawled, and a crawl waits for a discovery the same way;
- walks the portal as `gongkai discover` does (gongkai/app/discover.py: robots.txt, the site's delay, at
  most DEFAULT_MAX_PAGES requests), in this process, stopping at once when the service stops;
- compares what it found with every configured listing on the portal's host (whichever site lists it):
  a column found and not configured is new: it is written into the site's entry in the sites file
  (comments kept; `add_listings`) and the site's crawl runs next. A file that cannot be written is one log
  line; the columns are then crawled from memory (an overlay config handed to the crawl process) and
  recorded in the database, from where a restarted service takes them again;
- a configured column it no longer finds is vanished when the run was conclusive (the whole navigation
  read, no page that failed to answer): its page is asked for once more to say why (HTTP 404, moved, or
  no longer linked). It stays in the config and is still crawled: a person decides;
- records the run and each column's state (gongkai/app/discovered.py), logs a line, sets the metrics.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import yaml

from gongkai.app import discovered
from gongkai.app.discover import DEFAULT_MAX_PAGES, MERGING, Discovery, ReportColumn, discover
from gongkai.app.discovered import ColumnState
from gongkai.app.serve import state
from gongkai.app.serve.common import first_line, logger
from gongkai.app.serve.http import Metrics
from gongkai.app.serve.jobs import HOST_LOCK_WAIT, Jobs
from gongkai.app.sites_file import with_listings, write_validated
from gongkai.config import ConfigError, ServiceConfig, SiteConfig, load_config
from gongkai.crawler import runs
from gongkai.crawler.discovery import column_key
from gongkai.crawler.polite import Fetched, PageBudgetExhausted, PoliteFetcher, RobotsDisallowed
from gongkai.crawler.settings import DEFAULT_DELAY
from gongkai.db import DatabaseError, connect
from gongkai.errors import PortalUnreadable, ServiceBusy
from gongkai.urls import host_key

MAX_VANISHED_CHECKS = 50  # configured columns asked for once more, per run, to say why they vanished


class _Stopped(Exception):
    """The service is stopping: the walk ends where it is."""


@dataclass
class ServiceFetcher(PoliteFetcher):
    """Discovery's polite fetcher inside serve: it stops when the service stops, and counts the answers that
    say nothing about the portal's navigation (5xx, 429, no answer), after which a run is not conclusive."""

    stopping: threading.Event = field(default_factory=threading.Event)
    failures: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.sleep = self._sleep

    def _sleep(self, seconds: float) -> None:
        if self.stopping.wait(seconds):
            raise _Stopped

    def get(self, url: str, headers: dict[str, str] | None = None) -> Fetched:
        return self._counted(lambda: PoliteFetcher.get(self, url, headers))

    def post(self, url: str, form: dict[str, str], headers: dict[str, str] | None = None) -> Fetched:
        return self._counted(lambda: PoliteFetcher.post(self, url, form, headers))

    def _counted(self, fetch: Callable[[], Fetched]) -> Fetched:
        if self.stopping.is_set():
            raise _Stopped
        try:
            got = fetch()
        except PortalUnreadable:
            self.failures += 1
            raise
        if got.status >= 500 or got.status == 429:
            self.failures += 1
        return got


# -- comparing what was found with the config -----------------------------------------------------------------

def portal_host(url: str) -> str:
    return host_key(url).removeprefix("www.")


@dataclass
class Comparison:
    """One discovery against the config: columns found that are configured (url -> its site), new ones, and
    configured columns of the portal's host it did not find (url -> site)."""

    found: dict[str, tuple[str, ReportColumn]] = field(default_factory=dict)
    new: list[ReportColumn] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)


def compare(config: ServiceConfig, home: str, found: Discovery) -> Comparison:
    """What is new, still there and missing. A column is known by its column_key (any form of its URL), and
    belongs to whichever site lists it: a county's discovery finds its towns' columns that other sites list."""
    host = portal_host(home)
    owner = {column_key(u): (s.name, u) for s in config.sites for u in s.listings}
    out = Comparison()
    seen: set[str] = set()
    for column in found.columns:
        key = column_key(column.url)
        if key in seen:
            continue
        seen.add(key)
        if key in owner:
            site, url = owner[key]
            out.found[url] = (site, column)
        else:
            out.new.append(column)
    for key, (site, url) in owner.items():
        if key not in seen and portal_host(url) == host:
            out.missing[url] = site
    return out


def vanished_why(fetcher: PoliteFetcher, url: str, found: Discovery) -> str | None:
    """Why a configured column the walk did not find has vanished, asking its page once: 'HTTP 404', 'moved to
    URL' or 'not linked from the portal any more'; None when its page did not answer (not decided this run)."""
    moved = {column_key(c.moved_from): c.url for c in found.columns if c.moved_from}
    if column_key(url) in moved:
        return f"moved to {moved[column_key(url)]}"
    try:
        got = fetcher.get(url)
    except (RobotsDisallowed, PortalUnreadable, PageBudgetExhausted):
        return None
    if got.status in (404, 410):
        return f"HTTP {got.status}"
    if got.status != 200:
        return None
    if got.redirected_from and column_key(got.url) != column_key(url):
        return f"moved to {got.url}"
    return "not linked from the portal any more"


# -- the sites file -----------------------------------------------------------------------------------------

def add_listings(config_file: Path, site: str, columns: list[ReportColumn]) -> None:
    """Add `columns` to the listings of `site` (the one whose home was walked) in the sites file, through the
    text edits `gongkai sites add` and `discover --add` use (comments, order and layout kept; the file checked
    to load, else put back and ConfigError raised), under discover's one-writer-at-a-time lock. OSError when
    the file cannot be written."""
    with MERGING:
        original = config_file.read_text(encoding="utf-8")
        configured = next((s for s in load_config(config_file).sites if s.name == site), None)
        if configured is None:
            raise ConfigError(f"{config_file}: no site {site!r} in it any more")
        items = [f"{c.url}   # {f'{c.town} {c.name}'.strip()} (found by serve's discovery {date.today():%Y-%m-%d})"
                 for c in columns]
        write_validated(config_file, original, with_listings(original, config_file, configured, items))


def overlay_config(path: Path, site: SiteConfig) -> None:
    """A sites file holding `site` as this service has it in memory (with columns the real file could not
    take), for its crawl process: `gongkai crawl --site NAME --config <this file>`."""
    entry: dict[str, Any] = {"name": site.name}
    region = {k: v for k, v in vars(site.region).items() if v}
    if region:
        entry["region"] = region
    if site.home:
        entry["home"] = site.home
    if site.platform:
        entry["platform"] = site.platform
    if site.delay is not None:
        entry["delay"] = site.delay
    if site.concurrency is not None:
        entry["concurrency"] = site.concurrency
    entry["listings"] = list(site.listings)
    path.write_text("# written by gongkai serve: the sites file could not take the columns discovery found\n"
                    + yaml.safe_dump({"sites": [entry]}, allow_unicode=True, sort_keys=False), encoding="utf-8")


# -- the job ------------------------------------------------------------------------------------------------

@dataclass
class RunOutcome:
    status: str  # ok | partial | failed | interrupted | busy
    requests: int = 0
    states: list[ColumnState] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    error: str | None = None

    def count(self, which: str) -> int:
        return sum(1 for c in self.states if c.state == which)


class Discoveries:
    """The `discover:<site>` jobs. `on_site_changed(site)` is called with a site's new config when discovery
    added columns to it (the scheduler then syncs it and runs its crawl)."""

    def __init__(self, config: ServiceConfig, database_url: str, metrics: Metrics, stopping: threading.Event,
                 jobs: Jobs) -> None:
        self.config = config
        self.database_url = database_url
        self.metrics = metrics
        self.stopping = stopping
        self.jobs = jobs
        self.on_site_changed: Callable[[SiteConfig], None] = lambda site: None
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._overlay_dir: tempfile.TemporaryDirectory[str] | None = None
        self._memory_only: set[str] = set()  # column keys of the columns the sites file could not take

    def running(self) -> list[str]:
        with self._lock:
            return sorted(self._running)

    def close(self) -> None:
        if self._overlay_dir is not None:
            self._overlay_dir.cleanup()
            self._overlay_dir = None

    # -- start ------------------------------------------------------------------------------------------
    def restore(self, conn: psycopg.Connection) -> list[SiteConfig]:
        """At start: the metrics from what earlier runs recorded, and the columns an earlier run could not write
        into the sites file, back in memory. Returns the sites that changed."""
        self.publish(conn)
        extra: dict[str, list[str]] = {}
        for site, url in discovered.memory_only_columns(conn):
            extra.setdefault(site, []).append(url)
        changed = []
        configured = {column_key(u) for s in self.config.sites for u in s.listings}
        for name, urls in extra.items():
            site = next((s for s in self.config.sites if s.name == name), None)
            urls = [u for u in urls if column_key(u) not in configured]
            if site is None or not urls:
                continue
            site = replace(site, listings=(*site.listings, *urls))
            self._memory_only.update(column_key(u) for u in urls)
            self._use_in_memory(site)
            changed.append(site)
            logger.warning("%d columns discovery found for %s are not in %s (it could not be written): crawled from "
                           "the database's record", len(urls), name, self.config.path, extra={"site": name})
        return changed

    def publish(self, conn: psycopg.Connection) -> None:
        """Set the discovery gauges from the database."""
        counts = discovered.column_counts(conn)
        sites = {s.name for s in self.config.sites} | {site for site, _ in counts}
        for site in sites:
            for which in discovered.STATES:
                self.metrics.discovery_columns.labels(site, which).set(counts.get((site, which), 0))
        for site, at in discovered.last_runs(conn).items():
            if at is not None:
                self.metrics.discovery_last_run.labels(site).set(at.timestamp())

    # -- one run ----------------------------------------------------------------------------------------
    def run(self, name: str) -> None:
        """The scheduled discovery of site `name`'s portal."""
        job = f"discover:{name}"
        with self.jobs.running() as entered:
            if not entered:
                return
            with self._lock:
                self._running.add(name)
            self.metrics.running.labels("discovery").inc()
            started = time.monotonic()
            outcome = RunOutcome("failed")
            try:
                state.record_job_event(self.database_url, job, started=True)
                outcome = self._run(name)
            except Exception as exc:  # the scheduler must survive anything one job does
                outcome = RunOutcome("failed", error=f"{exc.__class__.__name__}: {first_line(exc)}")
                logger.exception("discovery job of %s failed", name, extra={"site": name})
            finally:
                self.metrics.running.labels("discovery").dec()
                with self._lock:
                    self._running.discard(name)
                self.metrics.discovery_runs.labels(name, outcome.status).inc()
                if outcome.status in ("ok", "partial"):
                    self.metrics.last_success.labels(job).set(time.time())
                    self.metrics.discovery_last_run.labels(name).set(time.time())
                try:
                    state.record_job_event(self.database_url, job, status=outcome.status, error=outcome.error)
                except (psycopg.Error, DatabaseError) as exc:
                    logger.warning("could not record the end of %s: %s", job, first_line(exc))
            duration = time.monotonic() - started
            logger.log(logging.INFO if outcome.status in ("ok", "partial", "interrupted") else logging.WARNING,
                       "discovery of %s %s in %.1fs: %d columns found, %d new, %d vanished; %d requests%s", name,
                       outcome.status, duration, outcome.count("found") + outcome.count("new"), outcome.count("new"),
                       outcome.count("vanished"), outcome.requests, f" ({outcome.error})" if outcome.error else "",
                       extra={"site": name, "job": job, "status": outcome.status, "duration_s": round(duration, 3),
                              "new": outcome.added, "error": outcome.error})

    def _run(self, name: str) -> RunOutcome:
        site = self.config.site(name)
        assert site.home is not None
        fetcher = ServiceFetcher(delay=DEFAULT_DELAY if site.delay is None else site.delay,
                                 max_pages=DEFAULT_MAX_PAGES, stopping=self.stopping)
        with connect(self.database_url, autocommit=True) as conn:
            locked = self._lock_host(conn, name, site.home)
            # Recorded once the host is ours: a run's times never overlap a crawl's of the same host.
            run_id = discovered.start_run(conn, name, site.home)
            outcome = RunOutcome("failed")
            try:
                if not locked:
                    stopped = self.stopping.is_set()
                    outcome = RunOutcome("interrupted" if stopped else "busy", error=None if stopped else
                                         f"{host_key(site.home)} was being crawled for over {HOST_LOCK_WAIT}s")
                else:
                    outcome = self._walk(name, site.home, fetcher, run_id, conn)
            except _Stopped:
                outcome = RunOutcome("interrupted", fetcher.requests, error="service stopping")
            except PortalUnreadable as exc:
                outcome = RunOutcome("failed", fetcher.requests, error=str(exc))
            finally:
                discovered.finish_run(conn, run_id, outcome.status, requests=outcome.requests,
                                      found=outcome.count("found"), new=outcome.count("new"),
                                      vanished=outcome.count("vanished"), error=outcome.error)
                if locked:
                    runs.unlock_host(conn, host_key(site.home))
                if outcome.status in ("ok", "partial"):
                    self.publish(conn)
        if outcome.added:
            self.on_site_changed(self.config.site(name))
        return outcome

    def _lock_host(self, conn: psycopg.Connection, name: str, home: str) -> bool:
        """Wait (at most HOST_LOCK_WAIT, and never past the service's stop) for the portal's crawl lock."""
        deadline = time.monotonic() + HOST_LOCK_WAIT
        told = False
        while True:
            try:
                runs.lock_hosts(conn, [host_key(home)])
                return True
            except ServiceBusy:
                if not told:
                    logger.info("discovery of %s waits for %s, which holds %s", name,
                                runs.lock_holder(conn, host_key(home)), host_key(home), extra={"site": name})
                    told = True
            if time.monotonic() >= deadline or self.stopping.wait(1.0):
                return False

    def _walk(self, name: str, home: str, fetcher: ServiceFetcher, run_id: int, conn: psycopg.Connection) -> RunOutcome:
        found = discover(home, fetcher=fetcher)
        conclusive = found.complete and not fetcher.failures
        result = compare(self.config, home, found)
        states: list[ColumnState] = []
        known_lost = discovered.vanished_urls(conn, name)
        for url, (owner, column) in result.found.items():
            states.append(_state(url, owner, "found", column, in_file=column_key(url) not in self._memory_only))
        for url, owner in list(result.missing.items())[:MAX_VANISHED_CHECKS] if conclusive else ():
            why = vanished_why(fetcher, url, found)
            if why is not None:
                states.append(ColumnState(url=url, site=owner, state="vanished", why=why))
            if why is not None and url not in known_lost:
                logger.warning("discovery of %s: column %s of %s has vanished (%s); it stays in the config and is "
                               "still crawled until a person removes it", name, url, owner, why,
                               extra={"site": owner, "url": url, "why": why})
        added: list[str] = []
        if result.new:
            in_file = self._add_to_file(name, result.new)
            site = self.config.site(name)
            site = replace(site, listings=(*site.listings, *(c.url for c in result.new)))
            if in_file:
                self._replace_site(site)
            else:
                self._memory_only.update(column_key(c.url) for c in result.new)
                self._use_in_memory(site)
            added = [c.url for c in result.new]
            states += [_state(c.url, name, "new", c, in_file=in_file) for c in result.new]
        discovered.record_columns(conn, run_id, name, states, conclusive=conclusive, keep=list(result.missing))
        if not conclusive:
            why = "stopped at the page bound" if not found.complete else f"{fetcher.failures} requests got no answer"
            logger.warning("discovery of %s was partial (%s): no column is taken for vanished this time", name, why,
                           extra={"site": name})
        return RunOutcome("ok" if conclusive else "partial", fetcher.requests, states, added,
                          None if conclusive else "; ".join(found.notes[-3:]) or None)

    def _add_to_file(self, name: str, columns: list[ReportColumn]) -> bool:
        """Write the new columns into the site's entry in the sites file; False (one log line) when it cannot."""
        path = self.config.path
        try:
            # Someone may have added some meanwhile (`gongkai discover --add` beside the running service).
            there = {column_key(u) for s in load_config(path).sites for u in s.listings}
            columns = [c for c in columns if column_key(c.url) not in there]
            if columns:
                add_listings(path, name, columns)
        except (OSError, ConfigError) as exc:
            logger.warning("discovery of %s: %s not written (%s): its %d new columns are crawled from memory; add "
                           "them to the file by hand (`gongkai status` lists them)", name, path,
                           first_line(exc) if isinstance(exc, ConfigError) else exc.strerror or exc, len(columns),
                           extra={"site": name, "new": [c.url for c in columns]})
            return False
        if columns:
            logger.info("discovery of %s: %d new columns added to %s: %s", name, len(columns), path,
                        ", ".join(f"{c.town} {c.name}" for c in columns), extra={"site": name})
        return True

    def _replace_site(self, site: SiteConfig) -> None:
        self.config = replace(self.config, sites=tuple(site if s.name == site.name else s for s in self.config.sites))

    def _use_in_memory(self, site: SiteConfig) -> None:
        """The site's crawls read `site` from an overlay file (the sites file does not have its new columns)."""
        self._replace_site(site)
        if self._overlay_dir is None:
            self._overlay_dir = tempfile.TemporaryDirectory(prefix="gongkai-serve-")
        path = Path(self._overlay_dir.name) / f"{site.name}.yaml"
        overlay_config(path, site)
        self.jobs.overlays[site.name] = path


def _state(url: str, site: str, which: str, column: ReportColumn, *, in_file: bool = True) -> ColumnState:
    newest = None
    if column.newest:
        try:
            newest = date.fromisoformat(column.newest[:10])
        except ValueError:
            newest = None
    return ColumnState(url=url, site=site, state=which, town=column.town or None, name=column.name or None,
                       platform=column.platform, rows=column.rows, newest=newest, in_file=in_file)
