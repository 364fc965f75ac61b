"""Distributed crawling: N Scrapy processes, on any machines, share one frontier in Redis.

`REDIS_URL` switches it on; without it a crawl is one process, as before. The engine is scrapy-redis
(its Scheduler, priority queue and RFPDupeFilter); gongkai adds only what scrapy-redis lacks:

- **Jobs.** The process that runs `gongkai crawl` is the coordinator: it records the crawl run in
  Postgres, pushes the seed requests (listing pages, failed articles, revalidations) into the job's
  Redis queue, announces the job, starts `--workers N` local worker processes and waits. Any
  `gongkai crawl --join` process (another machine, a scaled container) works on announced jobs too.
  Workers have no start requests of their own: they pop from the shared queue; what their callbacks
  yield goes back to it. Callbacks and meta survive the round trip (callbacks are spider methods).
- **Shared spider state.** The spider's per-crawl memory lives in Redis under the job's key, so a
  listing's next page can be parsed by any worker: the articles listed in this crawl and the articles
  requested (each an atomic test-and-set, so two workers never both fetch one article; two sets,
  because a retry or revalidation seed is requested without being listed), the repeated-page
  counter per listing, the listings walked to the end, the problems found.
- **Termination.** A worker is "busy" from the moment it pops a request (atomically, in the same Lua
  script) until its engine is idle again; it refreshes that mark every second while working. A worker
  stops when the queue is empty and no other worker is busy. A killed worker's mark expires
  (GONGKAI_WORKER_TTL seconds; at once when the coordinator sees its own child die).
- **Politeness across processes.** `SharedHostLimiter` (a downloader middleware) holds, per host,
  at most `--concurrency` leases (a sorted set of tokens with expiry) and a "next allowed start" time
  (Redis server clock, so machines' clocks do not matter): a request first takes a lease, then
  reserves a start `delay` (±jitter) after the previous one and sleeps until then. 429/5xx put the
  host on hold for every worker (Retry-After honoured). Each process's own Scrapy delay is 0.
- **A killed worker loses nothing.** The requests it had popped are gone from Redis, but the frontier
  is in Postgres: its articles stay 'pending' in crawl_urls (fetched again by the next crawl) and the
  run is recorded 'interrupted', so the next routine crawl walks every page of its listings. This is
  the same guarantee a killed single-process crawl has.

Keys: `<prefix>:job:<id>:*` per job (deleted by the coordinator at the end), `<prefix>:jobs` (the
announced jobs), `<prefix>:host:<host>:*` per host (shared by all jobs, expire by themselves).
`GONGKAI_REDIS_PREFIX` (default "gongkai") separates deployments sharing one Redis.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import redis
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import Response
from scrapy_redis import picklecompat
from scrapy_redis.queue import PriorityQueue

from gongkai.crawler.middlewares import RETRY_STATUSES, host_key, parse_retry_after
from gongkai.crawler.spiders.listing import ListingSpider

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "gongkai"
WORKER_TTL = 15.0  # seconds a worker's busy/alive mark lives without a refresh
JOB_TTL = 7 * 24 * 3600  # safety net: a job's keys expire even if its coordinator vanished


def redis_url_from_env() -> str | None:
    """REDIS_URL set (and not empty): distributed mode."""
    return os.environ.get("REDIS_URL") or None


def prefix_from_env() -> str:
    return os.environ.get("GONGKAI_REDIS_PREFIX") or DEFAULT_PREFIX


def worker_ttl() -> float:
    return float(os.environ.get("GONGKAI_WORKER_TTL") or WORKER_TTL)


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10, retry_on_timeout=True)


def check_redis(url: str) -> None:
    """One clear line (exit 3, like the database) when REDIS_URL is wrong or Redis is down."""
    from gongkai.db import DatabaseError, scrub

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5).ping()
    except (redis.RedisError, ValueError) as exc:
        first = scrub((str(exc).strip().splitlines() or [exc.__class__.__name__])[0], url)
        raise DatabaseError(f"cannot reach Redis at REDIS_URL {redact_redis(url)}: {first}") from None


def redact_redis(url: str) -> str:
    """REDIS_URL fit for logs: scheme, host, port, database; never the credentials."""
    from gongkai.db import split_userinfo

    split = split_userinfo(url)
    if split is not None:  # cut by hand first: a password holding '/' or '#' fools urlsplit
        url = split[0] + split[3]
    try:
        parts = urlsplit(url)
        host = f"{parts.hostname}:{parts.port}" if parts.port else (parts.hostname or "")
    except ValueError:
        return "<unparseable Redis URL>"
    return f"{parts.scheme}://{host}{parts.path}"


# -- Lua: each runs atomically on the Redis server, with the server's clock ----------------------------

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "

# Pop the highest-priority request and mark this worker busy, in one step.
POP = _NOW + """
local r = redis.call('ZRANGE', KEYS[1], 0, 0)
if #r == 0 then return false end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[2]))
return r[1]
"""

# This worker is idle: clear its busy mark; 1 when the whole job is done (queue empty, nobody busy).
FINISHED = _NOW + """
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
local busy = redis.call('HGETALL', KEYS[2])
for i = 1, #busy, 2 do
  if tonumber(busy[i + 1]) > now then return 0 end
