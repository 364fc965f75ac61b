"""What the workers of one job share besides the queue: the spider's crawl memory (SharedMemory and the
DistributedListingSpider that uses it), the extension that keeps a worker going until the whole job is done
(WorkerCoordination), and per-host politeness across processes (SharedHostLimiter: leases and start times
in Redis). (See the package docstring.)"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlsplit

import redis
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import Response

from gongkai.crawler.distributed.queue import _NOW, Job, connect, prefix_from_env
from gongkai.crawler.middlewares import RETRY_STATUSES, parse_retry_after
from gongkai.crawler.scrapy_patches import engine_busy, wake_engine
from gongkai.crawler.spiders.listing import ListingSpider
from gongkai.urls import host_key

logger = logging.getLogger(__name__)

# -- Lua: per-host leases and start times (atomic on the Redis server, with the server's clock) ----------

# Take one of `capacity` leases on a host and reserve a start time `interval` after the previous one.
# Returns -1 (no lease free: try again) or the milliseconds to wait before starting.
ACQUIRE = _NOW + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return -1 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
local start = math.max(now, nxt)
redis.call('SET', KEYS[2], start + tonumber(ARGV[4]), 'PX', start - now + tonumber(ARGV[4]) + 600000)
return start - now
"""

# A reserved start came due: start now if the previous *actual* start is `ARGV[1]` ms ago or more (a
# worker that woke late must not squeeze the next request in behind it); else the ms still to wait.
START = _NOW + """
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if now < last + tonumber(ARGV[1]) then return last + tonumber(ARGV[1]) - now end
redis.call('SET', KEYS[1], now, 'PX', tonumber(ARGV[1]) + 600000)
return 0
"""

# Hold a host: no request starts before now + ARGV[1] ms.
HOLD = _NOW + """
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local until_ = math.max(nxt, now + tonumber(ARGV[1]))
redis.call('SET', KEYS[1], until_, 'PX', until_ - now + 600000)
return until_ - now
"""

# -- shared spider state ------------------------------------------------------------------------------

class SharedMemory:
    """The spider's CrawlMemory (articles listed, articles requested in this crawl), shared by all workers.

    Each SADD is an atomic test-and-set, which is what makes one article one fetch across workers; a
    listing page's claims on both sets go in one pipelined round trip.
    """

    def __init__(self, server: redis.Redis, listed_key: str, requested_key: str) -> None:
        self.server, self.listed_key, self.requested_key = server, listed_key, requested_key

    def claim(self, listed: list[str], requested: list[str]) -> tuple[list[bool], list[bool]]:
        if not listed and not requested:
            return [], []
        pipe = self.server.pipeline(transaction=False)
        for url in listed:
            pipe.sadd(self.listed_key, url)
        for url in requested:
            pipe.sadd(self.requested_key, url)
        added = [n == 1 for n in pipe.execute()]
        return added[:len(listed)], added[len(listed):]


class SharedCounter:
    """listing -> pages in a row that brought nothing new (a listing's pages are parsed one after another)."""

    def __init__(self, server: redis.Redis, key: str) -> None:
        self.server, self.key = server, key

    def get(self, name: str, default: int = 0) -> int:
        value = self.server.hget(self.key, name)
        return default if value is None else int(value)

    def __getitem__(self, name: str) -> int:
        return self.get(name)

    def __setitem__(self, name: str, value: int) -> None:
        self.server.hset(self.key, name, value)


class SharedSet:
    def __init__(self, server: redis.Redis, key: str) -> None:
        self.server, self.key = server, key

    def add(self, value: str) -> None:
        self.server.sadd(self.key, value)

    def members(self) -> set[str]:
        return {v.decode() for v in self.server.smembers(self.key)}


class SharedProblems:
    """ListingSpider appends ListingProblem objects; the coordinator reads their reasons."""

    def __init__(self, server: redis.Redis, key: str) -> None:
        self.server, self.key = server, key

    def append(self, problem: Any) -> None:
        self.server.rpush(self.key, problem.reason)

    def reasons(self) -> list[str]:
        return [v.decode() for v in self.server.lrange(self.key, 0, -1)]


