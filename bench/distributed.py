"""Distributed mode: crawl wall time with 1, 2 and 4 crawl workers sharing one frontier in Redis, against the
single-process crawl (no Redis) and against the politeness bound, at delay 0 and at a polite delay, on >= 30
hosts; CPU per page; ingest throughput with 1, 2 and 4 ingest workers.

The politeness bound of a crawl is what no schedule can beat: the busiest host's requests x delay (its
requests must start `delay` apart on average). Each replica request takes PAUSE seconds (a real portal's
answer time, not loopback's), so requests in flight overlap as they do against real servers.

Needs Redis (REDIS_URL or GONGKAI_TEST_REDIS_URL, default redis://127.0.0.1:6379/0). Every run crawls the
same replica portals into a fresh database; all figures of one run are compared as ratios (the machine is
shared: absolute times drift between runs).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict

import psycopg

from bench.__main__ import drop_database, scratch_database

REDIS_URL = os.environ.get("GONGKAI_TEST_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
PAUSE = 0.05  # seconds each replica request takes
CONCURRENCY = 2


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of the command and its descendants, CPU seconds of this process: the
    replica server's threads)."""
    children, own = _cpu(resource.RUSAGE_CHILDREN), _cpu(resource.RUSAGE_SELF)
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600,
                            stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    assert result.returncode == 0, result.stderr[-2000:]
    return wall, _cpu(resource.RUSAGE_CHILDREN) - children, _cpu(resource.RUSAGE_SELF) - own


def _paused_replica(sites):
    from gongkai_replica.server import ReplicaServer

    class PausedReplica(ReplicaServer):
        def _route(self, site, method, path, query, form, headers=None):
            time.sleep(PAUSE)
            return super()._route(site, method, path, query, form, headers=headers)

    return PausedReplica(sites)


def crawl_row(server, listings: list[str], workers: int | None, delay: float, n_articles: int) -> tuple[dict, str]:
    """One crawl (workers None: one process, no Redis) into a fresh database: its figures, and the database."""
    database_url = scratch_database()
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "gongkai", "crawl", *listings, "--delay", str(delay), "--concurrency",
               str(CONCURRENCY), "--no-ingest"]
    if workers is None:
        env.pop("REDIS_URL", None)
    else:
        env.update(REDIS_URL=REDIS_URL, GONGKAI_REDIS_PREFIX=f"gongkai_bench_{uuid.uuid4().hex[:8]}")
        command += ["--workers", str(workers)]
    server.clear_requests()
    wall, cpu, replica_cpu = _timed(command, env)
    log = server.requests
    with psycopg.connect(database_url) as conn:
        staged, distinct = conn.execute("SELECT count(*), count(DISTINCT url) FROM staged_pages").fetchone()
        frontier = conn.execute("SELECT count(*), count(*) FILTER (WHERE state = 'pending') FROM crawl_urls").fetchone()
    # every article (and the report files they link) fetched, and once
    assert distinct >= n_articles and staged == distinct == frontier[0] and not frontier[1], (staged, distinct, frontier)
    per_host = Counter(entry.site for entry in log)
    busiest = max(per_host.values())
    start = min(entry.time for entry in log)
    windows: dict[int, set[str]] = defaultdict(set)
    for entry in log:
        windows[int((entry.time - start) // 5)].add(entry.site)
    full = [len(windows[k]) for k in sorted(windows)][:-1] or [len(windows[0])]  # the last window is partial
    row = {"crawl_workers": workers or "one process", "delay": delay, "requests": len(log),
           "wall_s": round(wall, 1), "busiest_host_requests": busiest,
           "hosts_per_5s_window_median": statistics.median(full),
           "crawl_cpu_s": round(cpu, 1), "cpu_ms_per_page": round(cpu / staged * 1000, 1),
           "replica_cpu_s": round(replica_cpu, 1)}
    if delay:
        row["politeness_bound_s"] = round(busiest * delay, 1)
        row["wall_vs_bound"] = round(wall / (busiest * delay), 2)
    return row, database_url


def run(results: dict, quick: bool) -> None:
    import redis

    from bench.scale import scaled_sites

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        if not quick:
            raise
        results["distributed"] = {"skipped": f"no Redis at {REDIS_URL}: {exc}"}
        return
    n_sites, per_site = (4, 10) if quick else (30, 100)
    delays = (0.0,) if quick else (0.0, 0.5)  # --quick: a smoke of the code paths, one setting
    worker_counts = (2,) if quick else (1, 2, 4)
    sites = scaled_sites(n_sites, per_site)
    crawl_rows = []
    keep: str | None = None
    with _paused_replica(sites) as server:
        listings = [u for s in sites for u in server.listing_urls(s.name)]
        for delay in delays:
            single = None
            for workers in (None, *worker_counts):
                row, database_url = crawl_row(server, listings, workers, delay, n_sites * per_site)
                if workers is None:
                    single = row["wall_s"]
                row["wall_vs_one_process"] = round(row["wall_s"] / single, 2)
                crawl_rows.append(row)
                print(row, file=sys.stderr, flush=True)
                if workers is None and delay == 0 and keep is None:
                    keep = database_url
                else:
                    drop_database(database_url)
    assert keep is not None
    ingest_rows = []
    try:
        for workers in worker_counts:
            database_url = scratch_database(template=keep)
            try:
                env = {**os.environ, "DATABASE_URL": database_url}
                wall, cpu, _ = _timed([sys.executable, "-m", "gongkai", "ingest", "--workers", str(workers)], env)
                with psycopg.connect(database_url) as conn:
                    pages = conn.execute("SELECT count(*) FROM staged_pages WHERE ingest_state <> 'pending'"
                                         ).fetchone()[0]
                ingest_rows.append({"ingest_workers": workers, "pages": pages, "wall_s": round(wall, 2),
                                    "pages_per_s": round(pages / wall, 1), "cpu_s": round(cpu, 1)})
            finally:
                drop_database(database_url)
    finally:
        drop_database(keep)
    base_ingest = ingest_rows[0]["pages_per_s"]
    for row in ingest_rows:
        row["speedup_vs_1_worker"] = round(row["pages_per_s"] / base_ingest, 2)
    results["distributed"] = {"sites": n_sites, "articles": n_sites * per_site, "cores": os.cpu_count(),
                              "pause_s": PAUSE, "concurrency": CONCURRENCY, "crawl": crawl_rows,
                              "ingest": ingest_rows}
