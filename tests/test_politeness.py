"""Per-host politeness of the single-process crawl, as the replica sees it: requests in flight per host
never exceed --concurrency, with no delay (where Scrapy 2.19's own downloader started every queued
request of a host at once: gongkai/crawler/downloader.py) and with a delay shorter than a response."""

from __future__ import annotations

import pytest

from bench.scale import scaled_sites
from tests.faults.helpers import SlowReplica
from tests.test_cli import gongkai


@pytest.mark.parametrize("delay", ["0", "0.05"])
def test_requests_in_flight_per_host_stay_within_concurrency(database_url, delay):
    with SlowReplica(scaled_sites(3, 14)) as server:
        listings = [u for site in server.sites.values() for u in server.listing_urls(site.name)]
        result = gongkai("crawl", *listings, "--delay", delay, "--concurrency", "2", "--no-ingest",
                         database_url=database_url, timeout=120)
        assert result.returncode == 0, result.stderr
        peaks = dict(server.max_in_flight)
        articles = sum(r.path.startswith("/art/") for r in server.requests)
    assert articles == 3 * 14
    assert max(peaks.values()) <= 2, peaks
    assert max(peaks.values()) == 2, f"concurrency 2 was never used: {peaks}"


def test_robots_crawl_delay_spaces_every_request_to_the_host(database_url):
    """robots.txt's Crawl-delay (Scrapy ignores it: issue 892) is the least time between two requests to the
    host, with no jitter below it, whatever --delay and --concurrency say. A lower bound: a busy machine
    can only make the gaps longer."""
    from gongkai.replica.demo import build_demo_sites
    from gongkai.replica.server import ReplicaServer

    site = next(s for s in build_demo_sites() if s.name == "taishun")
    site.robots_txt = "User-agent: *\nCrawl-delay: 0.3\n"
    for column in site.columns:
        for article in column.articles:
            article.fail_first = article.too_many_first = 0
    with ReplicaServer([site]) as server:
        result = gongkai("crawl", *server.listing_urls("taishun"), "--delay", "0", "--concurrency", "2",
                         "--no-ingest", database_url=database_url, timeout=120)
        times = sorted(r.time for r in server.requests if r.path != "/robots.txt")
    assert result.returncode == 0, result.stderr
    assert len(times) > 10
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.29, [round(g, 3) for g in gaps]
