"""The staging pipeline: where crawl results are written, in small batched transactions (the rows through
gongkai.crawler.staging for staged_pages and gongkai.crawler.frontier for crawl_urls).

Batches are flushed every GONGKAI_STAGE_BATCH items or GONGKAI_STAGE_SECONDS seconds (and at close),
so a killed crawl loses at most one small batch of fetched-but-unwritten pages, which stay 'failed' or
'pending' in the frontier and are fetched again by the next crawl.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import psycopg
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

from gongkai.crawler import frontier, staging
from gongkai.crawler.items import (
    FetchedPage,
    FetchFailed,
    LinkedFiles,
    ListedArticles,
    ListingProblem,
    Revalidated,
)

logger = logging.getLogger(__name__)


class StagePipeline:
    """Buffers crawl items and writes them in batches from one writer thread.

    The reactor thread never waits for PostgreSQL: a batch's round trip and commit (and the server's
    work of storing ~30 KB bodies) run in the writer thread while fetching goes on; one write is in
    flight at a time, and items that arrive meanwhile join the next batch. Results are applied on the
    reactor thread. Written synchronously waited ~10-18 % of a fast crawl's time.
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.database_url: str = settings.get("GONGKAI_DATABASE_URL")
        self.run_id: int | None = settings.get("GONGKAI_RUN_ID")
        self.batch_size = settings.getint("GONGKAI_STAGE_BATCH", 20)
        self.batch_seconds = settings.getfloat("GONGKAI_STAGE_SECONDS", 1.0)
        self.buffer: list[Any] = []
        self.buffer_bytes = 0  # bodies held in the buffer
        self.last_flush = time.monotonic()
        self.conn: psycopg.Connection | None = None  # used by the writer thread, or by close_spider once idle
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="gongkai-stage")
        self._inflight: tuple[Future, list[Any]] | None = None
        # While a write is in flight and this many bytes of bodies wait behind it, items are held back
        # (Scrapy then stops taking responses in): a slow database slows the crawl instead of filling memory.
        self.backlog_max = settings.getint("GONGKAI_STAGE_BACKLOG", 32 * 1024 * 1024)
        self._held: list[Deferred] = []
        # The database may go away mid-crawl: items stay buffered and are written once it is back.
        self.db_wait = settings.getfloat("GONGKAI_DB_WAIT", 60.0)  # at close, wait this long for it
        self.db_down_since: float | None = None
        self.next_reconnect = 0.0
        # A write that failed on the connection may have committed all the same (the COMMIT reached the
        # server, its answer did not reach us): the retry then skips the pages already staged.
        self._unsure = False
        # Bound what an outage may hold in memory: past this many bytes of fetched bodies the crawl pauses
        # (no new requests) until the database is back, or stops cleanly after GONGKAI_DB_WAIT.
        self.buffer_max = settings.getint("GONGKAI_STAGE_BUFFER_MAX", 256 * 1024 * 1024)
        self.paused_since: float | None = None
        self._paused_loop: Any = None
        self._tick: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StagePipeline:
        return cls(crawler)

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self.database_url, application_name="gongkai-crawl", connect_timeout=5)

    def open_spider(self, spider: Spider | None = None) -> None:
        from twisted.internet import task

        self.conn = self._connect()
        # A batch is due by age too, not only when the next item comes: a crawl left waiting on slow or hung
        # downloads (a report file that never answers) wrote nothing of what it had fetched, and lost it all
        # when it was killed.
        self._tick = task.LoopingCall(self._flush_if_due)
        self._tick.start(self.batch_seconds, now=False)

    def _flush_if_due(self) -> None:
        if self.buffer and self._batch_due():
            self.flush()

    def close_spider(self, spider: Spider | None = None) -> None:
        if self._tick is not None and self._tick.running:
            self._tick.stop()
        if self._paused_loop is not None and self._paused_loop.running:
            self._paused_loop.stop()
        deadline = time.monotonic() + self.db_wait
        try:
            while True:
                self._flush_now()
                if not self.buffer or time.monotonic() >= deadline:
                    break
                time.sleep(0.5)
            if self.buffer:
                pages = sum(1 for item in self.buffer if isinstance(item, FetchedPage | FetchFailed))
                self.crawler.stats.set_value("stage/unstaged", pages)
                logger.error("database %s for %.0fs at the end of the crawl: %d fetched pages were not staged; "
                             "the next crawl fetches them again",
                             "refusing writes" if self.crawler.stats.get_value("db/refused") else "unavailable",
                             self.db_wait, pages)
        finally:
            self._release_held()
            self._writer.shutdown(wait=True)
            if self.conn is not None:
                self.conn.close()

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, ListingProblem):
            return item  # the spider reports these to the runner; nothing to stage
        self.buffer.append(item)
        self.buffer_bytes += _body_size(item)
        if self._batch_due():
            self.flush()
        if self._inflight is not None and self.buffer_bytes > self.backlog_max:
            held: Deferred = Deferred()
            self._held.append(held)
            self.crawler.stats.inc_value("stage/held")
            await maybe_deferred_to_future(held)
        return item

    def _batch_due(self) -> bool:
        return len(self.buffer) >= self.batch_size or time.monotonic() - self.last_flush >= self.batch_seconds

    def flush(self) -> None:
        """Hand the buffer to the writer thread, unless a write is in flight (its completion flushes again)."""
        if not self.buffer or self._inflight is not None:
            return
        if (self.conn is None or self.conn.closed) and time.monotonic() < self.next_reconnect:
            return
        from twisted.internet import reactor

        items = list(self.buffer)
        future = self._writer.submit(self._write_connected, items, self._unsure)
        self._inflight = (future, items)
        future.add_done_callback(lambda done: reactor.callFromThread(self._settle, done))

    def _flush_now(self) -> None:
        """Write what is buffered in this thread, after the write in flight (close_spider: the reactor is
        about to stop, so nothing may be left to a callback)."""
        while self._inflight is not None:  # settling one write may start the next: wait for that one too
            future = self._inflight[0]
            wait([future])
            self._settle(future)
        if not self.buffer:
            return
        items = list(self.buffer)
        future = Future()
        try:
            self._write_connected(items, self._unsure)
            future.set_result(None)
        except Exception as exc:  # noqa: BLE001 - judged in _apply, as the writer thread's are
            future.set_exception(exc)
        self._apply(items, future)

    def _write_connected(self, items: list[Any], unsure: bool) -> None:
        if self.conn is None or self.conn.closed:
            self.conn = self._connect()
        self._write(items, unsure)

    def _settle(self, future: Future) -> None:
        """The write in flight finished (on the reactor thread; at most once per write)."""
        if self._inflight is None or self._inflight[0] is not future:
            return
        items = self._inflight[1]
        self._inflight = None
        self._apply(items, future)
        if self.buffer and self._batch_due():
            self.flush()
        if self._inflight is None or self.buffer_bytes <= self.backlog_max:
            self._release_held()

    def _release_held(self) -> None:
        held, self._held = self._held, []
        for deferred in held:
            deferred.callback(None)

    def _apply(self, items: list[Any], future: Future) -> None:
        exc = future.exception()
        if isinstance(exc, psycopg.OperationalError):
            # Nothing is dropped: the items stay buffered and the next flush tries again.
            if self.conn is not None:
                self.conn.close()
                self.conn = None
            self.next_reconnect = time.monotonic() + 1.0
            self._unsure = True
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
            sqlstate = getattr(getattr(exc, "diag", None), "sqlstate", None) or ""
            if sqlstate.startswith("53"):
                # Insufficient resources (53100 disk full, 53200 out of memory...): the server is there and said
                # why it cannot write; space may come back, so the batch waits like an outage, said as it is.
                self.crawler.stats.set_value("db/refused", f"{detail} (SQLSTATE {sqlstate})")
            if self.db_down_since is None:
                self.db_down_since = time.monotonic()
                if sqlstate.startswith("53"):
                    logger.error("the database cannot store fetched pages: %s (SQLSTATE %s); keeping them in memory "
                                 "and retrying", detail, sqlstate)
                else:
                    logger.warning("database went away while staging (%s); keeping fetched pages in memory and "
                                   "retrying", detail)
            self.crawler.stats.inc_value("stage/db_errors")
            self._pause_if_full()
            return
        self._unsure = False  # written, or rolled back and given up on below
        if exc is not None:
            # Not the connection but the data (or a bug): retrying the same batch would fail forever.
            logger.error("could not stage a batch of %d items; their articles are fetched again next crawl",
                         len(items), exc_info=(type(exc), exc, exc.__traceback__))
            self._drop_written(items)
            return
        self._drop_written(items)
        if self.db_down_since is not None:
            logger.warning("database is back after %.1fs: %d buffered items staged",
                           time.monotonic() - self.db_down_since, len(items))
            self.db_down_since = None
        self._count(items)

    def _drop_written(self, items: list[Any]) -> None:
        """The first len(items) buffered items are written (or given up on)."""
        self.buffer = self.buffer[len(items):]
        self.buffer_bytes -= sum(_body_size(item) for item in items)

    def _pause_if_full(self) -> None:
        """Too much fetched and unwritten: stop fetching more until the database is back."""
        engine = self.crawler.engine
        if self.paused_since is not None or engine is None or self.buffer_bytes < self.buffer_max:
            return
        from twisted.internet import task

        engine.pause()
        self.paused_since = time.monotonic()
        self.crawler.stats.inc_value("stage/paused")
        logger.warning("database still away with %.1f MB of fetched pages in memory: crawl paused until it is back",
                       self.buffer_bytes / 1e6)
        self._paused_loop = task.LoopingCall(self._while_paused)
        self._paused_loop.start(1.0, now=False)

    def _while_paused(self) -> None:
        self.flush()
        if self.buffer and time.monotonic() - self.paused_since < self.db_wait:  # type: ignore[operator]
            return
        self._paused_loop.stop()
        self.paused_since = None
        self.crawler.engine.unpause()
        if self.buffer:  # still away: end the crawl cleanly; close_spider waits once more, then reports
            logger.error("database away for %.0fs with the crawl paused: stopping the crawl", self.db_wait)
            self.crawler.stats.set_value("stage/stopped_db_away", 1)
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(self.crawler.stop_async())
        else:
            logger.warning("database is back: crawl resumed")

    def _write(self, items: list[Any], unsure: bool) -> None:
        """Write a batch in one transaction and, in the writer thread, one round trip.

        `unsure`: the previous attempt failed on the connection and may have committed; pages it staged
        are not staged again (nor their fetch counted twice in crawl_urls). Listing rows are upserts and
        need no such care; a failure or a 304 counted again only bumps crawl_urls.attempts once more.
        """
        assert self.conn is not None
        with self.conn.transaction(), self.conn.cursor() as cur:
            pages = [item for item in items if isinstance(item, FetchedPage)]
            staged = staging.already_staged(cur, pages) if unsure else set()
            with self.conn.pipeline():
                for item in items:
                    if isinstance(item, ListedArticles):
                        for article in item.articles:
                            frontier.record_listed(cur, article)
                    elif isinstance(item, LinkedFiles):
                        frontier.record_linked_files(cur, item)
                    elif isinstance(item, FetchedPage):
                        if not staged or (item.url, staging.fetched_at(item)) not in staged:
                            staging.stage_page(cur, item, self.run_id)
                            frontier.record_fetched(cur, item, staging.fetched_at(item))
                    elif isinstance(item, FetchFailed):
                        frontier.record_failed(cur, item)
                    elif isinstance(item, Revalidated):
                        frontier.record_not_modified(cur, item.url)
        self.last_flush = time.monotonic()

    def _count(self, items: list[Any]) -> None:
        stats = self.crawler.stats
        for item in items:
            if isinstance(item, ListedArticles):
                stats.inc_value("stage/listed", len(item.articles))
            elif isinstance(item, Revalidated):
                stats.inc_value("stage/not_modified")
            elif isinstance(item, LinkedFiles):
                stats.inc_value("frontier/files_linked", len(item.urls))
            elif isinstance(item, FetchedPage):
                stats.inc_value("stage/gone" if item.status in (404, 410) else "stage/fetched")
            else:
                stats.inc_value("stage/blocked" if item.blocked else "stage/failed")


def _body_size(item: Any) -> int:
    return len(item.body) if isinstance(item, FetchedPage) else 0
