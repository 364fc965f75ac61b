"""A rich progress bar on a terminal: articles fetched out of articles found so far."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from scrapy import signals
from scrapy.crawler import Crawler

from gongkai.crawler.items import FetchedPage, FetchFailed, ListedArticles


class ProgressExtension:
    def __init__(self, crawler: Crawler) -> None:
        self.progress = Progress(TextColumn("[bold]crawl"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[note]}"), TimeElapsedColumn(),
                                 console=Console(stderr=True), transient=False)
        self.task = self.progress.add_task("crawl", total=0, note="")
        self.found: set[str] = set()
        self.failed = 0
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)
        crawler.signals.connect(self.item, signal=signals.item_scraped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressExtension:
        return cls(crawler)

    def opened(self, spider: Any) -> None:
        self.progress.start()

    def closed(self, spider: Any, reason: str) -> None:
        self.progress.stop()

    def item(self, item: Any, response: Any, spider: Any) -> None:
        if isinstance(item, ListedArticles):
            self.found.update(article.url for article in item.articles)
            self.progress.update(self.task, total=len(self.found))
        elif isinstance(item, (FetchedPage, FetchFailed)):
            if isinstance(item, FetchFailed):
                self.failed += 1
            self.progress.update(self.task, advance=1, note=f"{self.failed} failed" if self.failed else "")


class ProgressLines:
    """Progress when stderr is not a terminal (a log file, `serve`, a pipe): a line per listing page read,
    not a bar's control codes; the first line of each listing names it."""

    def __init__(self, crawler: Crawler, stream: Any = None) -> None:
        import sys

        self.stream = stream or sys.stderr
        self.found: set[str] = set()
        self.pages: dict[str, int] = {}
        self.done = 0
        crawler.signals.connect(self.item, signal=signals.item_scraped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressLines:
        return cls(crawler)

    def item(self, item: Any, response: Any, spider: Any) -> None:
        if isinstance(item, ListedArticles) and item.articles:
            column = item.articles[0].column_url
            self.pages[column] = self.pages.get(column, 0) + 1
            self.found.update(article.url for article in item.articles)
            print(f"crawl: {column}: listing page {self.pages[column]}, {len(item.articles)} articles "
                  f"({len(self.found)} listed, {self.done} fetched so far)", file=self.stream, flush=True)
        elif isinstance(item, (FetchedPage, FetchFailed)):
            self.done += 1
