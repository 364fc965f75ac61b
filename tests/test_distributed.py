"""Distributed mode against the real Redis (127.0.0.1:6379) and PostgreSQL: several crawl workers sharing
one scrapy-redis frontier, several ingest workers, a worker killed mid-run, politeness across processes.

The replica serves 12 portals: the five demo sites (faults included: 503s, a 429 with Retry-After, a
withdrawn page, a robots-disallowed path) and seven cloned ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict

import psycopg
import pytest
import redis

from bench.scale import scaled_sites
from gongkai_replica.demo import build_demo_sites
from gongkai_replica.server import ReplicaServer
from tests.faults.helpers import SlowReplica

REDIS_URL = os.environ.get("GONGKAI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


pytestmark = pytest.mark.skipif(not _redis_up(), reason=f"no Redis at {REDIS_URL}")

# What must be equal between runs: every field a consumer sees, except ids, seqs, timestamps and the
# canonical `url` (the first URL ingested: an article listed under two columns has two, equally first).
COMPARED = ["site", "title", "index_no", "publisher", "doc_no", "written_date", "published_date", "category", "body",
            "attachments", "metadata", "version"]


def run(*args: str, database_url: str, env: dict[str, str] | None = None, timeout: float = 120,
        wait: bool = True):
    full_env = {**os.environ, "GONGKAI_BACKOFF_BASE": "0.05", "RETRY_TIMES": "2", "DATABASE_URL": database_url,
                **(env or {})}
    if not (env or {}).get("REDIS_URL"):
        full_env.pop("REDIS_URL", None)
    command = [sys.executable, "-m", "gongkai", *args]
    if not wait:
        return subprocess.Popen(command, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)
    return subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def reports(database_url: str) -> dict[tuple[str, ...], dict]:
    result = run("export", database_url=database_url)
    assert result.returncode == 0, result.stderr
    out = {}
    for line in result.stdout.splitlines():
        row = json.loads(line)
        key = tuple(sorted(row["urls"]))
        assert key not in out
        out[key] = {name: row[name] for name in COMPARED} | {"withdrawn": row["withdrawn_at"] is not None}
    return out


@pytest.fixture
def redis_env():
    """A key prefix of its own; every key under it is deleted afterwards."""
    prefix = f"gongkai_test_{uuid.uuid4().hex[:10]}"
    yield {"REDIS_URL": REDIS_URL, "GONGKAI_REDIS_PREFIX": prefix}
    drop_redis_prefix(prefix)


def drop_redis_prefix(prefix: str) -> None:
    server = redis.Redis.from_url(REDIS_URL)
    keys = list(server.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        server.delete(*keys)


def test_shared_memory_claims_like_the_local_one(redis_env) -> None:
    """Two workers' SharedMemory on one job: each url is new to exactly one claim per set, the same answers
    a local CrawlMemory gives, a url twice in one page included (one pipelined SADD each); listing an
    article does not request it, requesting one (a retry seed) does not list it."""
    from gongkai.crawler.distributed import SharedMemory
    from gongkai.crawler.spiders.listing import CrawlMemory

    server = redis.Redis.from_url(REDIS_URL)
    keys = [f"{redis_env['GONGKAI_REDIS_PREFIX']}:job:test:{name}" for name in ("listed", "requested")]
    first, second, local = SharedMemory(server, *keys), SharedMemory(server, *keys), CrawlMemory()
    art = [f"http://127.0.0.10/art/{n}.html" for n in range(6)]
    assert first.claim([], [art[5]]) == local.claim([], [art[5]]) == ([], [True])  # a retry seed
    page1 = ([art[1], art[2], art[2], art[3]], [art[2], art[2], art[3]])  # 1 is stored: listed, not requested
    assert first.claim(*page1) == local.claim(*page1) == ([True, True, False, True], [True, False, True])
    page2 = ([art[3], art[4], art[5]], [art[3], art[4], art[5]])
    assert second.claim(*page2) == local.claim(*page2) == ([False, True, True], [False, True, False])
    assert first.claim(*page2) == ([False, False, False], [False, False, False])
    assert first.claim([], []) == ([], [])


def _job(redis_env, job_id: str = "t"):
    from gongkai.crawler.distributed import Job

    return Job(redis.Redis.from_url(REDIS_URL), job_id, redis_env["GONGKAI_REDIS_PREFIX"])


def _pop(job, worker: str = "w1", **kw):
    from gongkai.crawler.distributed.queue import Popped

    got = job.pop(worker, **{"capacity": 2, "delay": 0.0, "jitter": 0.0, "lease_ttl": 5.0, **kw})
    return got if isinstance(got, Popped) else None


def test_the_queue_hands_out_free_hosts_only_and_in_turn(redis_env) -> None:
    """Nine requests queued host by host (as one listing page yields its articles): the pops take the hosts
    in turn, each pop takes one of the host's two leases, and a host with both leases taken is not handed
    out again (nothing waits for it in a worker) until one is released."""
    job = _job(redis_env)
    for host in ("a:1", "b:1", "c:1"):
        for n in range(3):
            job.push(f"{host}/{n}".encode(), host, 0)
    assert job.pending() == 9
    popped = [_pop(job) for _ in range(6)]
    assert [p.host for p in popped] == ["a:1", "b:1", "c:1", "a:1", "b:1", "c:1"]
    assert [p.data for p in popped[:3]] == [b"a:1/0", b"b:1/0", b"c:1/0"]  # first in, first out per host
    assert _pop(job) is None and job.pending() == 3
    job.release("b:1", popped[1].lease)
    again = _pop(job)
    assert again is not None and again.host == "b:1" and again.data == b"b:1/2"
    assert job.in_flight() == {"w1": 7}
    for p in popped + [again]:
        job.done(p.inflight)
    assert not job.finished("w1")  # two requests still queued
    assert job.pending() == 2


def test_the_queue_spaces_a_hosts_starts_by_the_delay(redis_env) -> None:
    job = _job(redis_env)
    for host in ("a:1", "b:1"):
        for n in range(2):
            job.push(f"{host}/{n}".encode(), host, 0)
    first, second = _pop(job, delay=0.4), _pop(job, delay=0.4)
    assert (first.host, second.host) == ("a:1", "b:1") and first.interval_ms == 400
    wait = job.pop("w1", capacity=2, delay=0.4, jitter=0.0, lease_ttl=5.0)
    assert isinstance(wait, float) and 0.2 < wait <= 0.4  # a host is due then; nothing waits meanwhile
    time.sleep(wait + 0.02)
    assert _pop(job, delay=0.4).host == "a:1"


def test_a_dead_workers_requests_go_back_and_its_leases_expire(redis_env, monkeypatch) -> None:
    """A worker that stops answering: its in-flight requests go back to the queue (any worker or the
    coordinator gives them back once its alive mark expires) and its leases free themselves within the
    lease TTL, so its hosts are served again within seconds."""
    monkeypatch.setenv("GONGKAI_WORKER_TTL", "2")
    job = _job(redis_env)
    job.push(b"a/0", "a:1", 0)
    job.push(b"a/1", "a:1", 0)
    job.register("dead")
    taken = [_pop(job, "dead", capacity=2, lease_ttl=1.0), _pop(job, "dead", capacity=2, lease_ttl=1.0)]
    assert all(taken) and _pop(job, "other") is None  # both leases held
    assert job.requeue() == {}  # still alive
    time.sleep(2.1)
    assert job.requeue() == {"dead": 2} and job.pending() == 2 and job.in_flight() == {}
    assert {_pop(job, "other").data, _pop(job, "other").data} == {b"a/0", b"a/1"}  # the leases expired


def test_a_worker_back_from_a_stall_holds_no_stale_lease_and_is_alive_again(redis_env, monkeypatch) -> None:
    """A worker starved of CPU past its TTL: its requests were given back and its leases expired. When it
    beats again its heartbeat must not bring the expired leases back to life (they would block the host for
    the others for another lease TTL), and its alive mark is there again."""
    monkeypatch.setenv("GONGKAI_WORKER_TTL", "2")
    job = _job(redis_env)
    job.push(b"a/0", "a:1", 0)
    job.push(b"a/1", "a:1", 0)
    job.register("stalled")
    taken = _pop(job, "stalled", capacity=1, lease_ttl=1.0)
    assert taken and _pop(job, "other", capacity=1) is None  # the one lease is held
    time.sleep(2.1)  # no beat: the alive mark and the lease expired
    assert job.requeue() == {"stalled": 1} and "stalled" not in job.alive()
    job.forget("stalled", leases=False)  # what the coordinator does with a silent worker (leases left to expire)
    gone = job.refresh_leases({taken.lease: "a:1"}, 1.0)  # its first beat back
    job.heartbeat("stalled", busy=True)
    assert gone == {taken.lease}
    assert "stalled" in job.alive()
    assert _pop(job, "other", capacity=1) is not None  # the host is free for the others


def _write_batches(database_url: str, batches: list[list], order) -> list[str]:
    """Two crawl workers' staging transactions at once, each pausing after its first row (the second worker's
    batch has the rows the other way round): what each ended with."""
    import threading

    from gongkai.crawler import frontier
    from gongkai.crawler.items import ListedArticles

    outcome: list[str] = []

    def write(items) -> None:
        with psycopg.connect(database_url) as conn:
            try:
                with conn.transaction(), conn.cursor() as cur:
                    for n, item in enumerate(order(items)):
                        if isinstance(item, ListedArticles):
                            for article in item.articles:
                                frontier.record_listed(cur, article)
                        else:
                            frontier.record_failed(cur, item)
                        if n == 0:
                            time.sleep(0.5)  # the other worker writes its first row meanwhile
                outcome.append("ok")
            except psycopg.errors.DeadlockDetected:
                outcome.append("deadlock")

    threads = [threading.Thread(target=write, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcome


def test_two_workers_staging_batches_cannot_deadlock_on_crawl_urls(database_url) -> None:
    """One worker records a listing's rows (1, 2) while another stages a fetch of 2 and then of 1: in item
    order they lock the two rows the opposite ways round and PostgreSQL aborts one; in URL order
    (frontier.in_lock_order, what LockOrderStagePipeline writes) both commit."""
    from gongkai.crawler.frontier import in_lock_order
    from gongkai.crawler.items import FetchFailed, ListedArticle, ListedArticles

    urls = ["http://127.0.0.9/art/1.html", "http://127.0.0.9/art/2.html"]
    with psycopg.connect(database_url, autocommit=True) as conn:
        for url in urls:
            conn.execute("INSERT INTO crawl_urls (url, site) VALUES (%s, 's')", (url,))
    listing = [ListedArticles([ListedArticle(url=u, site="s", column_url="c", title="t", date=None) for u in urls])]
    fetches = [FetchFailed(url=u, site="s", status=503, reason="HTTP 503", blocked=False) for u in reversed(urls)]
    split = [ListedArticles([a]) for a in listing[0].articles]  # one statement per row, as the pipeline writes
    assert sorted(_write_batches(database_url, [split, fetches], lambda items: items)) == ["deadlock", "ok"]
    assert _write_batches(database_url, [listing, fetches], in_lock_order) == ["ok", "ok"]


def cloned_portals(n_sites: int, per_site: int) -> list:
    """Demo portals cloned, each article given a paragraph of its own: distinct reports, not reposts (the
    dedup of equally-dated reposts depends on which copy is ingested first, in any mode)."""
    rng = random.Random(6)
    sites = scaled_sites(n_sites, per_site)
    for site in sites:
        for article in site.articles():
            # as long as the article itself: far below the near-duplicate threshold (Jaccard 0.95)
            size = max(300, sum(len(p) for p in article.paragraphs))
            own = "".join(chr(0x4E00 + rng.randrange(0x4000)) for _ in range(size))
            article.paragraphs = [own, *article.paragraphs]
    return sites


@pytest.fixture(scope="module")
def replica():
    sites = build_demo_sites() + cloned_portals(7, 10)
    with ReplicaServer(sites) as server:
        yield server


def listing_urls(server: ReplicaServer) -> list[str]:
    return [u for site in server.sites.values() for u in server.listing_urls(site.name)]


@pytest.fixture(scope="module")
def single_process(replica, admin_url):
    """The reference: the same replica crawled and ingested by one process, no Redis."""
    from tests.conftest import _with_dbname

    name = f"gongkai_test_single_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_dbname(admin_url, name)
    replica.reset_faults()
    result = run("crawl", *listing_urls(replica), "--delay", "0", database_url=url, timeout=300)
    assert result.returncode == 0, result.stderr
    yield reports(url)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ingest_alongside(crawl: subprocess.Popen, database_url: str, workers: int = 2) -> list[str]:
    """`workers` concurrent `gongkai ingest` processes, started over and over while the crawl stages pages,
    then once more after it. Returns their stderr."""
    outputs = []
    while True:
        crawling = crawl.poll() is None
        batch = [run("ingest", database_url=database_url, wait=False) for _ in range(workers)]
        for proc in batch:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            outputs.append(err)
        if not crawling:
            return outputs
        time.sleep(0.3)


def same(got: dict, expected: dict) -> None:
    only_got = sorted(set(got) - set(expected))
    only_expected = sorted(set(expected) - set(got))
    assert not only_got and not only_expected, (only_got, only_expected)
    diff = [(k, n, got[k][n], expected[k][n]) for k in got for n in got[k] if got[k][n] != expected[k][n]]
    assert not diff, [str(d)[:300] for d in diff[:6]]


def test_three_crawl_workers_two_ingest_workers_equal_one_process(replica, single_process, database_url,
                                                                 redis_env):
    replica.reset_faults()
    crawl = run("crawl", *listing_urls(replica), "--delay", "0", "--workers", "3", "--no-ingest",
                database_url=database_url, env=redis_env, wait=False)
    outputs = ingest_alongside(crawl, database_url)
    _, err = crawl.communicate(timeout=10)
    assert crawl.returncode == 0, err
    assert "Traceback" not in err, err
    assert sum("new" in out for out in outputs) >= 1
    got = reports(database_url)
    same(got, single_process)
    assert len(got) >= 180
    with psycopg.connect(database_url) as conn:
        staged = conn.execute("SELECT count(*), count(DISTINCT url) FROM staged_pages").fetchone()
        states = dict(conn.execute("SELECT ingest_state, count(*) FROM staged_pages GROUP BY 1").fetchall())
        status = conn.execute("SELECT status FROM crawl_runs").fetchall()
    assert staged[0] == staged[1], "an article was fetched twice: the shared seen-set failed"
    assert states == {"done": staged[0]}, states
    assert status == [("ok",)]
    server = redis.Redis.from_url(REDIS_URL)
    assert not list(server.scan_iter(match=f"{redis_env['GONGKAI_REDIS_PREFIX']}:job:*")), "job keys left behind"


def test_killed_worker_loses_nothing(replica, single_process, database_url, redis_env):
    server = redis.Redis.from_url(REDIS_URL)
    prefix = redis_env["GONGKAI_REDIS_PREFIX"]
    replica.reset_faults()
    # A small delay keeps the crawl going long enough to kill a worker in the middle of it.
    crawl = run("crawl", *listing_urls(replica), "--delay", "0.1", "--workers", "3", "--no-ingest",
                database_url=database_url, env={**redis_env, "DOWNLOAD_TIMEOUT": "5"}, wait=False)
    victim = None
    deadline = time.monotonic() + 60
    with psycopg.connect(database_url, autocommit=True) as conn:
        while victim is None and time.monotonic() < deadline and crawl.poll() is None:
            staged = conn.execute("SELECT count(*) FROM staged_pages").fetchone()[0]
            jobs = [j.decode() for j in server.smembers(f"{prefix}:jobs")]
            if jobs and staged >= 30:
                workers = {k.decode(): json.loads(v) for k, v in server.hgetall(f"{prefix}:job:{jobs[0]}:workers").items()}
                busy = server.hkeys(f"{prefix}:job:{jobs[0]}:busy")
                running = [w for w, info in workers.items() if info["state"] == "running" and w.encode() in busy]
                if running:
                    victim = workers[running[0]]["pid"]
                    os.kill(victim, signal.SIGKILL)
                    break
            time.sleep(0.05)
        assert victim, "no worker to kill: the crawl ended too soon"
        at_kill = conn.execute("SELECT count(*) FROM staged_pages").fetchone()[0]
    _, err = crawl.communicate(timeout=120)
    assert crawl.returncode == 1, err
    assert "stopped before the crawl was done" in err, err
    with psycopg.connect(database_url) as conn:
        first_run = conn.execute("SELECT status FROM crawl_runs").fetchone()[0]
        staged_first = conn.execute("SELECT count(DISTINCT url) FROM staged_pages").fetchone()[0]
        fetched = conn.execute("SELECT count(*) FROM staged_pages WHERE status NOT IN (404, 410)").fetchone()[0]
    assert first_run != "ok"  # so the next routine crawl walks every page of these listings again
    # the summary counts the dead worker's pages too (they are in the database, not in its final stats)
    assert re.search(r"crawl run \d+: (\d+) pages staged", err).group(1) == str(fetched), err
    assert at_kill < staged_first

    # The next (routine) crawl walks the interrupted listings again and fetches what was lost.
    again = run("crawl", *listing_urls(replica), "--delay", "0", "--workers", "3", database_url=database_url,
                env=redis_env, timeout=120)
    assert again.returncode == 0, again.stderr
    same(reports(database_url), single_process)
    with psycopg.connect(database_url) as conn:
        staged_after = conn.execute("SELECT count(DISTINCT url) FROM staged_pages").fetchone()[0]
    assert staged_after >= staged_first


def test_a_stalled_worker_that_answers_again_is_not_lost(replica, single_process, database_url, redis_env):
    """A local worker starved of CPU (SIGSTOP) past GONGKAI_WORKER_TTL is declared lost and its requests go
    back to the queue; it then resumes (SIGCONT), heartbeats again and finishes: the run is complete, so the
    crawl exits 0 with the run 'ok', every article ingested once, the same reports as one process."""
    server = redis.Redis.from_url(REDIS_URL)
    prefix = redis_env["GONGKAI_REDIS_PREFIX"]
    replica.reset_faults()
    crawl = run("crawl", *listing_urls(replica), "--delay", "0.1", "--workers", "2", database_url=database_url,
                env={**redis_env, "GONGKAI_WORKER_TTL": "2"}, wait=False)
    victim = None
    deadline = time.monotonic() + 90
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            while victim is None and time.monotonic() < deadline and crawl.poll() is None:
                staged = conn.execute("SELECT count(*) FROM staged_pages").fetchone()[0]
                jobs = [j.decode() for j in server.smembers(f"{prefix}:jobs")]
                if jobs and staged >= 20:
                    key = f"{prefix}:job:{jobs[0]}"
                    workers = {k.decode(): json.loads(v) for k, v in server.hgetall(f"{key}:workers").items()}
                    busy = server.hkeys(f"{key}:busy")
                    running = [w for w, info in workers.items() if info["state"] == "running" and w.encode() in busy]
                    if running:
                        victim = running[0]
                        os.kill(workers[victim]["pid"], signal.SIGSTOP)
                        stopped_at = time.monotonic()
                        break
                time.sleep(0.05)
            assert victim, "no busy worker to stop: the crawl ended too soon"
            # Stopped until its alive mark has expired and what it held is given back (and 4 s at least).
            while time.monotonic() < deadline:
                seconds, micros = server.time()
                mark = server.hget(f"{key}:alive", victim)
                held = [f for f in server.hkeys(f"{key}:inflight") if f.decode().startswith(f"{victim}|")]
                if (mark is None or float(mark) <= seconds * 1000 + micros // 1000) and not held \
                        and time.monotonic() - stopped_at > 4:
                    break
                time.sleep(0.1)
            time.sleep(0.5)  # the coordinator looks every 0.2 s
        os.kill(workers[victim]["pid"], signal.SIGCONT)
        _, err = crawl.communicate(timeout=180)
    finally:
        if victim:  # never left stopped
            with contextlib.suppress(ProcessLookupError):
                os.kill(workers[victim]["pid"], signal.SIGCONT)
        if crawl.poll() is None:
            crawl.kill()
            crawl.communicate()
    assert f"crawl worker {victim}" in err and "stopped answering" in err, err
    assert f"crawl worker {victim} answered again after" in err, err
    assert "stopped before the crawl was done" not in err, err
    assert crawl.returncode == 0, err
    assert "Traceback" not in err, err
    same(reports(database_url), single_process)  # each report once (reports() asserts it), none missing
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT status, error FROM crawl_runs").fetchall() == [("ok", None)]
        states = dict(conn.execute("SELECT state, count(*) FROM crawl_urls GROUP BY 1").fetchall())
    assert "pending" not in states, states


def test_per_host_politeness_holds_across_workers(database_url, redis_env):
    """3 workers, --concurrency 2 --delay 0.2: at most 2 requests in flight per host and starts at least
    0.1 s apart (delay ±50 % jitter) across all workers together, as the server's own log sees them: the
    log's timestamps carry this busy machine's scheduling noise, so a gap may look up to 40 ms shorter,
    but on average requests to a host must come no faster than one per `delay`."""
    delay = 0.2
    with SlowReplica(scaled_sites(3, 14)) as server:
        result = run("crawl", *listing_urls(server), "--delay", str(delay), "--concurrency", "2", "--workers", "3",
                     "--no-ingest", database_url=database_url, env=redis_env, timeout=120)
        assert result.returncode == 0, result.stderr
        log = server.requests
        peaks = dict(server.max_in_flight)
    by_site = defaultdict(list)
    for entry in log:
        by_site[entry.site].append(entry.time)
    assert len(log) >= 3 * 15
    for site, times in by_site.items():
        times.sort()
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert min(gaps) >= delay * 0.5 - 0.04, f"{site}: two requests {min(gaps):.3f}s apart"
        assert sum(gaps) / len(gaps) >= delay * 0.9, f"{site}: {len(times)} requests in {times[-1] - times[0]:.2f}s"
    assert max(peaks.values()) <= 2, peaks
    assert max(peaks.values()) == 2, "concurrency 2 was never used"


def test_a_host_asking_for_hours_of_rest_does_not_stall_the_job_nor_the_next(database_url, redis_env):
    """Retry-After: 3600 from every article: the workers give the host up for this crawl (the pages stay
    'failed' for the next one) instead of holding it in Redis for an hour, or, for a huge value, for
    decades, which stalled this job and every later job on the host."""
    from gongkai_replica import faults as F

    site = F.fault_site("distributed-rest", 8, skip=40)
    with F.FaultServer(site, F.fault_address(83)) as server:
        for article in server.column.articles:
            server.set_fault(server.path(article), F.status(503, retry_after="9" * 400))
        started = time.monotonic()
        result = run("crawl", server.listing_url, "--delay", "0", "--workers", "2", "--no-ingest",
                     database_url=database_url, env=redis_env, timeout=120)
        took = time.monotonic() - started
        host = f"{F.fault_address(83)}:{server.port}"
        ttl = redis.Redis.from_url(REDIS_URL).pttl(f"{redis_env['GONGKAI_REDIS_PREFIX']}:host:{host}:next")
    assert took < 60, result.stderr
    assert "asked for a rest of" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert ttl < 1300 * 1000, ttl  # at most the 600 s cap (+ the key's 600 s margin), not decades
    with psycopg.connect(database_url) as conn:
        states = {row[0] for row in conn.execute("SELECT state FROM crawl_urls")}
    assert states == {"failed"}


def _get(url: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_serve_roles_crawler_and_ingest_equal_one_process(replica, single_process, database_url, redis_env):
    """The scaled deployment: a coordinator with no local workers, three `serve --role crawler` processes
    and two `serve --role ingest` processes. `gongkai status` lists the crawler roles and the live workers with
    what they hold; every role answers /healthz and /metrics. One crawler role is stopped (SIGTERM) in the
    middle: it hands back what it had not finished, the others finish, and the run is 'ok' (not
    'interrupted': the crawl was not). The rest are stopped with SIGTERM at the end."""
    replica.reset_faults()
    env = {**redis_env, "GONGKAI_LOG_FORMAT": "text", "GONGKAI_HTTP_ADDR": "127.0.0.1:0"}
    crawlers = [run("serve", "--role", "crawler", database_url=database_url, env=env, wait=False) for _ in range(3)]
    ingesters = [run("serve", "--role", "ingest", "--interval", "0.3", database_url=database_url, env=env,
                     wait=False) for _ in range(2)]
    server = redis.Redis.from_url(REDIS_URL)
    prefix = redis_env["GONGKAI_REDIS_PREFIX"]
    try:
        coordinator = run("crawl", *listing_urls(replica), "--delay", "0.05", "--workers", "0", "--no-ingest",
                          database_url=database_url, env=redis_env, wait=False)
        job, worker, info = _worker_of(server, prefix, "joiner")
        status = run("status", database_url=database_url, env=redis_env, timeout=60)
        assert status.returncode == 0, status.stderr
        assert "crawl workers (Redis redis://" in status.stdout and f"distributed crawl {job[:8]}" in status.stdout
        assert worker in status.stdout and status.stdout.count("crawler role ") == 3, status.stdout
        urls = re.findall(r"crawler role \S+ \((http://[^)]+)\)", status.stdout)
        code, body = _get(urls[0] + "/healthz")
        assert code == 200 and json.loads(body)["role"] == "crawler", body
        metrics = "".join(_get(url + "/metrics")[1] for url in urls)
        assert "gongkai_worker_jobs_taken_total 1.0" in metrics and "gongkai_worker_leases_held" in metrics
        leaving = next(p for p in crawlers if p.pid == int(worker.split(":")[1]))
        leaving.send_signal(signal.SIGTERM)
        _, err = coordinator.communicate(timeout=240)
        assert coordinator.returncode == 0, err
        deadline = time.monotonic() + 60
        with psycopg.connect(database_url, autocommit=True) as conn:
            while conn.execute("SELECT count(*) FROM staged_pages WHERE ingest_state = 'pending'").fetchone()[0]:
                assert time.monotonic() < deadline, "the ingest workers did not drain the staged pages"
                time.sleep(0.3)
            assert conn.execute("SELECT status FROM crawl_runs").fetchall() == [("ok",)]
    finally:
        for proc in crawlers + ingesters:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=60) for proc in crawlers + ingesters]
    for proc, (_, err) in zip(crawlers + ingesters, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err, err
    ingest_urls = [re.search(r"on (http://\S+)", err).group(1) for _, err in outputs[3:]]
    assert ingest_urls  # (stopped now: their endpoints are checked by test_ingest_role_serves_health_and_metrics)
    same(reports(database_url), single_process)  # a coordinator with --workers 0 ends only if the roles worked
    with psycopg.connect(database_url) as conn:
        staged = conn.execute("SELECT count(*), count(DISTINCT url) FROM staged_pages").fetchone()
    assert staged[0] >= staged[1]


def test_ingest_role_serves_health_and_metrics(database_url):
    ingest = run("serve", "--role", "ingest", "--interval", "0.3", database_url=database_url,
                 env={"GONGKAI_LOG_FORMAT": "text", "GONGKAI_HTTP_ADDR": "127.0.0.1:0"}, wait=False)
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = ingest.stderr.readline()
            found = re.search(r"serving /healthz and /metrics on (http://\S+)", line)
            url = found.group(1) if found else None
        assert url, "no /healthz address logged"
        code, body = _get(url + "/healthz")
        assert code == 200 and json.loads(body)["role"] == "ingest" and json.loads(body)["database"] == "ok"
        code, body = _get(url + "/metrics")
        assert code == 200 and "gongkai_ingest_queue_pending" in body
    finally:
        ingest.send_signal(signal.SIGTERM)
        ingest.communicate(timeout=30)
    assert ingest.returncode == 0


def test_a_job_nobody_works_on_fails_clearly(replica, database_url, redis_env):
    result = run("crawl", *listing_urls(replica)[:1], "--workers", "0", "--no-ingest", database_url=database_url,
                 env={**redis_env, "GONGKAI_JOIN_TIMEOUT": "2"}, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "no crawl worker took the job within 2s" in result.stderr, result.stderr
    server = redis.Redis.from_url(REDIS_URL)
    assert not list(server.scan_iter(match=f"{redis_env['GONGKAI_REDIS_PREFIX']}:*")), "job keys left behind"
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT status FROM crawl_runs").fetchall() == [("interrupted",)]


def _worker_of(server, prefix: str, role: str, timeout: float = 60) -> tuple[str, str, dict]:
    """(job id, worker id, info) of a running worker of `role` with a lease held, once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job in [j.decode() for j in server.smembers(f"{prefix}:jobs")]:
            workers = {k.decode(): json.loads(v) for k, v in server.hgetall(f"{prefix}:job:{job}:workers").items()}
            holding = {k.decode(): json.loads(v) for k, v in server.hgetall(f"{prefix}:job:{job}:holding").items()}
            for worker, info in workers.items():
                if info.get("role") == role and info["state"] == "running" and holding.get(worker):
                    return job, worker, info
        time.sleep(0.05)
    raise AssertionError(f"no {role} worker holding a lease within {timeout}s")


