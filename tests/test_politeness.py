"""Per-host politeness of the single-process crawl, as the replica sees it: requests in flight per host
never exceed --concurrency, with no delay (where Scrapy 2.19's own downloader started every queued
request of a host at once: gongkai/crawler/scrapy_patches.py) and with a delay shorter than a response."""

from __future__ import annotations

import pytest

from bench.scale import scaled_sites
from gongkai_replica.server import ReplicaServer
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
    host, with no jitter below it, whatever --delay and --concurrency say.

    The gaps are timed by the server, so a late-handled request shortens the gap after it (CI once saw
    0.281 s among 0.301 s gaps on a loaded machine): 30 ms of slack. Scrapy's jitter draws 0.5x-1.5x of
    the delay afresh each time the slot wakes, so with it a few gaps in 40 fall far below the delay."""
    (site,) = scaled_sites(1, 40)
    site.robots_txt = "User-agent: *\nCrawl-delay: 0.25\n"
    with ReplicaServer([site]) as server:
        result = gongkai("crawl", *server.listing_urls(site.name), "--delay", "0", "--concurrency", "2",
                         "--no-ingest", database_url=database_url, timeout=120)
        times = sorted(r.time for r in server.requests if r.path != "/robots.txt")
    assert result.returncode == 0, result.stderr
    assert len(times) > 40
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.22, sorted(round(g, 3) for g in gaps)
