"""The Redis side of a distributed crawl job: its keys, the Lua scripts that pop and finish atomically,
the Job handle and the scrapy-redis queue that pops through it. (See the package docstring.)"""

from __future__ import annotations

import json
import os
import random
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis
from scrapy import Request
from scrapy_redis.queue import PriorityQueue

from gongkai.crawler.scrapy_patches import decode_request, wake_engine_later
from gongkai.settings import get_settings
from gongkai.urls import host_key

DEFAULT_PREFIX = "gongkai"
WORKER_TTL = 10.0  # seconds a worker's busy/alive mark lives without a refresh
JOB_TTL = 7 * 24 * 3600  # safety net: a job's keys expire even if its coordinator vanished


def redis_url_from_env() -> str | None:
    """REDIS_URL set (and not empty): distributed mode."""
    return get_settings().redis_url


def prefix_from_env() -> str:
    return get_settings().redis_prefix or DEFAULT_PREFIX


def worker_ttl() -> float:
    return get_settings().worker_ttl


def lease_ttl() -> float:
    """Seconds a host lease outlives its worker's last heartbeat (beats come every second): half the worker TTL,
    so a killed worker's hosts are served again within seconds."""
    return max(2.0, worker_ttl() / 2)


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

# The frontier is one queue per host (`<job>:q:<host>`, a sorted set: priority first, then first in first
# out) and `<job>:hosts`, each host with pending requests scored by when it may next be asked (ms, server
# clock). Pushing a request: into its host's queue; the host is due at once unless it is waiting already.
PUSH = """
local seq = redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) * 1e9 + (seq % 1e9), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('ZADD', KEYS[2], 'NX', 0, ARGV[3])
redis.call('INCR', KEYS[4])
return 1
"""

# Pop one request from a host that is free now: fewer than `capacity` leases held on it (by any worker of
# any job) and its next start due. The pop takes a lease for the request, reserves the host's next start
# `interval` ms later, records the request as in flight for this worker (given back to the queue if the
# worker dies) and marks the worker busy, in one step. Hosts are tried in the order they became due, so they
# take turns. Nothing is waited for here: a host that is not free is rescored for when it will be.
# Returns {request, host, interval ms, in-flight field} or {false, ms until the earliest host is due (-1:
# no host has pending requests)}.
POP = _NOW + """
local hosts, pending, busy, inflight = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local worker, busy_ttl, capacity = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local base_delay, jitter, rand, lease_ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local token, host_prefix, queue_prefix = ARGV[8], ARGV[9], ARGV[10]
local due = redis.call('ZRANGEBYSCORE', hosts, '-inf', now, 'LIMIT', 0, tonumber(ARGV[11]))
for _, host in ipairs(due) do
  local q = queue_prefix .. host
  local top = redis.call('ZRANGE', q, 0, 0, 'WITHSCORES')
  if #top == 0 then
    redis.call('ZREM', hosts, host)
  else
    local leases = host_prefix .. host .. ':leases'
    redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
    local held = redis.call('ZCARD', leases)
    local nxt = tonumber(redis.call('GET', host_prefix .. host .. ':next') or '0')
    if held >= capacity then
      -- due again when a lease is released (RELEASE rescores it), or at the latest when one expires
      local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
      redis.call('ZADD', hosts, math.min(tonumber(first[2]), now + 1000), host)
    elseif nxt > now then
      redis.call('ZADD', hosts, nxt, host)
    else
      redis.call('ZREMRANGEBYRANK', q, 0, 0)
      redis.call('DECR', pending)
      local crawl_delay = tonumber(redis.call('GET', host_prefix .. host .. ':delay') or '0')
      local interval = 0
      if crawl_delay > base_delay then
        interval = math.floor(crawl_delay * (1 + jitter * rand))  -- robots.txt Crawl-delay: never below it
      elseif base_delay > 0 then
        interval = math.floor(base_delay * (1 - jitter + 2 * jitter * rand))
      end
      if interval > 0 then
        redis.call('SET', host_prefix .. host .. ':next', now + interval, 'PX', interval + 600000)
      end
      local lease = worker .. '|' .. token
      redis.call('ZADD', leases, now + lease_ttl, lease)
      redis.call('PEXPIRE', leases, lease_ttl * 2)
      local field = lease .. '|' .. host .. '|' .. top[2]
      redis.call('HSET', inflight, field, top[1])
      redis.call('HSET', busy, worker, now + busy_ttl)
      if redis.call('ZCARD', q) == 0 then
        redis.call('ZREM', hosts, host)
      elseif held + 1 >= capacity then
        redis.call('ZADD', hosts, now + 1000, host)
      else
        redis.call('ZADD', hosts, now + interval, host)
      end
      return {top[1], host, interval, field}
    end
  end
end
local first = redis.call('ZRANGE', hosts, 0, 0, 'WITHSCORES')
if #first == 0 then return {false, -1} end
return {false, math.max(0, tonumber(first[2]) - now)}
"""

