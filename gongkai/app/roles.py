"""`gongkai serve --role crawler|ingest`: the worker processes of a scaled-out deployment.

- `scheduler` (the default): the daemon of app/serve/. With `REDIS_URL` set, each scheduled crawl it
  starts is the coordinator of a distributed crawl (gongkai/crawler/distributed/): it seeds the shared
  frontier in Redis and runs `GONGKAI_CRAWL_WORKERS` local workers (0: only the crawler role works).
- `crawler`: works on every distributed crawl announced in Redis, on any machine, until SIGTERM
  (the same as `gongkai crawl --join`).
- `ingest`: ingests staged pages as they arrive, until SIGTERM. Any number can run: batches are taken
  with FOR UPDATE SKIP LOCKED, so no page is ingested twice and none is skipped.
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
                   once: bool = False) -> Counter:
    """Ingest pending pages batch by batch; when none is left, wait `poll` seconds and look again.

    `stop` (set by SIGTERM) ends the loop after the batch in hand is committed; what is left stays
    pending. `once`: return as soon as nothing is pending (for tests and one-shot use)."""
    import psycopg

    from gongkai.db import DatabaseError, connect
    from gongkai.ingest.run import ingest_pending

    stop = stop or threading.Event()
    totals: Counter = Counter()

    def on_batch(counts: Counter) -> None:
        totals.update(counts)
        if stop.is_set():
            raise _Stop

    while not stop.is_set():
        try:
            with connect(database_url) as conn:
                counts = ingest_pending(conn, on_batch=on_batch)
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


def serve_role(args: argparse.Namespace) -> int:
    """Run the `crawler` or `ingest` role (the scheduler role is app.serve.serve_command)."""
    from gongkai.crawler.distributed import check_redis, join_forever, redis_url_from_env
    from gongkai.db import open_database
    from gongkai.errors import UserError
    from gongkai.logs import configure_service_logging

    configure_service_logging(args.verbose)
    if args.role == "crawler":
        redis_url = redis_url_from_env()
        if not redis_url:
            raise UserError("--role crawler needs REDIS_URL: the Redis server the scheduler announces crawls in")
        check_redis(redis_url)
        url, conn = open_database()
        conn.close()
        logger.info("crawl worker: waiting for distributed crawls in Redis")
        return join_forever(redis_url, url)
    url, conn = open_database()
    conn.close()
    stop = threading.Event()
    previous: dict[int, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    started = time.monotonic()
    logger.info("ingest worker: ingesting staged pages every %.0fs until stopped", args.interval)
    try:
        totals = ingest_forever(url, poll=args.interval, stop=stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    logger.info("ingest worker stopped after %.0fs: %s", time.monotonic() - started,
                ", ".join(f"{n} {k}" for k, n in sorted(totals.items())) or "nothing ingested")
    return 0
