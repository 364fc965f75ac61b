"""`gongkai serve --role crawler|ingest`: the worker processes of a scaled-out deployment.

- `scheduler` (the default): the daemon of app/serve/. With `REDIS_URL` set, each scheduled crawl it
  starts is the coordinator of a distributed crawl (gongkai/crawler/distributed/): it seeds the shared
  frontier in Redis and runs `GONGKAI_CRAWL_WORKERS` local workers (0: only the crawler role works).
- `crawler`: works on every distributed crawl announced in Redis, on any machine, until SIGTERM
  (the same as `gongkai crawl --join`).
- `ingest`: ingests staged pages as they arrive, until SIGTERM. Any number can run: batches are taken
  with FOR UPDATE SKIP LOCKED, so no page is ingested twice and none is skipped.

Every role serves /healthz and /metrics (GONGKAI_HTTP_ADDR, else the config's `http:`; an ephemeral port,
logged, when that address is taken by another process on the machine). A `--config` that names a missing or
invalid file is an error (exit 2), as for the scheduler.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections import Counter
from typing import Any

logger = logging.getLogger("gongkai.roles")

DEFAULT_INGEST_POLL = 5.0  # seconds between looks at the staging table when it was empty


class _Stop(Exception):
    pass


def ingest_forever(database_url: str, *, poll: float = DEFAULT_INGEST_POLL, stop: threading.Event | None = None,
                   once: bool = False, on_batch: Any = None, metrics: Any = None) -> Counter:
    """Ingest pending pages batch by batch; when none is left, wait `poll` seconds and look again.

    `stop` (set by SIGTERM) ends the loop after the batch in hand is committed; what is left stays
    pending. `once`: return as soon as nothing is pending (for tests and one-shot use)."""
    import psycopg

    from gongkai.db import DatabaseError, connect
    from gongkai.ingest.run import ingest_pending

    stop = stop or threading.Event()
    totals: Counter = Counter()

    report = on_batch

    def batch_done(counts: Counter) -> None:
        totals.update(counts)
        if report is not None:
            report(counts)
        if stop.is_set():
            raise _Stop

    while not stop.is_set():
        try:
            with connect(database_url) as conn:
                started = time.monotonic()
                counts = ingest_pending(conn, on_batch=batch_done)
                if metrics is not None:
                    metrics.ingest_duration.observe(time.monotonic() - started)
                    metrics.queue_pending.set(conn.execute(
                        "SELECT count(*) FROM staged_pages WHERE ingest_state = 'pending'").fetchone()[0])
            if counts:
                logger.info("ingested %s", ", ".join(f"{n} {k}" for k, n in sorted(counts.items())),
                            extra={"counts": dict(counts)})
        except _Stop:
            break
        except (DatabaseError, psycopg.OperationalError) as exc:  # the database is away: try again later
            logger.warning("ingest worker: %s; retrying in %.0fs", str(exc).splitlines()[0], poll)
        if once:
            break
        stop.wait(poll)
    return totals


def role_config(path: str | None) -> Any:
    """The config a role reads (only its `http:`): a named file must exist and be valid (exit 2, one line);
    without --config, the default file if there is one."""
    from gongkai.config import ConfigError, config_path, load_config
    from gongkai.errors import UserError

    if path is None and not config_path(None).exists():
        return None
    try:
        return load_config(path)
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def start_role_http(config: Any, metrics: Any, health: Any) -> Any:
    """/healthz and /metrics for a role (GONGKAI_HTTP_ADDR, else the config's http:, else 127.0.0.1:8080). Its
    address busy (a scheduler or another role on this machine): an ephemeral port, logged."""
    from gongkai.app.serve.http import HealthServer, http_address
    from gongkai.config import ServiceConfig, config_path

    host, port = http_address(config or ServiceConfig(path=config_path(None)))
    try:
        server = HealthServer(host, port, metrics, health).start()
    except OSError as exc:
        server = HealthServer(host, 0, metrics, health).start()
        logger.warning("%s:%d is busy (%s): serving /healthz and /metrics on %s instead", host, port,
                       exc.strerror or exc, server.url)
    logger.info("serving /healthz and /metrics on %s", server.url, extra={"http_url": server.url})
    return server


class CrawlerRoleMetrics:
    """/metrics of `serve --role crawler`: what its workers did (from their heartbeats in Redis)."""

    def __init__(self, state: dict[str, Any]) -> None:
        from prometheus_client import CollectorRegistry
        from prometheus_client.process_collector import ProcessCollector

        self.state = state
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.registry.register(self)

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        state = self.state
        stats = list(state.get("stats", {}).values())
        total = lambda key: float(sum(s.get(key, 0) for s in stats))  # noqa: E731
        yield CounterMetricFamily("gongkai_worker_jobs_taken", "Distributed crawl jobs this process worked on",
                                  value=state.get("jobs_taken", 0))
        yield GaugeMetricFamily("gongkai_worker_jobs_running", "Distributed crawl jobs being worked on now",
                                value=len(state.get("jobs", {})))
        yield CounterMetricFamily("gongkai_worker_requests", "HTTP requests made by this process's workers",
                                  value=total("downloader/request_count"))
        yield CounterMetricFamily("gongkai_worker_pages_fetched", "Article pages fetched and staged",
                                  value=total("stage/fetched"))
        running = [state.get("stats", {}).get(job, {}) for job in state.get("jobs", {})]
        yield GaugeMetricFamily("gongkai_worker_leases_held", "Host leases held now (requests downloading)",
                                value=float(sum(s.get("shared_limiter/leases_held", 0) for s in running)))
        waits = CounterMetricFamily("gongkai_worker_host_wait_seconds", "Time requests waited for their host's "
                                    "start slot after leaving the queue (held up on their way, e.g. by robots.txt)",
                                    labels=["host"])
        per_host: dict[str, float] = {}
        for s in stats:
            for key, value in s.items():
                if key.startswith("shared_limiter/start_wait_ms/"):
                    host = key.rsplit("/", 1)[1]
                    per_host[host] = per_host.get(host, 0.0) + value / 1000
        for host, seconds in sorted(per_host.items()):
            waits.add_metric([host], seconds)
        yield waits

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


def serve_role(args: argparse.Namespace) -> int:
    """Run the `crawler` or `ingest` role (the scheduler role is app.serve.serve_command)."""
    from gongkai.app.serve.http import Metrics, database_status
    from gongkai.crawler.distributed import check_redis, join_forever, redis_url_from_env
    from gongkai.db import open_database
    from gongkai.errors import UserError
    from gongkai.logs import configure_service_logging

    # SIGTERM from the first moment on ends the role cleanly (exit 0), also while it is still starting: an
    # orchestrator (or a test) may stop a role that has not yet taken any work.
    stopping: list[bool] = []
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))}
    configure_service_logging(args.verbose)
    config = role_config(getattr(args, "config", None))
    started = time.monotonic()
    if args.role == "crawler":
        redis_url = redis_url_from_env()
        if not redis_url:
            raise UserError("--role crawler needs REDIS_URL: the Redis server the scheduler announces crawls in")
        check_redis(redis_url)
        url, conn = open_database()
        conn.close()
        state: dict[str, Any] = {}

        def crawler_health() -> tuple[bool, dict[str, Any]]:
            from gongkai.crawler.distributed import connect

            database = database_status(url)
            try:
                connect(redis_url).ping()
                redis_state = "ok"
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                redis_state = f"unreachable: {exc.__class__.__name__}"
            ok = database == "ok" and redis_state == "ok"
            return ok, {"role": "crawler", "database": database, "redis": redis_state, "jobs": state.get("jobs", {}),
                        "jobs_taken": state.get("jobs_taken", 0), "uptime_s": round(time.monotonic() - started, 1)}

        http = start_role_http(config, CrawlerRoleMetrics(state), crawler_health)
        logger.info("crawl worker: waiting for distributed crawls in Redis")
        try:
            return join_forever(redis_url, url, state=state, info={"http_url": http.url}, stopping=stopping)
        finally:
            http.stop()
    url, conn = open_database()
    conn.close()
    stop = threading.Event()
    if stopping:
        stop.set()
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous.setdefault(sig, signal.signal(sig, lambda *_: stop.set()))
    metrics = Metrics()
    last_batch = [time.monotonic()]

    def ingest_health() -> tuple[bool, dict[str, Any]]:
        database = database_status(url)
        return database == "ok", {"role": "ingest", "database": database, "stopping": stop.is_set(),
                                  "last_batch_s_ago": round(time.monotonic() - last_batch[0], 1),
                                  "uptime_s": round(time.monotonic() - started, 1)}

    def on_batch(counts: Counter) -> None:
        last_batch[0] = time.monotonic()
        for outcome, n in counts.items():
            metrics.reports_ingested.labels(outcome).inc(n)

    http = start_role_http(config, metrics, ingest_health)
    logger.info("ingest worker: ingesting staged pages every %.0fs until stopped", args.interval)
    try:
        totals = ingest_forever(url, poll=args.interval, stop=stop, on_batch=on_batch, metrics=metrics)
    finally:
        http.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    logger.info("ingest worker stopped after %.0fs: %s", time.monotonic() - started,
                ", ".join(f"{n} {k}" for k, n in sorted(totals.items())) or "nothing ingested")
    return 0