end
return 1
"""

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


class Job:
    """The Redis keys of one distributed crawl."""

    def __init__(self, server: redis.Redis, job_id: str, prefix: str | None = None) -> None:
        self.server = server
        self.id = job_id
        self.prefix = prefix or prefix_from_env()
        self.base = f"{self.prefix}:job:{job_id}"
        self.jobs = f"{self.prefix}:jobs"
        self._pop = server.register_script(POP)
        self._finished = server.register_script(FINISHED)

    def key(self, name: str) -> str:
        return f"{self.base}:{name}"

    @property
    def queue(self) -> str:
        return self.key("queue")

    def describe(self) -> dict[str, Any]:
        raw = self.server.get(self.key("job"))
        if raw is None:
            raise LookupError(f"no distributed crawl job {self.id} in Redis")
        return json.loads(raw)

    def pop(self, worker: str) -> bytes | None:
        return self._pop(keys=[self.queue, self.key("busy")], args=[worker, int(worker_ttl() * 1000)])

    def finished(self, worker: str) -> bool:
        return bool(self._finished(keys=[self.queue, self.key("busy")], args=[worker]))

    def heartbeat(self, worker: str, busy: bool) -> None:
        expiry = self._server_ms() + int(worker_ttl() * 1000)
        pipe = self.server.pipeline()
        pipe.hset(self.key("alive"), worker, expiry)
        if busy:
            pipe.hset(self.key("busy"), worker, expiry)
        for name in ("alive", "busy", "workers", "listed", "requested", "repeated", "complete", "problems", "stats"):
            pipe.expire(self.key(name), JOB_TTL)
        pipe.execute()

    def _server_ms(self) -> int:
        seconds, micros = self.server.time()
        return seconds * 1000 + micros // 1000

    def register(self, worker: str) -> None:
        info = {"host": socket.gethostname(), "pid": os.getpid(), "state": "running", "started": time.time()}
        self.server.hset(self.key("workers"), worker, json.dumps(info))
        self.heartbeat(worker, busy=False)

    def set_state(self, worker: str, state: str, **extra: Any) -> None:
        raw = self.server.hget(self.key("workers"), worker)
        info = json.loads(raw) if raw else {}
        info.update(state=state, **extra)
        self.server.hset(self.key("workers"), worker, json.dumps(info))

    def forget(self, worker: str, leases: bool = False) -> None:
        """A worker that stopped: neither busy nor alive any more; if it died, free its host leases too."""
        self.server.hdel(self.key("busy"), worker)
        self.server.hdel(self.key("alive"), worker)
        if leases:
            mine = f"{worker}|".encode()
            for key in self.server.scan_iter(match=f"{self.prefix}:host:*:leases", count=1000):
                held = [t for t in self.server.zrange(key, 0, -1) if t.startswith(mine)]
                if held:
                    self.server.zrem(key, *held)

    def workers(self) -> dict[str, dict[str, Any]]:
        return {k.decode(): json.loads(v) for k, v in self.server.hgetall(self.key("workers")).items()}

    def alive(self) -> set[str]:
        now = self._server_ms()
        return {k.decode() for k, v in self.server.hgetall(self.key("alive")).items() if float(v) > now}

    def delete(self) -> None:
        self.server.srem(self.jobs, self.id)
        keys = list(self.server.scan_iter(match=f"{self.base}:*", count=500))
        if keys:
            self.server.delete(*keys)


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


class JobQueue(PriorityQueue):
    """scrapy-redis's priority queue; popping also marks the worker busy (see FINISHED)."""

    def pop(self, timeout: int = 0) -> Request | None:
        spider = self.spider
        data = spider.job.pop(spider.worker)
        return self._decode_request(data) if data else None


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
            busy = bool(engine.downloader.active) or not engine.scraper.slot.is_idle()
            spider.job.heartbeat(spider.worker, busy)
        except Exception:  # Redis briefly away: the next beat tries again
            logger.warning("crawl worker heartbeat failed", exc_info=True)

    def spider_idle(self, spider: DistributedListingSpider) -> None:
        if spider.job.finished(spider.worker):
            return
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None:  # look at the shared queue again soon (Scrapy's own heartbeat is 5 s)
            slot.nextcall.schedule(0.2)
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
        protego = getattr(robotparser, "rp", None)
        delay = protego.crawl_delay(self.crawler.settings.get("USER_AGENT", "*")) if protego is not None else None
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