# A request's download ended: its lease is free, and its host is due again in this job as soon as its next
# start is (other jobs on the host notice within a second, or when their own request ends).
RELEASE = _NOW + """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local score = redis.call('ZSCORE', KEYS[3], ARGV[2])
if score then
  local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
  local due = math.max(now, nxt)
  if tonumber(score) > due then redis.call('ZADD', KEYS[3], due, ARGV[2]) end
end
return 1
"""

# Give requests recorded in flight back to their hosts' queues: those of the workers named in ARGV (a worker
# that stops with requests unhandled), or with no ARGV, those of every worker whose alive mark has expired
# (it died). Returns how many, per worker: {worker, n, worker, n, ...}.
REQUEUE = _NOW + """
local inflight, alive, hosts, pending, queue_prefix = KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1]
local named = {}
for i = 2, #ARGV do named[ARGV[i]] = true end
local entries = redis.call('HGETALL', inflight)
local counts = {}
for i = 1, #entries, 2 do
  local field = entries[i]
  local worker, token, host, score = string.match(field, '^(.*)|([^|]*)|([^|]*)|([^|]*)$')
  local take = false
  if #ARGV > 1 then
    take = named[worker] == true
  else
    local mark = redis.call('HGET', alive, worker)
    take = (not mark) or tonumber(mark) <= now
  end
  if take then
    redis.call('ZADD', queue_prefix .. host, tonumber(score), entries[i + 1])
    redis.call('ZADD', hosts, 'NX', 0, host)
    redis.call('INCR', pending)
    redis.call('HDEL', inflight, field)
    counts[worker] = (counts[worker] or 0) + 1
  end
end
local out = {}
for worker, n in pairs(counts) do
  table.insert(out, worker)
  table.insert(out, n)
end
return out
"""

# This worker is idle: clear its busy mark; 1 when the whole job is done (nothing queued, nothing in flight,
# nobody busy).
FINISHED = _NOW + """
redis.call('HDEL', KEYS[2], ARGV[1])
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then return 0 end
if redis.call('HLEN', KEYS[3]) > 0 then return 0 end
local busy = redis.call('HGETALL', KEYS[2])
for i = 1, #busy, 2 do
  if tonumber(busy[i + 1]) > now then return 0 end
end
return 1
"""

# Keep this worker's leases while it lives: each heartbeat pushes their expiry `ARGV[1]` ms ahead. A lease
# whose request ended, or that expired meanwhile (its worker was stalled past the lease TTL and the host may
# be another worker's now), is not brought back: returned, so the worker stops counting it. KEYS: lease
# sets; ARGV[2..]: tokens.
REFRESH = _NOW + """
local gone = {}
for i = 1, #KEYS do
  local score = redis.call('ZSCORE', KEYS[i], ARGV[i + 1])
  if score and tonumber(score) > now then
    redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[1]), ARGV[i + 1])
    redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[1]) * 2)
  else
    if score then redis.call('ZREM', KEYS[i], ARGV[i + 1]) end
    table.insert(gone, ARGV[i + 1])
  end
end
return gone
"""

@dataclass
class Popped:
    """A request a worker popped: its host, the spacing reserved after it (ms) and its in-flight record."""

    data: bytes
    host: str
    interval_ms: int
    inflight: str

    @property
    def lease(self) -> str:
        """The lease token in the host's lease set: `worker|token`."""
        return self.inflight.rsplit("|", 2)[0]


