"""Scrapy settings for gongkai crawls: polite by default, bounded everywhere."""

from __future__ import annotations

from typing import Any

from gongkai import __version__

# HTTP headers are ASCII: no Chinese in the User-Agent.
USER_AGENT = (f"gongkai/{__version__} (+https://github.com/gongkai/gongkai; research crawler for county "
              "work-plan and work-summary (jihua zongjie) disclosure reports; obeys robots.txt)")

DEFAULT_DELAY = 1.0  # seconds between requests to one host
DEFAULT_CONCURRENCY_PER_HOST = 2


def crawl_settings(database_url: str, run_id: int | None, *, delay: float = DEFAULT_DELAY,
                   concurrency_per_host: int = DEFAULT_CONCURRENCY_PER_HOST, progress: bool = False,
                   overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "BOT_NAME": "gongkai",
        "USER_AGENT": USER_AGENT,
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": 32,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency_per_host,
        "DOWNLOADER": "gongkai.crawler.scrapy_patches.PerHostDownloader",  # Scrapy's ignores the line above at delay 0
        # Scrapy starts this many asyncio tasks for the output of *every* response, even of one item.
        # StagePipeline is synchronous, so items gain nothing from running side by side, and the default
        # 100 cost ~30 % of the crawl's CPU (500 portals, 8,000 requests: 54-63 s CPU, 8 here: 39-42 s).
        "CONCURRENT_ITEMS": 8,
        # One queue per host, the emptiest host first (Scrapy's queue for broad crawls): with one global
        # queue, the listing pages of every host waited until no host had an article left to fetch.
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.DownloaderAwarePriorityQueue",
        "GONGKAI_LISTING_LOOKAHEAD": True,  # see spiders/listing.py
        # Scrapy re-reads and parses the source of a callback for every response (its cache is keyed by
        # the bound method, a new object each time) to warn about `return value` in a generator: ~3 % of
        # a crawl's CPU for a lint check.
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        "DOWNLOAD_DELAY": delay,
        "DOWNLOAD_DELAY_JITTER": 0.5,  # +-50 %, as browsers are not metronomes
        "DOWNLOAD_TIMEOUT": 30,
        "DNS_TIMEOUT": 10,
        # Bounds: a response (decompressed included) larger than this is refused, not buffered.
        "DOWNLOAD_MAXSIZE": 16 * 1024 * 1024,
        "DOWNLOAD_WARNSIZE": 4 * 1024 * 1024,
        "REDIRECT_MAX_TIMES": 5,
        "COOKIES_ENABLED": True,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,  # Scrapy 2.19's code-executing HTTP console has no place in a daemon
        "RETRY_ENABLED": False,  # replaced by PoliteRetryMiddleware
        "RETRY_TIMES": 3,
        "GONGKAI_BACKOFF_BASE": 2.0,
        "GONGKAI_BACKOFF_MAX": 120.0,
        "DOWNLOADER_MIDDLEWARES": {
            "gongkai.crawler.middlewares.HostAllowlistMiddleware": 50,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "gongkai.crawler.scrapy_patches.StrictRobotsTxtMiddleware": 100,
            "gongkai.crawler.middlewares.PoliteRetryMiddleware": 550,
        },
        # Depth is not a limit we use (pagination is the listing's own walk): its async layer over every
        # callback output cost ~2 % of a crawl's CPU for a stat nobody reads.
        "SPIDER_MIDDLEWARES": {"scrapy.spidermiddlewares.depth.DepthMiddleware": None},
        "ITEM_PIPELINES": {"gongkai.crawler.pipelines.StagePipeline": 300},
        # A bar on a terminal; elsewhere (a log, serve, a pipe) a line per listing page.
        "EXTENSIONS": {"gongkai.crawler.shutdown.ShutdownSignal": 400,
                       ("gongkai.crawler.progress.ProgressExtension" if progress
                        else "gongkai.crawler.progress.ProgressLines"): 500},
        "GONGKAI_DATABASE_URL": database_url,
        "GONGKAI_RUN_ID": run_id,
        "LOG_LEVEL": "WARNING",
        "LOG_ENABLED": True,
        "LOG_INSTALL_ROOT_HANDLER": False,  # gongkai configures logging itself
    }
    if overrides:
        settings.update(overrides)
    return settings
