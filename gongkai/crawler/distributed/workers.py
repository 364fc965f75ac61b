"""Worker processes and the coordinator: a worker's settings and life (run_worker, started as
`python -m gongkai.crawler.distributed JOB WORKER`), `gongkai crawl --join` (join_forever), and the
coordinator's crawl_distributed, which seeds a job, spawns local workers and waits. (See the package
docstring.)"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from scrapy_redis import picklecompat

from gongkai.crawler import frontier
from gongkai.crawler.distributed.coordination import DistributedListingSpider, SharedProblems, SharedSet
from gongkai.crawler.distributed.queue import (
    JOB_TTL,
    Job,
    JobQueue,
    check_redis,
    connect,
    prefix_from_env,
    redis_url_from_env,
)
from gongkai.settings import get_settings

logger = logging.getLogger(__name__)


# -- settings -------------------------------------------------------------------------------------------

def worker_settings(base: dict[str, Any], redis_url: str, job: Job, database_url: str) -> dict[str, Any]:
    """A worker's Scrapy settings: the coordinator's, plus scrapy-redis and the shared limiter."""
    settings = dict(base)
    settings.update({
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_QUEUE_CLASS": "gongkai.crawler.distributed.queue.JobQueue",
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
                                   "gongkai.crawler.distributed.coordination.SharedHostLimiter": 950},
        "EXTENSIONS": {"gongkai.crawler.distributed.coordination.WorkerCoordination": 500},
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
        known = list(frontier.known_urls(conn, sites))
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
    join_timeout = get_settings().join_timeout
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
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m gongkai.crawler.distributed JOB_ID WORKER_ID`: one worker (started by the coordinator)."""
    args = sys.argv[1:] if argv is None else argv
    from gongkai.logs import configure_logging

    configure_logging(get_settings().verbose)
    import warnings

    from scrapy.exceptions import ScrapyDeprecationWarning

    # scrapy-redis 0.9.1 still passes spider= to the stats collector and calls Spider.log()
    warnings.filterwarnings("ignore", category=ScrapyDeprecationWarning, module="scrapy_redis")
    redis_url = redis_url_from_env()
    database_url = get_settings().database_url
    if not redis_url or not database_url or len(args) != 2:
        print("usage: REDIS_URL=… DATABASE_URL=… python -m gongkai.crawler.distributed JOB_ID WORKER_ID",
              file=sys.stderr)
        return 2
    return run_worker(args[0], args[1], redis_url, database_url)