class Job:
    """The Redis keys of one distributed crawl, and the atomic steps on them."""

    def __init__(self, server: redis.Redis, job_id: str, prefix: str | None = None) -> None:
        self.server = server
        self.id = job_id
        self.prefix = prefix or prefix_from_env()
        self.base = f"{self.prefix}:job:{job_id}"
        self.jobs = f"{self.prefix}:jobs"
        self._push = server.register_script(PUSH)
        self._pop = server.register_script(POP)
        self._release = server.register_script(RELEASE)
        self._requeue = server.register_script(REQUEUE)
        self._finished = server.register_script(FINISHED)
        self._refresh = server.register_script(REFRESH)

    def key(self, name: str) -> str:
        return f"{self.base}:{name}"

    def host_key(self, host: str, name: str) -> str:
        """Per-host keys, shared by every job on the host: leases, next (reserved start), started, delay."""
        return f"{self.prefix}:host:{host}:{name}"

    @property
    def queue(self) -> str:
        """The prefix of the per-host queues (scrapy-redis's SCHEDULER_QUEUE_KEY)."""
        return self.key("q")

    def describe(self) -> dict[str, Any]:
        raw = self.server.get(self.key("job"))
        if raw is None:
            raise LookupError(f"no distributed crawl job {self.id} in Redis")
        return json.loads(raw)

    # -- the frontier ------------------------------------------------------------------------------------

    def push(self, data: bytes, host: str, priority: int) -> None:
        self._push(keys=[f"{self.queue}:{host}", self.key("hosts"), self.key("seq"), self.key("pending")],
                   args=[data, -priority, host, JOB_TTL * 1000])

    def pop(self, worker: str, *, capacity: int, delay: float, jitter: float, lease_ttl: float,
            scan: int = 64) -> Popped | float:
        """A request from a free host, or the seconds until a host is due (-1.0: nothing queued)."""
        token = uuid.uuid4().hex[:16]
        reply = self._pop(keys=[self.key("hosts"), self.key("pending"), self.key("busy"), self.key("inflight")],
                          args=[worker, int(worker_ttl() * 1000), capacity, int(delay * 1000), jitter,
                                random.random(), int(lease_ttl * 1000), token, f"{self.prefix}:host:",
                                f"{self.queue}:", scan])
        if not reply[0]:
            return -1.0 if int(reply[1]) < 0 else int(reply[1]) / 1000
        return Popped(reply[0], reply[1].decode(), int(reply[2]), reply[3].decode())

    def release(self, host: str, lease: str) -> None:
        """The download of a popped request ended: its lease is free and its host is due again."""
        self._release(keys=[self.host_key(host, "leases"), self.host_key(host, "next"), self.key("hosts")],
                      args=[lease, host])

    def done(self, inflight: str) -> None:
        """A popped request is handled: its callback ran and what it yielded is queued or staged."""
        self.server.hdel(self.key("inflight"), inflight)

    def requeue(self, workers: list[str] | None = None) -> dict[str, int]:
        """Give back the in-flight requests of `workers` (None: of every worker whose alive mark expired)."""
        reply = self._requeue(keys=[self.key("inflight"), self.key("alive"), self.key("hosts"), self.key("pending")],
                              args=[f"{self.queue}:", *(workers or [])])
        return {reply[i].decode(): int(reply[i + 1]) for i in range(0, len(reply), 2)}

    def pending(self) -> int:
        return int(self.server.get(self.key("pending")) or 0)

    def in_flight(self) -> dict[str, int]:
        """worker -> requests it popped and has not finished."""
        counts: dict[str, int] = {}
        for field in self.server.hkeys(self.key("inflight")):
            worker = field.decode().rsplit("|", 3)[0]
            counts[worker] = counts.get(worker, 0) + 1
        return counts

    def finished(self, worker: str) -> bool:
        return bool(self._finished(keys=[self.key("pending"), self.key("busy"), self.key("inflight")], args=[worker]))

    def refresh_leases(self, leases: dict[str, str], ttl: float) -> set[str]:
        """Push the expiry of this worker's leases (token -> host) `ttl` seconds ahead; the tokens of those
        that are gone (released, or expired while the worker was stalled), which it no longer holds."""
        if not leases:
            return set()
        tokens = list(leases)
        gone = self._refresh(keys=[self.host_key(leases[t], "leases") for t in tokens],
                             args=[int(ttl * 1000), *tokens])
        return {t.decode() if isinstance(t, bytes) else t for t in gone}

    # -- workers -----------------------------------------------------------------------------------------

    def heartbeat(self, worker: str, busy: bool, stats: dict[str, Any] | None = None,
                  holding: list[str] | None = None) -> None:
        """Alive (and busy) for another GONGKAI_WORKER_TTL; its stats and the hosts it holds leases on, published."""
        expiry = self._server_ms() + int(worker_ttl() * 1000)
        pipe = self.server.pipeline()
        pipe.hset(self.key("alive"), worker, expiry)
        if busy:
            pipe.hset(self.key("busy"), worker, expiry)
        if stats is not None:
            pipe.hset(self.key("stats"), worker, json.dumps(stats))
        if holding is not None:
            pipe.hset(self.key("holding"), worker, json.dumps(holding))
        for name in ("alive", "busy", "workers", "listed", "requested", "repeated", "complete", "problems", "stats",
                     "hosts", "pending", "seq", "inflight", "dupefilter", "holding", "given_back"):
            pipe.expire(self.key(name), JOB_TTL)
        pipe.execute()

    def _server_ms(self) -> int:
        seconds, micros = self.server.time()
        return seconds * 1000 + micros // 1000

    def register(self, worker: str, **extra: Any) -> None:
        info = {"host": socket.gethostname(), "pid": os.getpid(), "state": "running", "started": time.time(), **extra}
        self.heartbeat(worker, busy=False)  # alive first: a registered worker that is not alive counts as lost
        self.server.hset(self.key("workers"), worker, json.dumps(info))

    def set_state(self, worker: str, state: str, **extra: Any) -> None:
        raw = self.server.hget(self.key("workers"), worker)
        info = json.loads(raw) if raw else {}
        info.update(state=state, **extra)
        self.server.hset(self.key("workers"), worker, json.dumps(info))

    def forget(self, worker: str, leases: bool = False) -> dict[str, int]:
        """A worker that stopped: neither busy nor alive any more, its unfinished requests back in the queue; if
        it died, its host leases freed too (they would expire within GONGKAI_LEASE_TTL anyway)."""
        self.server.hdel(self.key("busy"), worker)
        self.server.hdel(self.key("alive"), worker)
        given_back = self.requeue([worker])
        if leases:
            mine = f"{worker}|".encode()
            for key in self.server.scan_iter(match=f"{self.prefix}:host:*:leases", count=1000):
                held = [t for t in self.server.zrange(key, 0, -1) if t.startswith(mine)]
                if held:
                    self.server.zrem(key, *held)
        return given_back

    def workers(self) -> dict[str, dict[str, Any]]:
        return {k.decode(): json.loads(v) for k, v in self.server.hgetall(self.key("workers")).items()}

    def alive(self) -> set[str]:
        now = self._server_ms()
        return {k.decode() for k, v in self.server.hgetall(self.key("alive")).items() if float(v) > now}

    def holding(self) -> dict[str, list[str]]:
        """worker -> the hosts it held leases on at its last heartbeat."""
        return {k.decode(): json.loads(v) for k, v in self.server.hgetall(self.key("holding")).items()}

    def stats(self) -> dict[str, dict[str, Any]]:
        """worker -> its Scrapy stats as of its last heartbeat (its final ones once it stopped)."""
        return {k.decode(): json.loads(v) for k, v in self.server.hgetall(self.key("stats")).items()}

    def delete(self) -> None:
        self.server.srem(self.jobs, self.id)
        keys = list(self.server.scan_iter(match=f"{self.base}:*", count=500))
        if keys:
            self.server.delete(*keys)


