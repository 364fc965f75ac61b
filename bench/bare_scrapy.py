"""A bare Scrapy spider fetching a list of requests with given concurrency: the crawl baseline.

stdin: a JSON list of URLs, or of {"method", "url", "form"} (the replica's log of what our crawl
requested, listing continuations' POST forms included), so both crawls fetch exactly the same pages.
"""

from __future__ import annotations

import json
import sys
import time

import scrapy
from scrapy.crawler import CrawlerProcess


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, urls: list[str], **kwargs):
        super().__init__(**kwargs)
        self.urls = urls
        self.pages = 0

    async def start(self):
        for entry in self.urls:
            if isinstance(entry, dict) and entry["method"] == "POST":
                yield scrapy.FormRequest(entry["url"], formdata=dict(entry["form"]), callback=self.parse,
                                         dont_filter=True)
            else:
                yield scrapy.Request(entry if isinstance(entry, str) else entry["url"], callback=self.parse,
                                     dont_filter=True)

    def parse(self, response):
        self.pages += 1


def main() -> None:
    urls, concurrency = json.load(sys.stdin), int(sys.argv[1])
    settings = {"CONCURRENT_REQUESTS": 32, "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency, "DOWNLOAD_DELAY": 0,
                "ROBOTSTXT_OBEY": True, "LOG_LEVEL": "ERROR", "TELNETCONSOLE_ENABLED": False}
    if "--as-shipped" not in sys.argv:
        # Scrapy 2.19 ignores CONCURRENT_REQUESTS_PER_DOMAIN at delay 0 (gongkai/crawler/scrapy_patches.py):
        # as shipped it ran up to 20 requests at once per host. The baseline gets the same limit as ours.
        settings["DOWNLOADER"] = "gongkai.crawler.scrapy_patches.PerHostDownloader"
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, urls=urls)
    started = time.perf_counter()
    process.start()
    # engine_seconds: spider opened -> closed (Scrapy's elapsed_time_seconds), the span ours reports too.
    print(json.dumps({"pages": crawler.spider.pages, "seconds": time.perf_counter() - started,
                      "engine_seconds": crawler.stats.get_value("elapsed_time_seconds")}))


if __name__ == "__main__":
    main()
