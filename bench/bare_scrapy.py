"""A bare Scrapy spider fetching a list of URLs with given concurrency: the crawl baseline."""

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
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse)

    def parse(self, response):
        self.pages += 1


def main() -> None:
    urls, concurrency = json.load(sys.stdin), int(sys.argv[1])
    process = CrawlerProcess({"CONCURRENT_REQUESTS": 32, "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
                              "DOWNLOAD_DELAY": 0, "ROBOTSTXT_OBEY": True, "LOG_LEVEL": "ERROR",
                              "TELNETCONSOLE_ENABLED": False})
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, urls=urls)
    started = time.perf_counter()
    process.start()
    # engine_seconds: spider opened -> closed (Scrapy's elapsed_time_seconds), the span ours reports too.
    print(json.dumps({"pages": crawler.spider.pages, "seconds": time.perf_counter() - started,
                      "engine_seconds": crawler.stats.get_value("elapsed_time_seconds")}))


if __name__ == "__main__":
    main()
