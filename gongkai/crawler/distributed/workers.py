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
import threading
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
    worker_ttl,
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
        # Hosts take turns in the job's per-host queues; per-page lookahead priorities are per host only there,
        # but a deep column's pages would still wait behind every article of its host.
        "GONGKAI_LISTING_LOOKAHEAD": False,
        "REDIS_URL": redis_url,
        "GONGKAI_REDIS_PREFIX": job.prefix,
        "GONGKAI_DATABASE_URL": database_url,
        "GONGKAI_SHARED_DELAY": base.get("DOWNLOAD_DELAY", 0.0),
        "GONGKAI_SHARED_CONCURRENCY": base.get("CONCURRENT_REQUESTS_PER_DOMAIN", 2),
        "DOWNLOAD_DELAY": 0,  # the shared limiter spaces requests to a host across all workers
        "DOWNLOADER_MIDDLEWARES": {**base.get("DOWNLOADER_MIDDLEWARES", {}),
                                   "gongkai.crawler.distributed.coordination.SharedHostLimiter": 950},
        "EXTENSIONS": {"gongkai.crawler.distributed.coordination.WorkerCoordination": 500},
        # crawl_urls rows written in URL order in every batch: two workers' batches cannot deadlock
        "ITEM_PIPELINES": {"gongkai.crawler.distributed.coordination.LockOrderStagePipeline": 300},
    })
    return settings


# -- worker ---------------------------------------------------------------------------------------------

def run_worker(job_id: str, worker: str, redis_url: str, database_url: str, role: str = "local") -> int:
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
        known = list(frontier.known_entries(conn, sites))
    settings = worker_settings(desc["settings"], redis_url, job, database_url)
    settings["GONGKAI_WORKER_ROLE"] = role
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


def join_forever(redis_url: str, database_url: str, *, once: bool = False, poll: float = 1.0,
                 state: dict[str, Any] | None = None, info: dict[str, Any] | None = None,
                 stopping: list[bool] | None = None) -> int:
    """`gongkai crawl --join` / `serve --role crawler`: work on every announced job, one worker subprocess per
    job, until SIGTERM (then the workers stop, handing back to the queue what they had not finished).

    With `once`, return when no job is announced (after working on those that were). `state` (if given) is
    kept up to date for /healthz and /metrics: jobs -> worker id, jobs_taken, jobs_done. The process is listed
    in Redis (`<prefix>:roles`, refreshed every poll) for `gongkai status`, with `info` (its /metrics URL).
    `stopping`: the caller's SIGTERM flag, when it installed its handler already (serve's role does, first).
    """
    server = connect(redis_url)
    prefix = prefix_from_env()
    jobs_key = f"{prefix}:jobs"
    me = f"{socket.gethostname()}:{os.getpid()}"
    if stopping is None:
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    done: set[str] = set()
    children: dict[str, tuple[str, subprocess.Popen]] = {}
    state = state if state is not None else {}
    state.update(jobs={}, jobs_taken=0, jobs_done=0, started=time.time())
    try:
        while not stopping:
            active = {j.decode() for j in server.smembers(jobs_key)}
            for job_id in sorted(active - done - set(children)):
                worker = f"{me}:{job_id[:8]}"
                children[job_id] = (worker, spawn_worker(job_id, worker, redis_url, database_url, role="joiner"))
                state["jobs_taken"] += 1
            for job_id, (worker, child) in list(children.items()):
                if child.poll() is not None:
                    if child.returncode != 0:
                        logger.warning("crawl worker %s for job %s exited with %s", worker, job_id, child.returncode)
                    done.add(job_id)
                    del children[job_id]
                    state["jobs_done"] += 1
            done &= active  # a finished job's id is never announced again: forget it
            state["jobs"] = {job_id: worker for job_id, (worker, _) in children.items()}
            for job_id, (worker, _) in children.items():  # for /metrics: the workers' stats as they go
                raw = server.hget(f"{prefix}:job:{job_id}:stats", worker)
                if raw:
                    state.setdefault("stats", {})[job_id] = json.loads(raw)
            _announce(server, prefix, me, {"role": "crawler", "host": socket.gethostname(), "pid": os.getpid(),
                                           "started": state["started"], "jobs": state["jobs"], **(info or {})},
                      ttl=max(10.0, poll * 5))
            if once and not children and not (active - done):
                return 0
            time.sleep(poll)
        for _, child in children.values():
            child.send_signal(signal.SIGTERM)
        for _, child in children.values():
            child.wait()
        return 0
    finally:
        server.hdel(f"{prefix}:roles", me)


def _announce(server: Any, prefix: str, me: str, info: dict[str, Any], ttl: float) -> None:
    """This crawler-role process, in `<prefix>:roles` until `expires` (server clock, seconds)."""
    seconds, _ = server.time()
    info["expires"] = seconds + ttl
    server.hset(f"{prefix}:roles", me, json.dumps(info))


