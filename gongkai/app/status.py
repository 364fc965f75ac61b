"""`gongkai status`: is the service running, and per site: last success, last failure and why,
reports stored, next run. Read from the database only, so it works from any machine and whether or
not the service is up.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import psycopg

from gongkai.config import ConfigError, ServiceConfig, config_path, load_config

STALE_HEARTBEAT_S = 30


def status_command(args: argparse.Namespace) -> int:
    from gongkai.db import open_database
    from gongkai.errors import UserError

    config: ServiceConfig | None = None
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        # No config file at the default place: show what the database knows. A named file must exist.
        if args.config or config_path(None).exists():
            raise UserError(str(exc)) from None
    _, conn = open_database()
    with conn:
        sys.stdout.write(render_status(conn, [s.name for s in config.sites] if config else None, config))
    sys.stdout.write(render_workers())
    return 0


def render_workers() -> str:
    """With REDIS_URL: the distributed crawls under way and the live crawl workers, with what each holds (requests
    in flight, host leases), and the `serve --role crawler` processes waiting for work. Empty without REDIS_URL."""
    from gongkai.crawler.distributed import (
        Job,
        connect,
        live_roles,
        prefix_from_env,
        redact_redis,
        redis_url_from_env,
    )

    redis_url = redis_url_from_env()
    if not redis_url:
        return ""
    try:
        server = connect(redis_url)
        prefix = prefix_from_env()
        lines = []
        roles = live_roles(server, prefix)
        jobs = sorted(j.decode() for j in server.smembers(f"{prefix}:jobs"))
        table = [("WORKER", "JOB", "RUN", "STATE", "IN FLIGHT", "LEASES ON", "PAGES", "REQUESTS")]
        for job_id in jobs:
            job = Job(server, job_id, prefix)
            try:
                desc = job.describe()
            except LookupError:
                continue
            alive, in_flight, holding, stats = job.alive(), job.in_flight(), job.holding(), job.stats()
            lines.append(f"distributed crawl {job_id[:8]} (run {desc.get('run_id')}, {len(desc.get('sites', []))} "
                         f"sites): {job.pending()} requests queued, {sum(in_flight.values())} in flight")
            for worker, info in sorted(job.workers().items()):
                if worker not in alive:
                    continue
                hosts = holding.get(worker, [])
                shown = ", ".join(hosts[:3]) + (f" +{len(hosts) - 3}" if len(hosts) > 3 else "") if hosts else "-"
                worker_stats = stats.get(worker, {})
                table.append((worker, job_id[:8], str(desc.get("run_id")), info.get("state", "?"),
                              str(in_flight.get(worker, 0)), shown, str(worker_stats.get("stage/fetched", 0)),
                              str(worker_stats.get("downloader/request_count", 0))))
        header = f"crawl workers (Redis {redact_redis(redis_url)}):"
        if len(table) == 1 and not roles:
            return header + " none alive\n"
        lines.insert(0, header)
        if len(table) > 1:
            widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
            lines.extend("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table)
        for name, info in sorted(roles.items()):
            jobs_of = ", ".join(j[:8] for j in info.get("jobs", {})) or "waiting for a crawl"
            lines.append(f"  crawler role {name} ({info.get('http_url', '-')}): {jobs_of}")
        return "\n".join(lines) + "\n"
    except Exception as exc:  # noqa: BLE001 - status reports what it can
        return f"crawl workers: Redis {redact_redis(redis_url)} unreachable ({exc.__class__.__name__})\n"


# A crawl run that counts as a site's refresh (`--full --revalidate` run to its end: ok, or failed on some
# listing; an interrupted one does not count), over crawl_runs aliased `r`. The service
# refreshes a site when its last such run is older than the site's `refresh` period (app/serve/jobs.py).
FINISHED_REFRESH = "r.full_walk AND r.revalidated AND r.status IN ('ok', 'failed')"


def site_rows(conn: psycopg.Connection, names: list[str] | None = None) -> list[dict[str, Any]]:
    """One dict per site: name, reports, last_success, last_refresh, last_failure, last_error, running,
    next_run."""
    if names is None:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sites UNION SELECT site FROM crawl_runs WHERE site IS NOT NULL ORDER BY 1")]
    rows = conn.execute(
        """SELECT n.name,
                  (SELECT count(*) FROM reports r WHERE r.site = n.name) AS reports,
                  (SELECT max(finished_at) FROM crawl_runs c WHERE c.site = n.name AND c.status = 'ok'),
                  (SELECT max(r.finished_at) FROM crawl_runs r WHERE r.site = n.name AND """ + FINISHED_REFRESH + """),
                  f.at, f.status, f.error,
                  EXISTS (SELECT 1 FROM crawl_runs c WHERE c.site = n.name AND c.status = 'running'),
                  j.next_run_at, j.schedule
           FROM unnest(%s::text[]) WITH ORDINALITY AS n(name, pos)
           LEFT JOIN LATERAL (SELECT COALESCE(c.finished_at, c.started_at) AS at, c.status, c.error
                              FROM crawl_runs c WHERE c.site = n.name AND c.status IN ('failed', 'interrupted')
                              ORDER BY c.id DESC LIMIT 1) f ON true
           LEFT JOIN service_jobs j ON j.job = 'crawl:' || n.name
           ORDER BY n.pos""", (names,)).fetchall()
    keys = ("site", "reports", "last_success", "last_refresh", "last_failure", "failure_status", "last_error", "running",
            "next_run", "schedule")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def service_line(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT pid, host, http_url, started_at, heartbeat_at, stopped_at, now() FROM service_state"
                       ).fetchone()
    if row is None:
        return "service: never started (run `gongkai serve`)"
    pid, host, http_url, started, beat, stopped, now = row
    if stopped is None and beat is not None and (now - beat).total_seconds() < STALE_HEARTBEAT_S:
        return f"service: running (pid {pid} on {host}, since {_when(started, now)}, {http_url})"
    if stopped is not None:
        return f"service: stopped {_when(stopped, now)}"
    return f"service: not responding (last heartbeat {_when(beat, now)}; killed?)"


def render_status(conn: psycopg.Connection, names: list[str] | None = None, config: ServiceConfig | None = None) -> str:
    now = conn.execute("SELECT now()").fetchone()[0]
    # A site with no column yet (a portal's home only) has nothing to crawl until discovery finds its columns;
    # the service may have some in memory (a sites file it could not write): the sites table has those.
    no_columns = set() if config is None else {s.name for s in config.sites if not s.listings} - {
        r[0] for r in conn.execute("SELECT name FROM sites WHERE cardinality(listings) > 0")}
    running_service = service_line(conn).startswith("service: running")
    lines = [service_line(conn)]
    pending = conn.execute("SELECT count(*) FROM staged_pages WHERE ingest_state = 'pending'").fetchone()[0]
    lines.append(f"ingest queue: {pending} staged pages pending")
    table = [("SITE", "REPORTS", "LAST SUCCESS", "LAST REFRESH", "LAST FAILURE", "NEXT RUN")]
    errors = []
    for r in site_rows(conn, names):
        failure = "-"
        if r["last_failure"] is not None:
            failure = f"{_when(r['last_failure'], now)} ({r['failure_status']})"
            if r["last_error"]:
                errors.append(f"  {r['site']}: {r['last_error'].splitlines()[0][:200]}")
        if r["running"]:
            nxt = "running now"
        elif r["site"] in no_columns:
            nxt = "no column yet"
        elif r["next_run"] is None:
            nxt = "-"
        else:
            nxt = _when(r["next_run"], now) + ("" if running_service else " (service not running)")
        table.append((r["site"], str(r["reports"]), _when(r["last_success"], now), _when(r["last_refresh"], now),
                      failure, nxt))
    if len(table) == 1:
        lines.append("no sites configured")
    else:
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        for row in table:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if errors:
        lines.append("last failures:")
        lines.extend(errors)
    lines += discovery_lines(conn, now, names, config, running_service)
    from gongkai.app.health import extraction_alarms, read_site_extraction

    alarms = extraction_alarms(read_site_extraction(conn, names))
    if alarms:
        lines.append("extraction alarms (the portal may have changed its pages; see `gongkai reingest`):")
        lines.extend(f"  {alarm.message}" for alarm in alarms)
    return "\n".join(lines) + "\n"


def discovery_lines(conn: psycopg.Connection, now: datetime, names: list[str] | None, config: ServiceConfig | None,
                    running_service: bool) -> list[str]:
    """Serve's discovery per portal (last run, its columns found, new and vanished, next run), then a line per
    vanished column: configured, no longer found on its portal, still crawled until a person removes it."""
    from gongkai.app import discovered

    runs = {r.site: r for r in discovered.latest_runs(conn)}
    if config is not None:
        portals = [s.name for s in config.sites if s.home]
    else:
        portals = sorted(runs)
    if not portals and not runs:
        return []
    counts = discovered.portal_counts(conn)
    nexts = dict(conn.execute("SELECT site, next_run_at FROM service_jobs WHERE job LIKE 'discover:%'").fetchall())
    every = "" if config is None else (f" ({config.discovery.describe()})" if config.discovery else " (never: "
                                      "`discovery: never` in the sites file)")
    lines = [f"discovery{every}:"]
    table = [("PORTAL", "LAST RUN", "RESULT", "COLUMNS", "NEW", "VANISHED", "NEXT RUN")]
    for site in portals:
        run = runs.get(site)
        last, result = ("-", "-") if run is None else (_when(run.finished_at, now), run.status)
        nxt = nexts.get(site)
        shown_next = "-" if nxt is None else _when(nxt, now) + ("" if running_service else " (service not running)")
        table.append((site, last, result, str(counts.get((site, "found"), 0) + counts.get((site, "new"), 0)),
                      str(counts.get((site, "new"), 0)), str(counts.get((site, "vanished"), 0)), shown_next))
    if len(table) > 1:
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        lines.extend("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table)
    failed = [r for r in runs.values() if r.site in portals and r.status in ("failed", "busy") and r.error]
    lines.extend(f"  {r.site}: last discovery {r.status}: {r.error.splitlines()[0][:200]}" for r in failed)
    unwritten = [(site, url) for site, url in discovered.memory_only_columns(conn) if names is None or site in names]
    if unwritten:
        lines.append("columns crawled from memory (the service could not write them into the sites file; add them):")
        lines.extend(f"  {site}: {url}" for site, url in unwritten)
    gone = discovered.vanished_columns(conn, names)
    if gone:
        lines.append("vanished columns (no longer found on their portal; still crawled: remove them from the sites "
                     "file when they are gone for good):")
        for c in gone:
            what = " ".join(p for p in (c["town"], c["name"]) if p)
            lines.append(f"  {c['site']}: {what + ' ' if what else ''}{c['url']} ({c['why'] or 'not found'}, since "
                         f"{_when(c['vanished_at'], now)})")
    return lines


def _when(at: datetime | None, now: datetime) -> str:
    """'2025-01-02 03:04 UTC (5m ago)' / '(in 2h)'; '-' for never."""
    if at is None:
        return "-"
    delta = (at - now).total_seconds()
    span = abs(delta)
    if span < 90:
        rel = f"{span:.0f}s"
    elif span < 5400:
        rel = f"{span / 60:.0f}m"
    elif span < 172800:
        rel = f"{span / 3600:.0f}h"
    else:
        rel = f"{span / 86400:.0f}d"
    rel = f"in {rel}" if delta > 0 else f"{rel} ago"
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({rel})"
