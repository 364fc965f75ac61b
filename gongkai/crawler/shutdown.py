"""Which signal stopped a crawl: Scrapy's graceful stop says only "shutdown", and the command must exit
130 for Ctrl-C and 143 for SIGTERM (and not go on to ingest).

A Scrapy extension (public hook: `engine_started`, after Scrapy installed its shutdown handlers) chains
a recorder in front of those handlers; the signal number lands in the crawl's stats as `shutdown/signal`.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

STAT = "shutdown/signal"


class ShutdownSignal:
    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        crawler.signals.connect(self.engine_started, signal=signals.engine_started)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ShutdownSignal:
        return cls(crawler)

    def engine_started(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(sig)
            if callable(previous):
                signal.signal(sig, self._recorder(previous))

    def _recorder(self, previous: Callable[[int, FrameType | None], Any]) -> Callable[[int, FrameType | None], Any]:
        def record_then_stop(signum: int, frame: FrameType | None) -> Any:
            if self.stats is not None and self.stats.get_value(STAT) is None:
                self.stats.set_value(STAT, signum)
            return previous(signum, frame)
        return record_then_stop