# -- settings -------------------------------------------------------------------------------------------

def worker_settings(base: dict[str, Any], redis_url: str, job: Job, database_url: str) -> dict[str, Any]:
    """A worker's Scrapy settings: the coordinator's, plus scrapy-redis and the shared limiter."""
    settings = dict(base)
    settings.update({
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_QUEUE_CLASS": "gongkai.crawler.distributed.JobQueue",
        "SCHEDULER_QUEUE_KEY": job.queue,
        "SCHEDULER_DUPEFILTER_KEY": job.key("dupefilter"),
        "SCHEDULER_PERSIST": True,  # a worker that stops must not clear the queue the others still use
        "GONGKAI_LISTING_LOOKAHEAD": False,  # one global queue: per-page priorities would starve deep columns
        "REDIS_URL": redis_url,
        "GONGKAI_REDIS_PREFIX": job.prefix,
        "GONGKAI_DATABASE_URL": database_url,
        "GONGKAI_SHARED_DELAY": base.get("DOWNLOAD_DELAY", 0.0),
        "GONGKAI_SHARED_CONCURRENCY": base.get("CONCURRENT_REQUESTS_PER_DOMAIN", 2),
        "DOWNLOAD_DELAY": 0,  # the shared limiter spaces requests to a host across all workers
        "DOWNLOADER_MIDDLEWARES": {**base.get("DOWNLOADER_MIDDLEWARES", {}),
                                   "gongkai.crawler.distributed.SharedHostLimiter": 950},
        "EXTENSIONS": {"gongkai.crawler.distributed.WorkerCoordination": 500},
    })
    return settings


# -- worker ---------------------------------------------------------------------------------------------

def run_worker(job_id: str, worker: str, redis_url: str, database_url: str) -> int:
    """Work on one job until it is done (one Scrapy process: the reactor cannot restart)."""
    import psycopg
    from scrapy.crawler import CrawlerProcess

    job = Job(connect(redis_url), job_id)
    try:
        desc = job.describe()
    except LookupError:
        return 0  # finished and cleaned up before we got to it
    sites = sorted({item["site"] for item in desc["listings"]})
    with psycopg.connect(database_url, autocommit=True) as conn:
        known = [row[0] for row in conn.execute(
            "SELECT url FROM crawl_urls WHERE site = ANY(%s) AND state IN ('fetched', 'gone', 'blocked')", (sites,))]
    settings = worker_settings(desc["settings"], redis_url, job, database_url)
    root_level = logging.root.level
    process = CrawlerProcess(settings)
    logging.root.setLevel(root_level)
    crawler = process.create_crawler(DistributedListingSpider)
    failed: list[str] = []
    process.crawl(crawler, job_id=job_id, redis_url=redis_url, listings=desc["listings"], worker=worker,
                  known=known, full=desc["full"]).addErrback(lambda f: failed.append(str(f.value)))
    process.start()
    if failed:
        logger.error("crawl worker %s crashed: %s", worker, failed[0])
        job.set_state(worker, "crashed", error=failed[0][:300])
        return 1
    return 0


