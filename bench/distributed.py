"""Distributed mode: crawl throughput with 1, 2 and 4 crawl workers sharing one scrapy-redis frontier (and
the single-process crawl without Redis), ingest throughput with 1, 2 and 4 ingest workers, and where the
CPU went, which is what limits both on a 2-core machine.

Needs Redis (REDIS_URL or GONGKAI_TEST_REDIS_URL, default redis://127.0.0.1:6379/0). Every run crawls the
same replica portals into a fresh database; ingest runs start from copies of one crawled database.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
import uuid

import psycopg

from bench.__main__ import drop_database, scratch_database

REDIS_URL = os.environ.get("GONGKAI_TEST_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


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


def run(results: dict, quick: bool) -> None:
    import redis

    from bench.scale import scaled_sites
    from gongkai_replica.server import ReplicaServer

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        if not quick:
            raise
        results["distributed"] = {"skipped": f"no Redis at {REDIS_URL}: {exc}"}
        return
    n_sites, per_site = (2, 10) if quick else (8, 60)
    worker_counts = (1, 2) if quick else (1, 2, 4)
    sites = scaled_sites(n_sites, per_site)
    crawl_rows = []
    keep: str | None = None
    with ReplicaServer(sites) as server:
        listings = [u for s in sites for u in server.listing_urls(s.name)]
        for workers in (None, *worker_counts):
            database_url = scratch_database()
            env = {**os.environ, "DATABASE_URL": database_url}
            command = [sys.executable, "-m", "gongkai", "crawl", *listings, "--delay", "0", "--no-ingest"]
            if workers is None:
                env.pop("REDIS_URL", None)
            else:
                env.update(REDIS_URL=REDIS_URL, GONGKAI_REDIS_PREFIX=f"gongkai_bench_{uuid.uuid4().hex[:8]}")
                command += ["--workers", str(workers)]
            wall, cpu, replica_cpu = _timed(command, env)
            with psycopg.connect(database_url) as conn:
                staged, distinct = conn.execute("SELECT count(*), count(DISTINCT url) FROM staged_pages").fetchone()
                requests = conn.execute("SELECT (stats->>'requests')::int FROM crawl_runs").fetchone()[0]
            assert staged == distinct == n_sites * per_site, (staged, distinct)
            crawl_rows.append({"crawl_workers": workers or "single process, no Redis", "requests": requests,
                               "wall_s": round(wall, 2), "requests_per_s": round(requests / wall, 1),
                               "crawl_cpu_s": round(cpu, 1), "replica_cpu_s": round(replica_cpu, 1),
                               "cpu_busy": round((cpu + replica_cpu) / (wall * (os.cpu_count() or 1)), 2)})
            if workers is None:
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
    base_crawl = crawl_rows[1]["requests_per_s"]
    base_ingest = ingest_rows[0]["pages_per_s"]
    for row in crawl_rows[1:]:
        row["speedup_vs_1_worker"] = round(row["requests_per_s"] / base_crawl, 2)
    for row in ingest_rows:
        row["speedup_vs_1_worker"] = round(row["pages_per_s"] / base_ingest, 2)
    results["distributed"] = {"sites": n_sites, "articles": n_sites * per_site, "cores": os.cpu_count(),
                              "crawl": crawl_rows, "ingest": ingest_rows}
