"""Memory: peak RSS of `gongkai crawl --no-ingest` and of `gongkai ingest`, each its own process, as
the crawl grows (10k, 30k, 100k replica pages), plus a routine re-crawl of the 100k-page database
(every article then sits in the spider's `known` set).

The replica server runs in this process, so it is never part of what is measured. Two numbers per run:
- `peak_rss_mb`: the largest VmHWM (the kernel's high-water mark of a process's memory since its exec)
  among the command's processes, read every 0.2 s: exact but for growth in a process's last 0.2 s.
  Not ru_maxrss from wait4(): on Linux a child's maxrss starts from this process's size at fork, so a
  tiny re-crawl "peaked" at the size of the replica holding 100,000 pages;
- `peak_tree_rss_mb`: the largest sum of VmRSS over the command and all its descendants, sampled
  every 0.2 s from /proc (what an ingest with several worker processes really holds together).
`growth_mb_per_10k_pages` is the least-squares slope of the peaks against pages, per 10,000 pages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.__main__ import drop_database, scratch_database

PER_SITE = 2000  # articles per portal: a big county column; more pages means more portals
SAMPLE_SECONDS = 0.2


def _children() -> dict[int, list[int]]:
    """ppid -> pids, for every process we can see."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])  # the name may hold spaces and parentheses
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of pid in kB: its resident size now, and the high-water mark of its memory since exec."""
    rss = hwm = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def tree_rss_kb(pid: int) -> tuple[int, int]:
    """(VmRSS of pid plus every descendant, the largest VmHWM among them), in kB."""
    tree, total, largest, todo = _children(), 0, 0, [pid]
    while todo:
        current = todo.pop()
        rss, hwm = _rss_kb(current)
        total, largest = total + rss, max(largest, hwm)
        todo.extend(tree.get(current, ()))
    return total, largest


def measured(command: list[str], env: dict[str, str], timeout: float = 4 * 3600,
             sample_seconds: float = SAMPLE_SECONDS) -> dict:
    """Run command; return its wall time, CPU time, exact peak RSS (wait4) and the sampled peak RSS of
    its process tree. A sample reads every /proc/<pid>/stat (~8 ms of this process's CPU)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        peak_tree = peak_process = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            tree_kb, largest_kb = tree_rss_kb(proc.pid)
            peak_tree, peak_process = max(peak_tree, tree_kb), max(peak_process, largest_kb)
            if time.perf_counter() - started > timeout:
                proc.kill()
            time.sleep(sample_seconds)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(command[:4])} … exited {proc.returncode}: "
                               f"{err.read().decode('utf-8', 'replace')[-3000:]}")
    return {"seconds": round(wall, 1), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_mb": round(peak_process / 1024, 1), "peak_tree_rss_mb": round(peak_tree / 1024, 1)}


def _env(database_url: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("REDIS_URL", None)  # the single-process crawl: its memory is the point
    return env


def _slope(points: list[tuple[int, float]]) -> float:
    """Least-squares MB per 10,000 pages."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return round(sum((x - mx) * (y - my) for x, y in points) / var * 10_000, 2) if var else 0.0


def measure_size(pages: int, per_site: int, ingest_workers: int, recrawl: bool) -> dict:
    """Crawl `pages` articles from pages / per_site portals into a fresh database, then ingest them."""
    from bench.scale import bulk_sites
    from gongkai_replica.server import ReplicaServer

    n_sites = max(1, pages // per_site)
    sites = bulk_sites(n_sites, pages // n_sites)
    database_url = scratch_database()
    row: dict = {"pages": n_sites * (pages // n_sites), "portals": n_sites}
    try:
        with ReplicaServer(sites) as server:
            listings = [u for s in sites for u in server.listing_urls(s.name)]
            crawl = [sys.executable, "-m", "gongkai", "crawl", *listings, "--delay", "0", "--no-ingest"]
            row["crawl"] = measured(crawl, _env(database_url))
            with psycopg.connect(database_url) as conn:
                row["staged"] = conn.execute("SELECT count(*) FROM staged_pages").fetchone()[0]
                stats = conn.execute("SELECT stats FROM crawl_runs ORDER BY id LIMIT 1").fetchone()[0]
                row["crawl"]["requests"] = stats["requests"]
                # Pages not staged must be accounted for: failed (refetched by the next crawl) or gone.
                row["crawl"]["outcomes"] = {key: stats.get(key, 0) for key in
                                            ("fetched", "failed", "gone", "blocked", "retried", "unstaged")}
                row["crawl"]["frontier"] = dict(conn.execute(
                    "SELECT state, count(*) FROM crawl_urls GROUP BY state").fetchall())
            row["crawl"]["pages_per_s"] = round(row["staged"] / row["crawl"]["seconds"], 1)
            ingest = [sys.executable, "-m", "gongkai", "ingest", "--workers", str(ingest_workers)]
            row["ingest"] = measured(ingest, _env(database_url))
            row["ingest"]["pages_per_s"] = round(row["staged"] / row["ingest"]["seconds"], 1)
            with psycopg.connect(database_url) as conn:
                row["reports"] = conn.execute("SELECT count(*) FROM reports").fetchone()[0]
            if recrawl:  # routine crawl of the same portals: every article is known, nothing is fetched
                row["recrawl"] = measured(crawl, _env(database_url))
    finally:
        drop_database(database_url)
    return row


def run(results: dict, quick: bool) -> None:
    sizes = (300,) if quick else (10_000, 30_000, 100_000)
    per_site = 100 if quick else PER_SITE
    workers = 2
    rows = []
    for pages in sizes:
        print(f"bench: memory: {pages} pages ...", file=sys.stderr, flush=True)
        rows.append(measure_size(pages, per_site, workers, recrawl=pages == sizes[-1]))
        print(f"bench: memory: {json.dumps(rows[-1])}", file=sys.stderr, flush=True)  # kept if a later size dies
    out: dict = {"ingest_workers": workers, "articles_per_portal": per_site, "runs": rows}
    for what in ("crawl", "ingest"):
        for key in ("peak_rss_mb", "peak_tree_rss_mb"):
            out[f"{what}_{key}_growth_mb_per_10k_pages"] = _slope([(r["pages"], r[what][key]) for r in rows])
    results["memory"] = out