def test_a_killed_joiners_hosts_are_served_again_within_seconds(database_url, redis_env):
    """Two `serve --role crawler` processes work on a crawl; one's worker is killed (SIGKILL) while it holds
    host leases: those hosts get requests again within seconds (its leases expire in GONGKAI_WORKER_TTL / 2,
    not the 35-48 s they used to), the requests it held go back to the queue once its heartbeat stops, the
    other worker finishes the crawl, the run says a worker was lost, and with the next crawl every article
    is fetched."""
    server = redis.Redis.from_url(REDIS_URL)
    prefix = redis_env["GONGKAI_REDIS_PREFIX"]
    env = {**redis_env, "GONGKAI_LOG_FORMAT": "text", "GONGKAI_HTTP_ADDR": "127.0.0.1:0"}
    with SlowReplica(scaled_sites(6, 16)) as replica:
        replica.PAUSE = 0.05
        crawlers = [run("serve", "--role", "crawler", database_url=database_url, env=env, wait=False) for _ in range(2)]
        try:
            coordinator = run("crawl", *listing_urls(replica), "--delay", "0.3", "--workers", "0", "--no-ingest",
                              database_url=database_url, env=redis_env, wait=False)
            job, victim, info = _worker_of(server, prefix, "joiner")
            held = json.loads(server.hget(f"{prefix}:job:{job}:holding", victim))
            os.kill(info["pid"], signal.SIGKILL)
            killed_at = time.monotonic()
            _, err = coordinator.communicate(timeout=180)
            log = replica.requests
        finally:
            for proc in crawlers:
                proc.send_signal(signal.SIGTERM)
            for proc in crawlers:
                proc.communicate(timeout=60)
        assert coordinator.returncode == 1, err
        assert f"crawl worker {victim}" in err and "back in the queue" in err, err
        assert "stopped before the crawl was done" in err and "the others finished the crawl" in err, err
        hosts = {h.rsplit(":", 1)[0] for h in held}
        served_again = {}
        for entry in log:
            host = replica.site(entry.site).base_url.split("//", 1)[1].rsplit(":", 1)[0]
            if host in hosts and entry.time > killed_at and host not in served_again:
                served_again[host] = entry.time - killed_at
        assert served_again and max(served_again.values()) < 7.5, (held, served_again)
        with psycopg.connect(database_url) as conn:
            states = dict(conn.execute("SELECT state, count(*) FROM crawl_urls GROUP BY 1").fetchall())
            status = conn.execute("SELECT status FROM crawl_runs").fetchone()[0]
            staged = conn.execute("SELECT count(DISTINCT url) FROM staged_pages").fetchone()[0]
        assert status == "failed"
        # Only what the killed worker had fetched but not yet staged (at most a staging batch) is left pending,
        pending = states.get("pending", 0)
        assert pending <= 20 and staged + pending == sum(states.values()), (states, staged)
        # and the next crawl (which walks these listings to the end) fetches it.
        again = run("crawl", *listing_urls(replica), "--delay", "0", "--workers", "2", database_url=database_url,
                    env=redis_env, timeout=180)
    assert again.returncode == 0, again.stderr
    with psycopg.connect(database_url) as conn:
        states = dict(conn.execute("SELECT state, count(*) FROM crawl_urls GROUP BY 1").fetchall())
        staged_again = conn.execute("SELECT count(DISTINCT url) FROM staged_pages").fetchone()[0]
    assert set(states) == {"fetched"} and staged_again == states["fetched"], states