def live_roles(server: Any, prefix: str | None = None) -> dict[str, dict[str, Any]]:
    """The crawler-role processes whose announcement has not expired."""
    prefix = prefix or prefix_from_env()
    seconds, _ = server.time()
    roles = {k.decode(): json.loads(v) for k, v in server.hgetall(f"{prefix}:roles").items()}
    return {k: v for k, v in roles.items() if v.get("expires", 0) > seconds}


def spawn_worker(job_id: str, worker: str, redis_url: str, database_url: str,
                 role: str = "local") -> subprocess.Popen:
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url,
           "GONGKAI_REDIS_PREFIX": prefix_from_env()}
    return subprocess.Popen([sys.executable, "-m", "gongkai.crawler.distributed", job_id, worker, role], env=env,
                            stdin=subprocess.DEVNULL)


# -- coordinator ----------------------------------------------------------------------------------------

@dataclass
class DistributedOutcome:
    stats: dict[str, Any]
    problems: list[str]
    complete_columns: list[str]
    lost_workers: list[str] = field(default_factory=list)


class _Watch:
    """The coordinator's view of the workers while it waits: who died, who left, who is alive.

    A worker silent past GONGKAI_WORKER_TTL is declared lost (its requests are given back), but it may only
    have been starved of CPU: one that heartbeats again, or ends its crawl normally (state 'done'), answered
    again and is not lost any more. What it held was fetched twice at most (staging and ingest deduplicate),
    and it stages what it fetched itself."""

    def __init__(self, job: Job, children: dict[str, subprocess.Popen]) -> None:
        self.job = job
        self.children = children
        self.lost: list[str] = []
        self.lost_at: dict[str, float] = {}
        self.given_back: dict[str, int] = {}
        self.last_alive = time.monotonic()
        self.ever_alive = False

    def check(self) -> None:
        job = self.job
        infos = job.workers()
        for w, child in self.children.items():
            code = child.poll()
            if code not in (None, 0) and w not in self.lost and infos.get(w, {}).get("state") != "done":
                # its busy mark, leases and unfinished requests must not hold the others back
                n = job.forget(w, leases=True).get(w, 0)
                self._lost(w, f"(pid {child.pid}) died (exit {code})", n)
        alive = job.alive()
        self._answered_again(alive, infos)
        for w, n in job.requeue().items():  # joiners (and local workers) gone silent
            self._lost(w, f"stopped answering (no heartbeat for {worker_ttl():.0f}s)", n)
        for w, info in infos.items():  # gone silent (another worker may have given its requests back)
            if info.get("state") in ("running", "crashed") and w not in alive and w not in self.lost:
                # read and cleared at once: counted once, not again if it comes back and is lost a second time
                back, _ = job.server.pipeline().hget(job.key("given_back"), w).hdel(job.key("given_back"), w).execute()
                n = int(back or 0) + job.forget(w, leases=True).get(w, 0)
                self._lost(w, f"stopped answering (no heartbeat for {worker_ttl():.0f}s)", n)
        if alive or any(child.poll() is None for child in self.children.values()):
            self.last_alive = time.monotonic()
            self.ever_alive = self.ever_alive or bool(alive)

    def _answered_again(self, alive: set[str], infos: dict[str, dict[str, Any]]) -> None:
        """Lost workers that heartbeat again, or ended normally (their last beat may have come after our last
        look): back in the crawl, not lost. One that died (its process gone, not 'done') stays lost."""
        for w in list(self.lost):
            child = self.children.get(w)
            died = child is not None and child.poll() not in (None, 0)
            state = infos.get(w, {}).get("state")
            if died or not (w in alive and state == "running" or state == "done"):
                continue
            self.lost.remove(w)
            silent = time.monotonic() - self.lost_at.pop(w) + worker_ttl()
            logger.warning("crawl worker %s answered again after %.0f s without a heartbeat (it was stalled, not "
                           "dead): it is back in the crawl; the requests given back meanwhile are fetched twice at "
                           "most", w, silent)

    def _lost(self, worker: str, how: str, given_back: int) -> None:
        if worker not in self.lost:
            self.lost.append(worker)
            self.lost_at[worker] = time.monotonic()
        self.given_back[worker] = self.given_back.get(worker, 0) + given_back
        where = self.job.workers().get(worker, {})
        logger.warning("crawl worker %s%s %s: %d requests it held are back in the queue; the crawl goes on with "
                       "the others", worker, f" on {where['host']}" if where.get("host") else "", how, given_back)


