"""Two crawls of one portal never double its load (issue 24, 3): every crawl takes the per-host lock
(gongkai.crawler.runs.lock_hosts, a PostgreSQL advisory lock) before it fetches anything and holds it to its end.
A second crawl of the host exits 4 naming the crawl that holds it (run id, pid), or waits if asked."""

from __future__ import annotations

import threading
import time
from collections import Counter

import psycopg
import pytest

from gongkai.crawler import runs
from gongkai.errors import EXIT_BUSY, ServiceBusy
from gongkai_replica import faults as F
from tests.faults.helpers import check_invariants, gongkai_lines, run, spawn


@pytest.fixture(scope="module")
def two_crawls(database_url_module):
    site = F.fault_site("host-lock", 8, skip=84)
    with F.FaultServer(site, F.fault_address(32)) as server:
        first = spawn("crawl", server.listing_url, "--delay", "0.4", "--concurrency", "1",
                      database_url=database_url_module)
        assert F.wait_until(lambda: server.requests_for(server.listing_path), timeout=60), "first crawl never began"
        second = run("crawl", server.listing_url, "--delay", "0", "--concurrency", "4",
                     database_url=database_url_module)
        first_out, first_err = first.communicate(timeout=120)
        yield server, first, first_err, second, database_url_module


def test_the_second_crawl_exits_4_naming_the_first(two_crawls):
    server, first, first_err, second, database_url = two_crawls
    assert first.returncode == 0, first_err
    assert second.returncode == EXIT_BUSY, second.stderr
    lines = gongkai_lines(second)
    assert len(lines) == 1, second.stderr
    with psycopg.connect(database_url) as conn:
        run_id, pid = conn.execute("SELECT id, pid FROM crawl_runs ORDER BY id").fetchone()
        assert conn.execute("SELECT count(*) FROM crawl_runs").fetchone()[0] == 1  # the second never started
    assert f"crawl run {run_id} (pid {first.pid} on " in lines[0] and pid == first.pid, lines[0]


def test_the_portal_sees_each_article_once(two_crawls):
    server, _, _, _, database_url = two_crawls
    requested = Counter(path for _, path, _, _ in server.log)
    for article in server.column.articles:
        assert requested[server.path(article)] == 1, requested
    assert requested[server.listing_path] == 1, requested
    check_invariants(database_url)


def test_a_crawl_asked_to_wait_takes_the_lock_when_it_is_free(database_url):
    holder = psycopg.connect(database_url, autocommit=True)
    waiter = psycopg.connect(database_url, autocommit=True)
    try:
        runs.lock_hosts(holder, ["portal.example.gov.cn:8080"])
        started = time.monotonic()
        with pytest.raises(ServiceBusy, match="portal.example.gov.cn:8080 is being crawled by another crawl"):
            runs.lock_hosts(waiter, ["other.example.gov.cn", "portal.example.gov.cn:8080"], wait=0.3)
        assert time.monotonic() - started >= 0.3
        # nothing kept by a failed attempt: the other host is free
        assert holder.execute("SELECT pg_try_advisory_lock(%s, hashtext('other.example.gov.cn'))",
                              (runs.HOST_LOCK_NAMESPACE,)).fetchone()[0]
        threading.Timer(0.5, holder.close).start()  # the first crawl ends
        runs.lock_hosts(waiter, ["portal.example.gov.cn:8080"], wait=30)
    finally:
        holder.close()
        waiter.close()
