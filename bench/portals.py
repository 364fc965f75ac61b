"""Scale: 10, 100 and 1,000 replica portals, each on its own loopback address (127.0.x.y), crawled and
ingested end to end with the default politeness (2 requests in flight per host, 1 s between requests
to a host, ±50 % jitter), then crawled again routinely (every article known: robots.txt and the first
listing page of each column only).

Per size: wall time, requests/s across hosts, and what it costs per portal (wall and CPU seconds of
the crawl process, of the ingest processes, and of the replica server's threads in this process),
so growth from 10 to 1,000 portals shows as a change in per-portal cost.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time

import psycopg

from bench.__main__ import drop_database, scratch_database
from bench.memory import _env, measured

COLUMNS = 3  # per portal
PER_COLUMN = 4  # articles per column
INGEST_WORKERS = 2
# RSS samples of the crawl's process tree: rarely, as they cost this process (the replica's) CPU too.
SAMPLE_SECONDS = 1.0


def _raise_open_files(needed: int) -> int:
    """Raise the soft RLIMIT_NOFILE (the crawl inherits it): each portal holds a listening socket and
    up to 2 keep-alive connections, both ends of which live on this machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _ThreadPeak(threading.Thread):
    """Samples this process's thread count: the replica's acceptor plus one thread per open connection."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = threading.active_count()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.peak = max(self.peak, threading.active_count())


def measure_portals(n_portals: int, delay: float | None = None) -> dict:
    """Crawl, ingest and re-crawl n_portals fresh portals; delay None: the crawl's default politeness."""
    from bench.scale import bulk_sites
    from gongkai_replica.server import ReplicaServer

    sites = bulk_sites(n_portals, COLUMNS * PER_COLUMN, columns=COLUMNS)
    database_url = scratch_database()
    env = _env(database_url)
    row: dict = {"portals": n_portals, "listings": n_portals * COLUMNS, "articles": n_portals * COLUMNS * PER_COLUMN}
    try:
        started = time.perf_counter()
        with ReplicaServer(sites) as server:
            row["replica_start_seconds"] = round(time.perf_counter() - started, 2)
            listings = [u for s in sites for u in server.listing_urls(s.name)]
            crawl = [sys.executable, "-m", "gongkai", "crawl", *listings, "--no-ingest",
                     *([] if delay is None else ["--delay", str(delay)])]
            threads = _ThreadPeak()
            threads.start()
            cpu = _own_cpu()
            row["crawl"] = measured(crawl, env, sample_seconds=SAMPLE_SECONDS)
            row["crawl"]["replica_cpu_seconds"] = round(_own_cpu() - cpu, 1)
            threads.done.set()
            row["crawl"]["replica_threads_peak"] = threads.peak
            with psycopg.connect(database_url) as conn:
                seconds, stats = conn.execute(
                    "SELECT extract(epoch FROM finished_at - started_at)::float, stats FROM crawl_runs").fetchone()
                row["staged"] = conn.execute("SELECT count(*) FROM staged_pages").fetchone()[0]
            row["crawl"].update(requests=stats["requests"], crawl_run_seconds=round(seconds, 1),
                                requests_per_s=round(stats["requests"] / seconds, 1))
            ingest = [sys.executable, "-m", "gongkai", "ingest", "--workers", str(INGEST_WORKERS)]
            row["ingest"] = measured(ingest, env, sample_seconds=SAMPLE_SECONDS)
            with psycopg.connect(database_url) as conn:
                row["reports"] = conn.execute("SELECT count(*) FROM reports").fetchone()[0]
            cpu = _own_cpu()
            row["recrawl"] = measured(crawl, env, sample_seconds=SAMPLE_SECONDS)
            row["recrawl"]["replica_cpu_seconds"] = round(_own_cpu() - cpu, 1)
            with psycopg.connect(database_url) as conn:
                seconds, stats = conn.execute(
                    """SELECT extract(epoch FROM finished_at - started_at)::float, stats FROM crawl_runs
                       ORDER BY id DESC LIMIT 1""").fetchone()
            row["recrawl"].update(requests=stats["requests"], crawl_run_seconds=round(seconds, 1),
                                  requests_per_s=round(stats["requests"] / seconds, 1))
    finally:
        drop_database(database_url)
    crawl, ingest, recrawl = row["crawl"], row["ingest"], row["recrawl"]
    row["end_to_end_seconds"] = round(crawl["seconds"] + ingest["seconds"], 1)
    n = n_portals
    row["per_portal"] = {
        "crawl_seconds": round(crawl["seconds"] / n, 3),
        "crawl_cpu_seconds": round(crawl["cpu_seconds"] / n, 3),
        "replica_cpu_seconds": round(crawl["replica_cpu_seconds"] / n, 3),
        "ingest_seconds": round(ingest["seconds"] / n, 3),
        "ingest_cpu_seconds": round(ingest["cpu_seconds"] / n, 3),
        "end_to_end_seconds": round(row["end_to_end_seconds"] / n, 3),
        "recrawl_seconds": round(recrawl["seconds"] / n, 3),
        "recrawl_cpu_seconds": round(recrawl["cpu_seconds"] / n, 3),
        "requests": round(crawl["requests"] / n, 1),
    }
    return row


def run(results: dict, quick: bool) -> None:
    sizes = (5,) if quick else (10, 100, 1000)
    delay = 0.1 if quick else None  # the smoke run needs seconds, not 16 requests a second apart per host
    open_files = _raise_open_files(max(sizes) * 8 + 1024)
    from gongkai.crawler.settings import DEFAULT_CONCURRENCY_PER_HOST, DEFAULT_DELAY, crawl_settings

    defaults = crawl_settings("", None)
    rows = []
    for n in sizes:
        print(f"bench: scale: {n} portals ...", file=sys.stderr, flush=True)
        rows.append(measure_portals(n, delay))
        print(f"bench: scale: {json.dumps(rows[-1])}", file=sys.stderr, flush=True)
    results["scale"] = {
        "politeness": {"concurrency_per_host": DEFAULT_CONCURRENCY_PER_HOST,
                       "delay_seconds": DEFAULT_DELAY if delay is None else delay,
                       "delay_jitter": defaults["DOWNLOAD_DELAY_JITTER"],
                       "concurrent_requests": defaults["CONCURRENT_REQUESTS"]},
        "portal": {"columns": COLUMNS, "articles": COLUMNS * PER_COLUMN}, "ingest_workers": INGEST_WORKERS,
        "open_files_limit": open_files, "runs": rows,
    }
