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

Modules: `queue` (Redis keys, the job's Lua scripts, Job, JobQueue), `coordination` (shared spider state,
WorkerCoordination, SharedHostLimiter), `workers` (worker settings, run_worker, join_forever,
spawn_worker, crawl_distributed, the worker's `main`; `python -m gongkai.crawler.distributed` runs it).
"""

from __future__ import annotations

from gongkai.crawler.distributed.coordination import (
    DistributedListingSpider,
    SharedCounter,
    SharedHostLimiter,
    SharedMemory,
    SharedProblems,
    SharedSet,
    WorkerCoordination,
)
from gongkai.crawler.distributed.queue import (
    DEFAULT_PREFIX,
    JOB_TTL,
    WORKER_TTL,
    Job,
    JobQueue,
    Popped,
    check_redis,
    connect,
    prefix_from_env,
    redact_redis,
    redis_url_from_env,
    worker_ttl,
)
from gongkai.crawler.distributed.workers import (
    DistributedOutcome,
    crawl_distributed,
    crawl_workers_option,
    join_forever,
    live_roles,
    main,
    run_worker,
    spawn_worker,
    worker_settings,
)

__all__ = [
    "DEFAULT_PREFIX", "JOB_TTL", "WORKER_TTL", "DistributedListingSpider", "DistributedOutcome", "Job", "JobQueue", "Popped",
    "SharedCounter", "SharedHostLimiter", "SharedMemory", "SharedProblems", "SharedSet", "WorkerCoordination",
    "check_redis", "connect", "crawl_distributed", "crawl_workers_option", "join_forever", "live_roles", "main", "prefix_from_env",
    "redact_redis", "redis_url_from_env", "run_worker", "spawn_worker", "worker_settings", "worker_ttl",
]
