"""What keeps a big crawl's memory flat (bench/memory.py measures it): a listing's articles are fetched
before its next page, so Scrapy's queue never holds a whole column's article requests; and the sets of
known and seen article URLs are 64-bit digests, not strings."""

from __future__ import annotations

import sys

from bench.scale import bulk_sites
from gongkai.crawler.spiders.listing import UrlSet
from gongkai_replica.server import ReplicaServer
from tests.test_cli import gongkai


def test_url_set_is_a_set() -> None:
    urls = [f"http://127.0.0.{i % 7}/art/2024/1/2/art_1229_{i}.html" for i in range(5000)]
    seen = UrlSet(urls[:3000])
    assert len(seen) == 3000
    assert all(u in seen for u in urls[:3000])  # through several doublings of the table
    assert not any(u in seen for u in urls[3000:])
    for u in urls[2000:4000]:
        seen.add(u)
    assert len(seen) == 4000 and urls[3999] in seen and urls[4000] not in seen
    seen.add(urls[0])
    assert len(seen) == 4000
    assert "http://例子.测试/art_1_1.html" not in seen and 12345 not in seen  # any object: str() of it


def test_url_set_claim_says_which_urls_were_new() -> None:
    seen = UrlSet(["http://127.0.0.10/art/1.html"])
    assert seen.claim(["http://127.0.0.10/art/1.html", "http://127.0.0.10/art/2.html",
                       "http://127.0.0.10/art/2.html", "http://127.0.0.10/art/3.html"]) == [False, True, False, True]
    assert len(seen) == 3 and seen.claim([]) == []
    assert seen.claim(["http://127.0.0.10/art/3.html"]) == [False]


def test_url_set_stays_compact() -> None:
    seen = UrlSet(f"http://127.0.0.10:40000/art/2024/8/5/art_1229311250_{n}.html" for n in range(100_000))
    table = seen._slots.itemsize * len(seen._slots)
    assert table <= 24 * len(seen)  # vs ~150 bytes a URL as str in a set
    assert sys.getsizeof(seen._slots) < 3 * 1024 * 1024


def test_articles_before_the_next_listing_page(database_url) -> None:
    """4 portals of 300 articles: each listing window's articles are requested before the next window.

    Scrapy's per-host queue is LIFO and the next page is yielded after a page's articles: before, the
    walk of each column raced ahead (11 articles fetched when xianju's 2nd window was, 117 at its 7th)
    and a big crawl held nearly every article request in memory at once."""
    sites = bulk_sites(4, 300)
    with ReplicaServer(sites) as server:
        listings = [u for s in sites for u in server.listing_urls(s.name)]
        result = gongkai("crawl", *listings, "--delay", "0", "--no-ingest", database_url=database_url, timeout=300)
        assert result.returncode == 0, result.stderr
        log = [r for r in server.requests if r.path != "/robots.txt"]
    assert sum(r.path.startswith("/art/") for r in log) == 1200
    for site in sites:
        window = site.per_page * site.group_size
        requests = [r for r in log if r.site == site.name]
        listing_at = [i for i, r in enumerate(requests) if not r.path.startswith("/art/")]
        assert len(listing_at) == -(-300 // window)  # the column page holds the first window
        for k, position in enumerate(listing_at[1:], start=1):
            fetched_before = sum(r.path.startswith("/art/") for r in requests[:position])
            # some of the previous window's articles may still be in the downloader (at most
            # CONCURRENT_REQUESTS = 32 across hosts) when the next page goes out; the old order lagged by
            # whole columns (117 articles at the 7th window of 45)
            assert fetched_before >= min(window * k, 300) - 32, (site.name, k, fetched_before)
