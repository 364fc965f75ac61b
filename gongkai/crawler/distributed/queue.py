"""The Redis side of a distributed crawl job: its keys, the Lua scripts that pop and finish atomically,
the Job handle and the scrapy-redis queue that pops through it. (See the package docstring.)"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import redis
from scrapy import Request
from scrapy_redis.queue import PriorityQueue

from gongkai.crawler.scrapy_patches import decode_request
from gongkai.settings import get_settings

DEFAULT_PREFIX = "gongkai"
WORKER_TTL = 15.0  # seconds a worker's busy/alive mark lives without a refresh
JOB_TTL = 7 * 24 * 3600  # safety net: a job's keys expire even if its coordinator vanished


def redis_url_from_env() -> str | None:
    """REDIS_URL set (and not empty): distributed mode."""
    return get_settings().redis_url


def prefix_from_env() -> str:
    return get_settings().redis_prefix or DEFAULT_PREFIX


def worker_ttl() -> float:
    return get_settings().worker_ttl


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



class JobQueue(PriorityQueue):
    """scrapy-redis's priority queue; popping also marks the worker busy (see FINISHED)."""

    def pop(self, timeout: int = 0) -> Request | None:
        spider = self.spider
        data = spider.job.pop(spider.worker)
        return decode_request(self, data) if data else None
