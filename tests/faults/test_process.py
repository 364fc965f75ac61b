"""Process faults: kill -9 of a crawl and of an ingest worker mid-batch, then restart.

Invariant: every page ends up staged once and ingested once; every article is one report.
"""

from __future__ import annotations

import signal

import psycopg
import pytest

from gongkai.ingest.run import BATCH_SIZE
from gongkai_replica import faults as F
from tests.faults.helpers import check_invariants, crawl, reports_by_url, run, spawn, staged_once


@pytest.fixture
def server():
    site = F.fault_site("kill", 30, skip=60, per_page=5, group_size=2)
    with F.FaultServer(site, F.fault_address(40)) as srv:
        yield srv


def _count(database_url: str, sql: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql).fetchone()[0]


def test_kill_crawl_mid_batch_then_restart(server, database_url):
    proc = spawn("crawl", server.listing_url, "--delay", "0.05", "--concurrency", "1",
                 database_url=database_url)
    staged = F.wait_until(lambda: _count(database_url, "SELECT count(*) FROM staged_pages") >= 8, timeout=60)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert staged
    before = _count(database_url, "SELECT count(*) FROM staged_pages")
    assert before < 30, "the crawl finished before it could be killed"
    result = crawl(server.listing_url, database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "did not finish cleanly" in result.stderr
    urls = [server.url(a) for a in server.column.articles]
    staged_once(database_url, urls)
    reports = reports_by_url(database_url)
    assert all(url in reports for url in urls) and len({r["id"] for r in reports.values()}) == len(urls)
    check_invariants(database_url)


def test_kill_ingest_worker_mid_batch_then_restart(server, database_url):
    result = crawl(server.listing_url, database_url=database_url, flags=("--no-ingest",))
    assert result.returncode == 0, result.stderr
    with psycopg.connect(database_url) as conn:  # stage each page again until there are 3 batches or more
        staged = conn.execute("SELECT count(*) FROM staged_pages").fetchone()[0]
        conn.execute("""INSERT INTO staged_pages (url, final_url, site, column_url, listing_title, listing_date, status,
                            headers, body, body_sha256, fetched_at)
                        SELECT url, final_url, site, column_url, listing_title, listing_date, status, headers, body,
                               body_sha256, fetched_at FROM staged_pages, generate_series(1, %s)""",
                     (-(-3 * BATCH_SIZE // staged) - 1,))
    total = _count(database_url, "SELECT count(*) FROM staged_pages")
    worker = spawn("ingest", database_url=database_url)
    done = "SELECT count(*) FROM staged_pages WHERE ingest_state <> 'pending'"
    assert F.wait_until(lambda: _count(database_url, done) > 0, timeout=60, interval=0.005)
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=30)
    assert _count(database_url, done) < total, "the ingest finished before it could be killed"
    again = run("ingest", database_url=database_url)
    assert again.returncode == 0, again.stderr
    assert _count(database_url, "SELECT count(*) FROM staged_pages WHERE ingest_state = 'done'") == total
    reports = reports_by_url(database_url)
    urls = [server.url(a) for a in server.column.articles]
    assert all(url in reports for url in urls) and len({r["id"] for r in reports.values()}) == len(urls)
    assert all(r["version"] == 1 for r in reports.values())
    check_invariants(database_url)