def join_forever(redis_url: str, database_url: str, *, once: bool = False, poll: float = 1.0) -> int:
    """`gongkai crawl --join`: work on every announced job, one worker subprocess per job, until SIGTERM.

    With `once`, return when no job is announced (after working on those that were).
    """
    server = connect(redis_url)
    jobs_key = f"{prefix_from_env()}:jobs"
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    done: set[str] = set()
    children: dict[str, subprocess.Popen] = {}
    while not stopping:
        active = {j.decode() for j in server.smembers(jobs_key)}
        for job_id in sorted(active - done - set(children)):
            worker = f"{socket.gethostname()}:{os.getpid()}:{job_id[:8]}"
            children[job_id] = spawn_worker(job_id, worker, redis_url, database_url)
        for job_id, child in list(children.items()):
            if child.poll() is not None:
                done.add(job_id)
                del children[job_id]
        if once and not children and not (active - done):
            return 0
        time.sleep(poll)
    for child in children.values():
        child.send_signal(signal.SIGTERM)
    for child in children.values():
        child.wait()
    return 0


def spawn_worker(job_id: str, worker: str, redis_url: str, database_url: str) -> subprocess.Popen:
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url,
           "GONGKAI_REDIS_PREFIX": prefix_from_env()}
    return subprocess.Popen([sys.executable, "-m", "gongkai.crawler.distributed", job_id, worker], env=env,
                            stdin=subprocess.DEVNULL)


# -- coordinator ----------------------------------------------------------------------------------------

@dataclass
class DistributedOutcome:
    stats: dict[str, Any]
    problems: list[str]
    complete_columns: list[str]
    lost_workers: list[str] = field(default_factory=list)


