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
- **The frontier is one queue per host** (`<job>:q:<host>`) plus `<job>:hosts`, every host with pending
  requests scored by when it may next be asked. A pop (one Lua script, on the Redis server's clock) takes the
  first host that is free now (fewer than `--concurrency` leases held on it by any worker of any job, and
  its next start due), takes a lease for the request, reserves the host's next start `--delay` (±50 %, at
  least robots.txt's Crawl-delay) later, records the request in flight for this worker and marks the worker
  busy. Hosts take turns in the order they became due. So a request never waits for its host inside a
  worker, holding one of its download slots: that was the cause of one worker crawling at half to a fifth of one
  process's pace (measured: its 32 slots held by requests sleeping in the limiter for 6-13 hosts of 30). When
  no host is free the pop returns nothing and the engine looks again when the earliest host is due.
- **Politeness across processes.** `SharedHostLimiter` (a downloader middleware) gives the lease back when
  the download ends (its host is due again at once in the job), checks that the previous request to the host
  *started* long enough ago (a request held up on its way, by robots.txt, waits here), reserves a start for
  the requests that do not come from the queue (robots.txt) and puts a host on hold for every worker on a
  429/5xx (Retry-After honoured). Each process's own Scrapy delay is 0.
- **Leases live with their worker.** A lease expires GONGKAI_WORKER_TTL / 2 seconds (5 s) after it was
  taken unless its worker's heartbeat (every second) pushes it on; a worker that stops releases its leases.
  So a killed worker's hosts are served again within seconds.
- **Termination.** A worker stops when nothing is queued, nothing is in flight and no other worker is busy.
  A request stays "in flight" until the engine is done with it (its callback ran, what it yielded is queued
  or in the staging pipeline). A worker that stops early (SIGTERM) gives its unfinished requests back; one
  whose alive mark expires (GONGKAI_WORKER_TTL, 10 s; at once when the coordinator sees its own child die)
  has them given back by the coordinator or any idle worker, and the others finish the crawl.
- **A killed worker loses little, and says so.** What it had fetched but not yet staged (at most a staging
  batch) is lost for this crawl: those articles stay 'pending' in crawl_urls, the run ends 'failed' with a
  line naming the lost worker, and the next routine crawl walks every page of its listings and fetches them.
- **A stalled worker is not a dead one.** One declared lost that heartbeats again (starved of CPU, not
  killed) rejoins: its heartbeat marks it alive again, the leases that expired meanwhile stay expired (the
  heartbeat refreshes only live ones), and when it ends normally the coordinator logs that it answered again
  and does not count it lost; what was given back meanwhile is fetched twice at most (staging and ingest
  deduplicate).
- **The coordinator** watches: a lost worker is one warning line and the crawl goes on; with no worker alive
  for GONGKAI_JOIN_TIMEOUT seconds it gives up with a line; SIGTERM/SIGINT stop the workers and the run ends
  'interrupted'. The run's staged-page counts come from the database, so a dead worker's pages count.
- **Writes in one lock order.** Worker batches write their crawl_urls rows in URL order
  (LockOrderStagePipeline, frontier.in_lock_order), so two workers' batches never deadlock.

Keys: `<prefix>:job:<id>:*` per job (deleted by the coordinator at the end), `<prefix>:jobs` (the
announced jobs), `<prefix>:host:<host>:*` per host (leases, next, started, delay: shared by all jobs,
expire by themselves), `<prefix>:roles` (the `serve --role crawler` processes, for `gongkai status`).
`GONGKAI_REDIS_PREFIX` (default "gongkai") separates deployments sharing one Redis.

Modules: `queue` (Redis keys, the job's Lua scripts, Job, JobQueue), `coordination` (shared spider state,
WorkerCoordination, SharedHostLimiter, LockOrderStagePipeline), `workers` (worker settings, run_worker,
join_forever, spawn_worker, crawl_distributed, the worker's `main`; `python -m gongkai.crawler.distributed`
runs it).
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
