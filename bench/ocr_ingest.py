"""What OCR does to ingest: the demo portals' pages ingested alone, and again with two scanned reports
(a one-page image-only PDF and a .jpg: gongkai_replica/attached.py's TRS portal) among them.

Both databases are crawled first (`--no-ingest`, two routine crawls so the scan served cut short first is
fetched whole), then `gongkai ingest` is timed on a fresh copy of each (CREATE DATABASE ... TEMPLATE), with
one worker and with two. The difference is what the two scans cost ingest. With 2 workers the other worker
goes on while one reads a scan (rows are claimed with SKIP LOCKED, and the OCR runs before its batch takes
the feed lock), so the scans' cost should mostly hide behind the other pages' work.
"""

from __future__ import annotations

import sys

import psycopg


def _reports(database_url: str) -> tuple[int, int]:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*), count(*) FILTER (WHERE body_source = 'ocr') FROM reports").fetchone()


def _ingest(crawled_url: str, workers: int) -> tuple[float, tuple[int, int]]:
    """Seconds `gongkai ingest` takes on a fresh copy of the crawled database, and (reports, read by OCR)."""
    from bench.__main__ import drop_database, scratch_database
    from bench.distributed import _timed
    from bench.memory import _env

    copy = scratch_database(template=crawled_url)
    try:
        wall, _, _ = _timed([sys.executable, "-m", "gongkai", "ingest", "--workers", str(workers)], _env(copy))
        return wall, _reports(copy)
    finally:
        drop_database(copy)


def run(results: dict, quick: bool) -> None:
    from bench.__main__ import drop_database, scratch_database
    from bench.distributed import _timed
    from bench.memory import _env
    from gongkai_replica import attached
    from gongkai_replica.demo import build_demo_sites
    from gongkai_replica.server import ReplicaServer

    demo = build_demo_sites()[:2] if quick else build_demo_sites()
    scans = attached.trs_site()
    plain_url, scans_url = scratch_database(), scratch_database()
    rows = []
    try:
        with ReplicaServer([*demo, scans]) as server:
            demo_listings = [u for s in demo for u in server.listing_urls(s.name)]
            scan_listings = server.listing_urls(scans.name)
            for database_url, listings in ((plain_url, demo_listings), (scans_url, demo_listings + scan_listings)):
                for _ in range(2):
                    _timed([sys.executable, "-m", "gongkai", "crawl", *listings, "--delay", "0", "--no-ingest"],
                           _env(database_url))
        for workers in (1,) if quick else (1, 2):
            print(f"bench: ocr_ingest: ingest with {workers} worker(s) ...", file=sys.stderr, flush=True)
            plain, (reports_plain, _) = _ingest(plain_url, workers)
            with_scans, (reports, read_by_ocr) = _ingest(scans_url, workers)
            rows.append({"workers": workers, "reports_plain": reports_plain, "reports_with_scans": reports,
                         "read_by_ocr": read_by_ocr, "ingest_plain_s": round(plain, 1),
                         "ingest_with_scans_s": round(with_scans, 1), "scans_cost_s": round(with_scans - plain, 1)})
    finally:
        drop_database(plain_url)
        drop_database(scans_url)
    results["ocr_ingest"] = rows