def crawl_distributed(redis_url: str, database_url: str, settings: dict[str, Any], *,
                      listings: list[dict[str, Any]], retry: list[dict[str, Any]],
                      revalidate: list[dict[str, Any]], full: bool, workers: int = 1) -> DistributedOutcome:
    """Seed a job, run `workers` local worker processes (and whoever joins), wait until it is done.

    A worker that dies is noticed (its own child at once, a joiner when its heartbeat stops): its requests go
    back to the queue and the others finish the crawl; the run is then 'failed' all the same, since up to one
    staging batch of the dead worker's may be missing, so the next crawl walks these listings to the end. One
    that was only stalled and answers again (see _Watch) is not lost.
    With no worker alive for GONGKAI_JOIN_TIMEOUT seconds the coordinator gives up. SIGTERM/SIGINT: the
    workers stop (each hands back what it had not finished) and the run ends 'interrupted'.
    """
    server = connect(redis_url)
    job = Job(server, uuid.uuid4().hex)
    base = {k: v for k, v in settings.items() if k not in ("EXTENSIONS", "GONGKAI_DATABASE_URL")}
    run_id = settings.get("GONGKAI_RUN_ID")
    server.set(job.key("job"), json.dumps({"settings": base, "listings": listings, "full": full, "run_id": run_id,
                                           "sites": sorted({item["site"] for item in listings})}), ex=JOB_TTL)
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
    server.sadd(job.jobs, job.id)  # announced: joiners start now
    logger.info("distributed crawl job %s: %d seed requests, %d local workers", job.id, seeded, workers)
    local = [f"{socket.gethostname()}:{os.getpid()}:{i}" for i in range(workers)]
    children = {w: spawn_worker(job.id, w, redis_url, database_url) for w in local}
    watch = _Watch(job, children)
    stopped: list[int] = []
    previous = _on_signals(lambda signum: stopped.append(signum))
    unattended: str | None = None
    join_timeout = get_settings().join_timeout
    try:
        while not stopped:
            watch.check()
            if job.finished("coordinator"):
                break
            if time.monotonic() - watch.last_alive > join_timeout:
                if watch.ever_alive or watch.lost:
                    unattended = (f"no crawl worker alive for {join_timeout:.0f}s (lost: {', '.join(watch.lost) or '-'}): "
                                  f"giving up with {job.pending()} requests queued; the next crawl fetches them")
                else:
                    unattended = (f"no crawl worker took the job within {join_timeout:.0f}s: start `gongkai crawl "
                                  "--join` or `gongkai serve --role crawler` with the same REDIS_URL, or crawl with "
                                  "--workers N")
                break
            time.sleep(0.2)
        if stopped:
            logger.warning("crawl stopped by signal %d: the workers stop and the run ends interrupted", stopped[0])
        _stop_children(children, stop=bool(stopped) or unattended is not None)
        watch.check()
        return _outcome(job, database_url, run_id, watch, stopped=bool(stopped), unattended=unattended)
    finally:
        _restore_signals(previous)
        _stop_children(children, stop=True)
        job.delete()


def _on_signals(handler: Any) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, lambda signum, _frame: handler(signum)) for sig in (signal.SIGTERM, signal.SIGINT)}


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def _stop_children(children: dict[str, subprocess.Popen], stop: bool, timeout: float = 30) -> None:
    """Wait for the local workers to end (the job is done: they see it at once); `stop`: SIGTERM them first."""
    if stop:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
    for child in children.values():
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _outcome(job: Job, database_url: str, run_id: int | None, watch: _Watch, *, stopped: bool,
             unattended: str | None) -> DistributedOutcome:
    """The run's stats: the workers' (as of their last heartbeat, for one that died), with the pages staged
    counted from the database, where a dead worker's pages are too."""
    stats: dict[str, Any] = {}
    for worker_stats in job.stats().values():
        worker_stats.pop("finish_reason", None)
        for k, v in worker_stats.items():
            if not k.startswith(("shared_limiter/start_wait_ms/", "shared_limiter/leases_held")):
                stats[k] = stats.get(k, 0) + v
    if run_id is not None:
        stats.update(staged_counts(database_url, run_id))
    problems = SharedProblems(job.server, job.key("problems")).reasons()
    stats["finish_reason"] = "shutdown" if stopped else ("unattended" if unattended else "finished")
    if unattended:
        problems.append(unattended)
    lost = watch.lost
    if lost:
        back = sum(watch.given_back.get(w, 0) for w in lost)
        problems.append(f"{len(lost)} crawl worker(s) stopped before the crawl was done ({', '.join(lost)}): the "
                        f"{back} requests they held went back to the queue"
                        + (" and the others finished the crawl" if not (stopped or unattended) else "")
                        + "; pages they fetched but had not staged yet are fetched by the next crawl, which walks "
                          "these listings to the end")
    complete = sorted(SharedSet(job.server, job.key("complete")).members())
    return DistributedOutcome(stats=stats, problems=problems, complete_columns=complete, lost_workers=lost)


def staged_counts(database_url: str, run_id: int) -> dict[str, int]:
    """stage/fetched and stage/gone of a crawl run, counted in staged_pages (every worker's, a dead one's too)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
        fetched, gone = conn.execute(
            "SELECT count(*) FILTER (WHERE status NOT IN (404, 410)), count(*) FILTER (WHERE status IN (404, 410))"
            " FROM staged_pages WHERE crawl_run_id = %s", (run_id,)).fetchone()
    counts = {"stage/fetched": int(fetched)}
    if gone:
        counts["stage/gone"] = int(gone)
    return counts


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
    if not redis_url or not database_url or len(args) not in (2, 3):
        print("usage: REDIS_URL=… DATABASE_URL=… python -m gongkai.crawler.distributed JOB_ID WORKER_ID [ROLE]",
              file=sys.stderr)
        return 2
    return run_worker(args[0], args[1], redis_url, database_url, *args[2:3])