def crawl_distributed(redis_url: str, database_url: str, settings: dict[str, Any], *,
                      listings: list[dict[str, Any]], retry: list[dict[str, Any]],
                      revalidate: list[dict[str, Any]], full: bool, workers: int = 1) -> DistributedOutcome:
    """Seed a job, run `workers` local worker processes (and whoever joins), wait until it is done."""
    server = connect(redis_url)
    job = Job(server, uuid.uuid4().hex)
    base = {k: v for k, v in settings.items() if k not in ("EXTENSIONS", "GONGKAI_DATABASE_URL")}
    server.set(job.key("job"), json.dumps({"settings": base, "listings": listings, "full": full,
                                           "run_id": settings.get("GONGKAI_RUN_ID")}), ex=JOB_TTL)
    seeder = DistributedListingSpider(job.id, redis_url, listings, retry=retry, revalidate=revalidate, full=full,
                                      seed=True, worker="coordinator")
    queue = JobQueue(server, seeder, job.queue, picklecompat)

    async def seed() -> int:
        n = 0
        async for request in seeder.start():
            queue.push(request)
            n += 1
        return n

    seeded = asyncio.run(seed())
    server.expire(job.queue, JOB_TTL)
    server.sadd(job.jobs, job.id)  # announced: joiners start now
    logger.info("distributed crawl job %s: %d seed requests, %d local workers", job.id, seeded, workers)
    local = {f"{socket.gethostname()}:{os.getpid()}:{i}": None for i in range(workers)}
    children = {w: spawn_worker(job.id, w, redis_url, database_url) for w in local}
    lost: list[str] = []
    unattended: str | None = None
    # Nobody working on the job (no local workers, no joiner registered) for this long: give up, clearly.
    join_timeout = float(os.environ.get("GONGKAI_JOIN_TIMEOUT") or 300)
    seeded_at = time.monotonic()
    try:
        while True:
            if not children and not job.workers() and time.monotonic() - seeded_at > join_timeout:
                unattended = (f"no crawl worker took the job within {join_timeout:.0f}s: start `gongkai crawl "
                              "--join` or `gongkai serve --role crawler` with the same REDIS_URL, or crawl with "
                              "--workers N")
                break
            for w, child in children.items():
                code = child.poll()
                if code not in (None, 0) and w not in lost and job.workers().get(w, {}).get("state") != "done":
                    lost.append(w)
                    job.forget(w, leases=True)  # its busy mark and host leases must not hold the others back
                    logger.warning("crawl worker %s (pid %d) died (exit %s)", w, child.pid, code)
            if all(child.poll() is not None for child in children.values()):
                alive = job.alive()
                running = [w for w, info in job.workers().items() if info.get("state") == "running" and w not in lost]
                if not [w for w in running if w in alive] and (children or job.finished("coordinator")):
                    lost += running  # registered, never said done, no heartbeat: died elsewhere
                    break
            time.sleep(0.2)
        stats: dict[str, Any] = {}
        reasons = []
        for raw in server.hvals(job.key("stats")):
            worker_stats = json.loads(raw)
            reasons.append(worker_stats.pop("finish_reason", None))
            for k, v in worker_stats.items():
                stats[k] = stats.get(k, 0) + v
        stats["finish_reason"] = "finished" if not lost and all(r == "finished" for r in reasons) else \
            ("worker lost" if lost else next(r for r in reasons if r != "finished"))
        problems = SharedProblems(server, job.key("problems")).reasons()
        if unattended:
            stats["finish_reason"] = "unattended"
            problems.append(unattended)
        if lost:
            problems.append(f"{len(lost)} crawl worker(s) stopped before the crawl was done ({', '.join(lost)}): "
                            "the pages they held are fetched again by the next crawl")
        complete = sorted(SharedSet(server, job.key("complete")).members())
        return DistributedOutcome(stats=stats, problems=problems, complete_columns=complete, lost_workers=lost)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        job.delete()


def crawl_workers_option(args: Any, join: bool = False) -> int:
    """`gongkai crawl --workers N` (checked here, used by run_crawl via GONGKAI_CRAWL_WORKERS) and `--join`."""
    from gongkai.db import open_database
    from gongkai.errors import UserError

    redis_url = redis_url_from_env()
    if join:
        if args.urls or args.sites or args.all_sites:
            raise UserError("--join takes no URLs or sites: a worker crawls whatever the coordinators announce")
        if not redis_url:
            raise UserError("--join needs REDIS_URL: the Redis server the coordinators announce crawls in")
        check_redis(redis_url)
        url, conn = open_database()
        conn.close()
        return join_forever(redis_url, url)
    if not redis_url and args.workers != 1:
        raise UserError("--workers needs REDIS_URL: the workers share their frontier through Redis")
    os.environ["GONGKAI_CRAWL_WORKERS"] = str(args.workers)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m gongkai.crawler.distributed JOB_ID WORKER_ID`: one worker (started by the coordinator)."""
    args = sys.argv[1:] if argv is None else argv
    from gongkai.logs import configure_logging

    configure_logging(bool(os.environ.get("GONGKAI_VERBOSE")))
    import warnings

    from scrapy.exceptions import ScrapyDeprecationWarning

    # scrapy-redis 0.9.1 still passes spider= to the stats collector and calls Spider.log()
    warnings.filterwarnings("ignore", category=ScrapyDeprecationWarning, module="scrapy_redis")
    redis_url = redis_url_from_env()
    database_url = os.environ.get("DATABASE_URL")
    if not redis_url or not database_url or len(args) != 2:
        print("usage: REDIS_URL=… DATABASE_URL=… python -m gongkai.crawler.distributed JOB_ID WORKER_ID",
              file=sys.stderr)
        return 2
    return run_worker(args[0], args[1], redis_url, database_url)


if __name__ == "__main__":
    raise SystemExit(main())
