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
