"""What the workers of one job share besides the queue: the spider's crawl memory (SharedMemory and the
DistributedListingSpider that uses it), the extension that keeps a worker going until the whole job is done
(WorkerCoordination), and per-host politeness across processes (SharedHostLimiter: leases and start times
in Redis). (See the package docstring.)"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlsplit

import redis
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import Response

from gongkai.crawler import frontier
from gongkai.crawler.distributed.queue import (
    _NOW,
    INFLIGHT_META,
    LEASE_META,
    Job,
    Popped,
    connect,
    lease_ttl,
    prefix_from_env,
    worker_ttl,
)
from gongkai.crawler.middlewares import RETRY_STATUSES, parse_retry_after
from gongkai.crawler.pipelines import StagePipeline
from gongkai.crawler.scrapy_patches import engine_busy, on_request_finished, wake_engine
from gongkai.crawler.spiders.listing import ListingSpider
from gongkai.urls import host_key

logger = logging.getLogger(__name__)

# -- Lua: per-host start times (atomic on the Redis server, with the server's clock) ------------------------
# The leases and the reserved starts of requests from the queue are taken when they are popped
# (queue.POP); these two are for the request about to start.

# About to start: start now if the previous actual start allowed it (`started` holds the earliest next
# start); else the ms still to wait. A request popped on time always may; one that was held up on its way
# (waiting for the host's robots.txt) must not squeeze in right behind the request that went first.
START = _NOW + """
local ok = tonumber(redis.call('GET', KEYS[1]) or '0')
if now < ok then return ok - now end
if tonumber(ARGV[1]) > 0 then redis.call('SET', KEYS[1], now + tonumber(ARGV[1]), 'PX', tonumber(ARGV[1]) + 600000) end
return 0
"""

# A request that did not come through the queue (robots.txt): reserve a start `interval` after the host's
# next reserved one, no lease (it is one request per host and worker, and the request that triggered it
# holds a lease and waits for it); ms to wait.
RESERVE = _NOW + """
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(now, nxt)
redis.call('SET', KEYS[1], start + tonumber(ARGV[1]), 'PX', start - now + tonumber(ARGV[1]) + 600000)
return start - now
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
    """Extension in every worker: registration, heartbeat (alive and busy marks, host leases kept, stats
    published), a request's in-flight record dropped once it is handled, dead workers' requests given back,
    and stopping only when the whole job is done."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.loop = None
        self.beats = 0
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WorkerCoordination:
        return cls(crawler)

    def spider_opened(self, spider: DistributedListingSpider) -> None:
        from twisted.internet import task

        spider.job.register(spider.worker, role=self.crawler.settings.get("GONGKAI_WORKER_ROLE") or "local")
        on_request_finished(self.crawler.engine, lambda request: self.handled(spider, request))
        self.loop = task.LoopingCall(self.beat, spider)
        self.loop.start(1.0, now=False)

    def handled(self, spider: DistributedListingSpider, request: Request) -> None:
        inflight = request.meta.get(INFLIGHT_META)
        if inflight:
            try:
                spider.job.done(inflight)
            except redis.RedisError:  # left in flight: the idle worker drops it (spider_idle)
                logger.warning("could not mark a request handled in Redis", exc_info=True)

    def _limiter(self) -> SharedHostLimiter | None:
        return getattr(self.crawler, "gongkai_limiter", None)

    def beat(self, spider: DistributedListingSpider) -> None:
        engine = self.crawler.engine
        self.beats += 1
        try:
            limiter = self._limiter()
            held = limiter.held() if limiter is not None else {}
            if limiter is not None:
                gone = spider.job.refresh_leases(held, limiter.lease_ttl)
                if gone:  # expired while this worker was stalled: not ours any more, never released by us
                    limiter.drop(gone)
                    held = limiter.held()
            stats = self._stats()
            stats["shared_limiter/leases_held"] = len(held)
            spider.job.heartbeat(spider.worker, engine_busy(engine), stats, holding=sorted(set(held.values())))
            if self.beats % 2 == 0:
                self._give_back_dead(spider)
        except Exception:  # Redis briefly away: the next beat tries again
            logger.warning("crawl worker heartbeat failed", exc_info=True)

    def _stats(self) -> dict[str, Any]:
        return {k: v for k, v in self.crawler.stats.get_stats().items() if isinstance(v, int | float)}

    def _give_back_dead(self, spider: DistributedListingSpider) -> None:
        for worker, n in spider.job.requeue().items():
            logger.warning("crawl worker %s stopped answering (no heartbeat for %.0fs): its %d unfinished requests "
                           "are back in the queue", worker, worker_ttl(), n)
            spider.job.server.hincrby(spider.job.key("given_back"), worker, n)

    def spider_idle(self, spider: DistributedListingSpider) -> None:
        # Idle: every request this worker took is handled; a record left in flight is one whose "handled"
        # did not reach Redis. Dropped, not given back: it was done.
        stale = [f for f in spider.job.server.hkeys(spider.job.key("inflight"))
                 if f.decode().startswith(f"{spider.worker}|")]
        if stale:
            spider.job.server.hdel(spider.job.key("inflight"), *stale)
        self._give_back_dead(spider)
        if spider.job.finished(spider.worker):
            return
        wake_engine(self.crawler.engine, 0.2)  # look at the shared queue again soon (Scrapy's heartbeat is 5 s)
        raise DontCloseSpider

    def spider_closed(self, spider: DistributedListingSpider, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        stats = self._stats()
        stats["finish_reason"] = reason
        job = spider.job
        job.server.hset(job.key("stats"), spider.worker, json.dumps(stats))
        limiter = self._limiter()
        if limiter is not None:
            limiter.release_all()
        job.set_state(spider.worker, "done", reason=reason)  # first: a worker not alive and not done is lost
        given_back = job.forget(spider.worker).get(spider.worker, 0)  # stopped early: the rest is the others'
        if given_back:
            job.set_state(spider.worker, "done", reason=reason, given_back=given_back)
            logger.warning("crawl worker %s stopped (%s): %d requests it had taken are back in the queue",
                           spider.worker, reason, given_back)


class SharedHostLimiter:
    """Per-host concurrency and delay held across every worker process (see the module docstring).

    A request popped from the job's queue (JobQueue) comes with its host lease taken and its start reserved:
    here it only checks, on the Redis clock, that the previous request to the host started long enough ago
    (it did, unless this one was held up on its way), and gives the lease back when its download ends.
    Anything else (robots.txt) reserves a start here. 429/5xx hold the host for every worker.
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        crawler.gongkai_limiter = self  # type: ignore[attr-defined]  # WorkerCoordination keeps its leases
        self.server = connect(settings.get("REDIS_URL"))
        self.prefix = settings.get("GONGKAI_REDIS_PREFIX") or prefix_from_env()
        self.delay = settings.getfloat("GONGKAI_SHARED_DELAY", 0.0)
        self.jitter = settings.getfloat("DOWNLOAD_DELAY_JITTER", 0.5)
        self.backoff = settings.getfloat("GONGKAI_BACKOFF_BASE", 2.0)
        self.hold_max = settings.getfloat("GONGKAI_RETRY_AFTER_MAX", 600.0)
        self.crawl_delay_max = settings.getfloat("GONGKAI_CRAWL_DELAY_MAX", 60.0)
        self.lease_ttl = lease_ttl()
        self._held: dict[str, tuple[str, Job]] = {}  # lease token -> (host, job) while its request downloads
        self._start = self.server.register_script(START)
        self._reserve = self.server.register_script(RESERVE)
        self._hold = self.server.register_script(HOLD)
        crawler.signals.connect(self._robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedHostLimiter:
        return cls(crawler)

    def _key(self, host: str, name: str) -> str:
        return f"{self.prefix}:host:{host}:{name}"

    def held(self) -> dict[str, str]:
        """The leases this process holds: token -> host."""
        return {token: host for token, (host, _) in self._held.items()}

    def _robots_parsed(self, robotparser: Any, request: Request) -> None:
        """robots.txt Crawl-delay, for every worker: the queue spaces the host's requests by it."""
        delay = robotparser.crawl_delay(self.crawler.settings.get("USER_AGENT", "*"))
        if delay:
            ms = int(min(float(delay), self.crawl_delay_max) * 1000)
            self.server.set(self._key(host_key(request.url), "delay"), ms, ex=24 * 3600)

    async def process_request(self, request: Request) -> None:
        host = host_key(request.url)
        popped = request.meta.get(LEASE_META)
        if isinstance(popped, Popped):
            self._held[popped.lease] = (host, self.crawler.spider.job)
            request.meta[INFLIGHT_META] = popped.inflight
            interval = popped.interval_ms
        else:  # not from the queue: robots.txt
            delay = self.delay
            interval = int(delay * random.uniform(1 - self.jitter, 1 + self.jitter) * 1000) if delay else 0
            if interval:
                await self._wait(host, self._reserve(keys=[self._key(host, "next")], args=[interval]))
        if interval:
            while (wait_ms := self._start(keys=[self._key(host, "started")], args=[interval])) > 0:
                await self._wait(host, wait_ms)
        # Given up while this request waited (PoliteRetryMiddleware: Retry-After longer than a crawl waits).
        closed = self._closed_reason(request)
        if closed:
            raise IgnoreRequest(closed)  # process_exception gives the lease back

    async def _wait(self, host: str, wait_ms: int) -> None:
        if wait_ms <= 0:
            return
        stats = self.crawler.stats
        stats.inc_value("shared_limiter/start_waits")
        stats.inc_value("shared_limiter/start_wait_ms", wait_ms)
        stats.inc_value(f"shared_limiter/start_wait_ms/{host}", wait_ms)
        await asyncio.sleep(wait_ms / 1000)

    def _closed_reason(self, request: Request) -> str | None:
        """Why this process gave the request's host up for this crawl (PerHostDownloader.close_host), if it did."""
        try:
            downloader = self.crawler.engine.downloader
        except (AttributeError, RuntimeError):  # no engine (yet)
            return None
        return getattr(downloader, "closed", {}).get(urlsplit(request.url).hostname or "")

    def _release(self, request: Request) -> None:
        popped = request.meta.pop(LEASE_META, None)
        if not isinstance(popped, Popped):
            return
        held = self._held.pop(popped.lease, None)
        job = held[1] if held else self.crawler.spider.job
        try:
            job.release(popped.host, popped.lease)
        except redis.RedisError:  # the lease expires by itself (GONGKAI_LEASE_TTL)
            logger.warning("could not give a host lease back to Redis", exc_info=True)

    def drop(self, tokens: set[str]) -> None:
        """Leases that expired under this process (it was stalled): no longer held, nothing to release."""
        for token in tokens:
            self._held.pop(token, None)

    def release_all(self) -> None:
        """The worker stops: every lease it still holds is free now, not when it expires."""
        for token, (host, job) in list(self._held.items()):
            job.release(host, token)
        self._held.clear()

    def process_response(self, request: Request, response: Response) -> Response:
        self._release(request)
        if response.status in RETRY_STATUSES:
            retry_after = parse_retry_after(response.headers.get(b"Retry-After")) or 0.0
            # Longer than a crawl waits: each worker's PoliteRetryMiddleware gives the host up (one request
            # each at most); held in Redis, it would stall this job and every later job on the host.
            hold = self.backoff if retry_after > self.hold_max else max(retry_after, self.backoff)
            self._hold(keys=[self._key(host_key(request.url), "next")], args=[int(hold * 1000)])
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._release(request)
        return None


class LockOrderStagePipeline(StagePipeline):
    """The staging pipeline, each batch's crawl_urls rows written in URL order (frontier.in_lock_order).

    Several workers stage at once, and a batch locks many crawl_urls rows: one worker's batch recording a
    listing's rows and another's staging a fetched page of that listing locked the same rows in opposite
    orders, and PostgreSQL aborted one of them (a deadlock, seen once). In one order they only wait."""

    def _write(self, items: list[Any], unsure: bool) -> None:
        super()._write(frontier.in_lock_order(items), unsure)