def test_a_coordinator_whose_only_worker_died_gives_up_clearly(replica, database_url, redis_env):
    """GONGKAI_JOIN_TIMEOUT counts from the last live worker, not only until the first registers: a joiner
    killed mid-crawl (its worker too) leaves the coordinator giving up with a line, not waiting forever."""
    server = redis.Redis.from_url(REDIS_URL)
    prefix = redis_env["GONGKAI_REDIS_PREFIX"]
    env = {**redis_env, "GONGKAI_JOIN_TIMEOUT": "3", "GONGKAI_WORKER_TTL": "2"}
    joiner = run("crawl", "--join", database_url=database_url, env=env, wait=False)
    try:
        with SlowReplica(scaled_sites(2, 30)) as slow:
            slow.PAUSE = 0.05
            coordinator = run("crawl", *listing_urls(slow), "--delay", "0.5", "--workers", "0", "--no-ingest",
                              database_url=database_url, env=env, wait=False)
            _, _, info = _worker_of(server, prefix, "joiner")
            os.kill(joiner.pid, signal.SIGKILL)
            os.kill(info["pid"], signal.SIGKILL)
            _, err = coordinator.communicate(timeout=60)
    finally:
        if joiner.poll() is None:
            joiner.kill()
        joiner.communicate(timeout=10)
    assert coordinator.returncode == 1, err
    assert "no crawl worker alive for 3s" in err and "giving up" in err, err
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT status FROM crawl_runs").fetchone()[0] == "failed"


def test_role_with_a_missing_config_is_an_error(database_url, redis_env):
    for role in ("crawler", "ingest"):
        result = run("serve", "--role", role, "--config", "/nonexistent.yaml", database_url=database_url,
                     env=redis_env, timeout=30)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "/nonexistent.yaml" in lines[0], result.stderr


@pytest.mark.parametrize("role", ["crawler", "ingest"])
def test_a_role_stopped_while_it_starts_exits_cleanly(database_url, redis_env, role):
    """An orchestrator may stop a role before it has taken any work: SIGTERM as soon as it says its first word
    (its /healthz address) ends it with exit 0 and no traceback, not killed by the signal (-15)."""
    env = {**redis_env, "GONGKAI_LOG_FORMAT": "text", "GONGKAI_HTTP_ADDR": "127.0.0.1:0"}
    proc = run("serve", "--role", role, database_url=database_url, env=env, wait=False)
    try:
        first = proc.stderr.readline()
        assert "serving /healthz" in first, first
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, first + err
    assert "Traceback" not in err, err