class DistributedListingSpider(ListingSpider):
    """ListingSpider whose crawl memory is the job's, in Redis. Workers start with no requests."""

    def __init__(self, job_id: str, redis_url: str, listings: list[dict[str, Any]], *, worker: str = "",
                 retry: Iterable[dict[str, Any]] = (), known: Iterable[str] = (),
                 revalidate: Iterable[dict[str, Any]] = (), full: bool = False, seed: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(listings, retry=retry, known=known, revalidate=revalidate, full=full, **kwargs)
        server = connect(redis_url)
        self.job = Job(server, job_id)
        self.worker = worker
        self.seed = seed
        self.memory = SharedMemory(  # type: ignore[assignment]
            server, self.job.key("listed"), self.job.key("requested"))
        self.repeated = SharedCounter(server, self.job.key("repeated"))  # type: ignore[assignment]
        self.complete_columns = SharedSet(server, self.job.key("complete"))  # type: ignore[assignment]
        self.problems = SharedProblems(server, self.job.key("problems"))  # type: ignore[assignment]

    async def start(self) -> AsyncIterator[Any]:
        if self.seed:  # the coordinator's instance: the seed requests
            async for request in super().start():
                yield request


class WorkerCoordination:
    """Extension in every worker: registration, heartbeat, and stopping only when the whole job is done."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.loop = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WorkerCoordination:
        return cls(crawler)

    def spider_opened(self, spider: DistributedListingSpider) -> None:
        from twisted.internet import task

        spider.job.register(spider.worker)
        self.loop = task.LoopingCall(self.beat, spider)
        self.loop.start(1.0, now=False)

    def beat(self, spider: DistributedListingSpider) -> None:
        engine = self.crawler.engine
        try:
            spider.job.heartbeat(spider.worker, engine_busy(engine))
        except Exception:  # Redis briefly away: the next beat tries again
            logger.warning("crawl worker heartbeat failed", exc_info=True)

    def spider_idle(self, spider: DistributedListingSpider) -> None:
        if spider.job.finished(spider.worker):
            return
        wake_engine(self.crawler.engine, 0.2)  # look at the shared queue again soon (Scrapy's heartbeat is 5 s)
        raise DontCloseSpider

    def spider_closed(self, spider: DistributedListingSpider, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        stats = {k: v for k, v in self.crawler.stats.get_stats().items() if isinstance(v, int | float)}
        stats["finish_reason"] = reason
        spider.job.server.hset(spider.job.key("stats"), spider.worker, json.dumps(stats))
        spider.job.set_state(spider.worker, "done")
        spider.job.forget(spider.worker)


class SharedHostLimiter:
    """Per-host concurrency and delay held across every worker process (see the module docstring)."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.server = connect(settings.get("REDIS_URL"))
        self.prefix = settings.get("GONGKAI_REDIS_PREFIX") or prefix_from_env()
        self.delay = settings.getfloat("GONGKAI_SHARED_DELAY", 0.0)
        self.jitter = settings.getfloat("DOWNLOAD_DELAY_JITTER", 0.5)
        self.capacity = max(1, settings.getint("GONGKAI_SHARED_CONCURRENCY", 2))
        self.timeout = settings.getfloat("DOWNLOAD_TIMEOUT", 30)
        self.backoff = settings.getfloat("GONGKAI_BACKOFF_BASE", 2.0)
        self.hold_max = settings.getfloat("GONGKAI_RETRY_AFTER_MAX", 600.0)
        self.crawl_delays: dict[str, float] = {}
        self.crawl_delay_max = settings.getfloat("GONGKAI_CRAWL_DELAY_MAX", 60.0)
        # The leases this process holds, per host (token -> when Redis lets it expire, monotonic): while
        # they are all of a host's, no lease can be free, and asking Redis again and again would only cost
        # round trips on the event loop (it was 2 failed asks per request with one worker).
        self._held: dict[str, dict[str, float]] = {}
        self._freed: dict[str, asyncio.Event] = {}
        self._acquire = self.server.register_script(ACQUIRE)
        self._start = self.server.register_script(START)
        self._hold = self.server.register_script(HOLD)
        crawler.signals.connect(self._robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedHostLimiter:
        return cls(crawler)

    def _keys(self, host: str) -> list[str]:
        return [f"{self.prefix}:host:{host}:leases", f"{self.prefix}:host:{host}:next",
                f"{self.prefix}:host:{host}:started"]

    def _robots_parsed(self, robotparser: Any, request: Request) -> None:
        delay = robotparser.crawl_delay(self.crawler.settings.get("USER_AGENT", "*"))
        if delay:
            self.crawl_delays[host_key(request.url)] = min(float(delay), self.crawl_delay_max)

    async def process_request(self, request: Request) -> None:
        host = host_key(request.url)
        token = f"{getattr(self.crawler.spider, 'worker', '')}|{uuid.uuid4().hex}"
        delay = max(self.delay, self.crawl_delays.get(host, 0.0))
        interval = int(delay * random.uniform(1 - self.jitter, 1 + self.jitter) * 1000) if delay else 0
        # A lease outlives a killed worker at most this long: a download, plus the wait for its start slot.
        lease_ms = int((self.timeout + self.capacity * delay * 2 + 5) * 1000)
        pause = 0.02
        while True:
            if self._held_here(host) >= self.capacity:
                await self._one_of_ours_ends(host)
                continue
            wait_ms = self._acquire(keys=self._keys(host), args=[self.capacity, lease_ms, token, interval])
            if wait_ms >= 0:
                break
            self.crawler.stats.inc_value("shared_limiter/lease_waits")  # another process holds the rest
            await asyncio.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 1.5, 0.1)  # a freed lease is noticed within ~0.1 s
        self._held.setdefault(host, {})[token] = time.monotonic() + lease_ms / 1000
        request.meta["_gongkai_lease"] = token
        while True:
            if wait_ms > 0:
                await asyncio.sleep(wait_ms / 1000)
            if not interval:
                break
            wait_ms = self._start(keys=[self._keys(host)[2]], args=[interval])
            if wait_ms <= 0:
                break
        # Given up while this request waited (PoliteRetryMiddleware: Retry-After longer than a crawl waits).
        closed = self._closed_reason(request)
        if closed:
            self._release(request)
            raise IgnoreRequest(closed)

    def _closed_reason(self, request: Request) -> str | None:
        """Why this process gave the request's host up for this crawl (PerHostDownloader.close_host), if it did."""
        try:
            downloader = self.crawler.engine.downloader
        except (AttributeError, RuntimeError):  # no engine (yet)
            return None
        return getattr(downloader, "closed", {}).get(urlsplit(request.url).hostname or "")

    def _held_here(self, host: str) -> int:
        leases = self._held.get(host)
        if not leases:
            return 0
        now = time.monotonic()
        for token in [token for token, until in leases.items() if until <= now]:
            del leases[token]  # expired in Redis too: a request that never came back (it should not happen)
        return len(leases)

    async def _one_of_ours_ends(self, host: str) -> None:
        """Until this process releases a lease on host (or a second has passed: a lease can expire)."""
        event = self._freed.setdefault(host, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout=1.0)
        except TimeoutError:
            pass

    def _release(self, request: Request) -> None:
        token = request.meta.pop("_gongkai_lease", None)
        if token:
            host = host_key(request.url)
            self._held.get(host, {}).pop(token, None)
            freed = self._freed.pop(host, None)
            if freed is not None:
                freed.set()
            self.server.zrem(self._keys(host)[0], token)

    def process_response(self, request: Request, response: Response) -> Response:
        self._release(request)
        if response.status in RETRY_STATUSES:
            retry_after = parse_retry_after(response.headers.get(b"Retry-After")) or 0.0
            # Longer than a crawl waits: each worker's PoliteRetryMiddleware gives the host up (one request
            # each at most); held in Redis, it would stall this job and every later job on the host.
            hold = self.backoff if retry_after > self.hold_max else max(retry_after, self.backoff)
            self._hold(keys=self._keys(host_key(request.url))[1:2], args=[int(hold * 1000)])
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._release(request)
        return None