LEASE_META = "_gongkai_popped"  # request.meta: the Popped it came with, until its download ends
INFLIGHT_META = "_gongkai_inflight"  # request.meta: its in-flight record, until the engine is done with it


class JobQueue(PriorityQueue):
    """The scrapy-redis queue of a job, one queue per host in Redis (see PUSH and POP).

    `pop` hands out only a request whose host is free now, with its lease taken and its start slot reserved,
    so a request never waits for its host inside the downloader, holding one of the worker's download slots
    (that was the cause of one worker crawling at a fifth of one process's pace). When no host is free it
    returns None and wakes the engine when the earliest one is due.
    """

    def __init__(self, server: redis.Redis, spider: Any, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self.job: Job = spider.job
        settings = getattr(getattr(spider, "crawler", None), "settings", None)
        self.capacity = max(1, settings.getint("GONGKAI_SHARED_CONCURRENCY", 2)) if settings else 2
        self.delay = settings.getfloat("GONGKAI_SHARED_DELAY", 0.0) if settings else 0.0
        self.jitter = settings.getfloat("DOWNLOAD_DELAY_JITTER", 0.5) if settings else 0.5
        self.lease_ttl = lease_ttl()

    def __len__(self) -> int:
        return self.job.pending()

    def push(self, request: Request) -> None:
        request.meta.pop(LEASE_META, None)  # a retry or redirect carries a copy of its original's meta
        request.meta.pop(INFLIGHT_META, None)
        self.job.push(self._encode_request(request), host_key(request.url), request.priority)

    def pop(self, timeout: int = 0) -> Request | None:
        spider = self.spider
        got = self.job.pop(spider.worker, capacity=self.capacity, delay=self.delay, jitter=self.jitter,
                           lease_ttl=self.lease_ttl)
        if not isinstance(got, Popped):
            if got >= 0:  # a host is due then: look again (Scrapy's own heartbeat is 5 s)
                crawler = getattr(spider, "crawler", None)
                if crawler is not None and crawler.engine is not None:
                    wake_engine_later(crawler.engine, min(max(got, 0.01), 0.25))
            return None
        request = decode_request(self, got.data)
        request.meta[LEASE_META] = got
        return request

    def clear(self) -> None:
        """Never: the job's queue is shared (SCHEDULER_PERSIST); the coordinator deletes it at the end."""


