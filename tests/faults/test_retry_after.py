"""A host behind a JavaScript challenge (瑞数 412, 加速乐 521) is asked nothing more in this crawl.

A host's request for rest (429/503 with Retry-After) holds every request to it, queued ones included;
one it asks for longer than a crawl waits closes the host for the rest of this crawl; and no header value
can crash the parser.
"""

from __future__ import annotations

import pytest

from gongkai.crawler.middlewares import parse_retry_after
from gongkai_replica import faults as F
from tests.faults.helpers import crawl, frontier


@pytest.mark.parametrize(("value", "seconds"), [
    (b"120", 120.0), ("  7 ", 7.0), ("²", None), ("١٢", None), ("1" * 400, 1e12), ("soon", None), ("", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("Fri, 31 Dec 9999 23:59:59 GMT", pytest.approx(2.5e11, rel=0.01)),
])
def test_retry_after_values(value, seconds):
    assert parse_retry_after(value, now=1_700_000_000) == seconds


def test_a_hold_stops_requests_already_queued_for_the_host(database_url):
    site = F.fault_site("retry-after-queue", 6)
    with F.FaultServer(site, F.fault_address(80)) as server:
        for article in server.column.articles:
            server.set_fault(server.path(article), F.status(429, times=1, retry_after="2"))
        result = crawl(server.listing_url, database_url=database_url, flags=("--delay", "0.2", "--concurrency", "1"))
        assert result.returncode == 0, result.stderr
        articles = [(path, what, when) for _, path, what, when in server.log if path.startswith("/art/")]
    first_429 = articles[0][2]
    # The host asked for 2 s of rest; before, requests already queued at the downloader went on at the
    # crawl's pace (one every ~0.2 s) and each got a 429 of its own.
    during = [path for path, _, when in articles if first_429 + 0.1 < when < first_429 + 1.9]
    assert during == [], during
    assert all(state == "fetched" for state, _ in frontier(database_url).values())


def test_a_longer_rest_than_a_crawl_waits_closes_the_host_for_this_crawl(database_url):
    site = F.fault_site("retry-after-long", 20, skip=20)
    with F.FaultServer(site, F.fault_address(81)) as server:
        for article in server.column.articles:
            server.set_fault(server.path(article), F.status(503, retry_after="3600"))
        result = crawl(server.listing_url, database_url=database_url, timeout=60)
        asked = [path for _, path, _, _ in server.log if path.startswith("/art/")]
    # The requests in flight (concurrency 4) and those started as the first answers came in, before they
    # were read (a slot frees before its response reaches the middleware); then none of the 20.
    assert 1 <= len(asked) <= 8, asked
    states = frontier(database_url)
    assert len(states) == 20 and {state for state, _ in states.values()} == {"failed"}  # the next crawl retries
    assert "asked for a rest of 3600s" in result.stderr


@pytest.mark.parametrize(("status", "shell"), [(412, "ruishu"), (521, "jiasule")])
def test_a_host_behind_a_javascript_challenge_is_not_asked_again_this_crawl(database_url, status, shell):
    """瑞数 answers every request with 412 and a `$_ts` script, 加速乐 with 521 and a cookie script: the
    wall fronts the whole host, so further requests only hammer it (521 was even retried)."""
    body = F.CHALLENGE_SHELL if shell == "ruishu" else (
        b"<html><script>document.cookie=('__jsl_clearance=1700000000.1|0|'+'abc');location.href=location.pathname"
        b"</script></html>")
    site = F.fault_site(f"waf-{status}", 16, skip=40)
    with F.FaultServer(site, F.fault_address(84 if status == 412 else 85)) as server:
        for article in server.column.articles:
            server.set_fault(server.path(article), F.page(body, code=status))
        result = crawl(server.listing_url, database_url=database_url)
        asked = [path for _, path, _, _ in server.log if path.startswith("/art/")]
    assert 1 <= len(asked) <= 8, asked  # those already in flight (concurrency 4), then none of the 16
    assert "JavaScript challenge" in result.stderr
    states = frontier(database_url)
    assert len(states) == 16 and {state for state, _ in states.values()} == {"failed"}  # the next crawl retries
