"""The daemon's choice (issue 4): one subprocess per crawl, or Scrapy's AsyncCrawlerRunner running every
crawl inside one long-lived event loop. Same replica, same settings, the same N crawls one after another:
seconds per crawl and resident memory after each crawl, both ways, in one run.

    .venv/bin/python -m bench daemon
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from bench.__main__ import drop_database, scratch_database
from bench.memory import measured


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def in_process(database_url: str, crawls: int, listings: list[str]) -> dict:
    """Run `crawls` crawls of `listings` in this process, one event loop, one reactor (never restarted)."""
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    import asyncio

    from scrapy.crawler import AsyncCrawlerRunner
    from twisted.internet import defer, reactor

    from gongkai.crawler.run import site_name
    from gongkai.crawler.settings import crawl_settings
    from gongkai.crawler.spiders.listing import ListingSpider

    settings = crawl_settings(database_url, None, delay=0)
    settings["TWISTED_REACTOR"] = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
    runner = AsyncCrawlerRunner(settings)
    items = [{"url": u, "site": site_name(u), "platform": None} for u in listings]
    seconds: list[float] = []
    rss: list[float] = []

    async def crawl_all() -> None:
        try:
            for _ in range(crawls):
                started = time.perf_counter()
                await runner.crawl(ListingSpider, listings=items, full=True)
                seconds.append(time.perf_counter() - started)
                rss.append(_rss_mb())
        finally:
            reactor.stop()

    reactor.callWhenRunning(lambda: defer.Deferred.fromFuture(asyncio.ensure_future(crawl_all())))
    reactor.run()
    return {"seconds": seconds, "rss_mb": rss}


def run(results: dict, quick: bool) -> None:
    from bench.scale import scaled_sites
    from gongkai_replica.server import ReplicaServer

    crawls = 3 if quick else 20
    sites = scaled_sites(1, 10 if quick else 30)
    database_url = scratch_database()
    try:
        with ReplicaServer(sites) as server:
            listings = server.listing_urls(sites[0].name)
            env = {**os.environ, "DATABASE_URL": database_url}
            env.pop("REDIS_URL", None)
            sub_seconds, sub_rss = [], []
            for _ in range(crawls):
                # Peak from the crawl process's own VmHWM (bench/memory.py: wait4's maxrss starts at this
                # process's size at fork and showed 500 MB for a 30-page crawl).
                done = measured([sys.executable, "-m", "gongkai", "crawl", *listings, "--delay", "0", "--no-ingest",
                                 "--full"], env, timeout=600, sample_seconds=0.05)
                sub_seconds.append(done["seconds"])
                sub_rss.append(max([done["peak_rss_mb"], *sub_rss]))
            one = subprocess.run([sys.executable, "-m", "bench.daemon", database_url, str(crawls), *listings],
                                 env=env, capture_output=True, text=True, timeout=1200, stdin=subprocess.DEVNULL)
            assert one.returncode == 0, one.stderr[-2000:]
            inproc = json.loads(one.stdout.strip().splitlines()[-1])
    finally:
        drop_database(database_url)

    def summary(seconds: list[float], rss: list[float]) -> dict:
        return {"crawls": len(seconds), "first_s": round(seconds[0], 2),
                "median_s": round(sorted(seconds)[len(seconds) // 2], 2),
                "rss_mb_after_first": round(rss[0], 1), "rss_mb_after_last": round(rss[-1], 1)}

    sub = summary(sub_seconds, sub_rss)
    sub["note"] = "rss: largest VmHWM of any crawl subprocess so far (each starts fresh), sampled every 0.05 s"
    ins = summary(inproc["seconds"], inproc["rss_mb"])
    results["daemon"] = {"pages_per_crawl": len(sites[0].articles()), "subprocess_per_crawl": sub,
                         "one_process_async_runner": ins,
                         "subprocess_overhead_s": round(sub["median_s"] - ins["median_s"], 2)}


if __name__ == "__main__":
    out = in_process(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
    print(json.dumps(out))
