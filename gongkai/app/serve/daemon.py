"""`gongkai serve` (the scheduler role): the Service, composed of its parts.

- scheduling.py: the scheduler lock, APScheduler, first runs, heartbeat, signals, shutdown
- jobs.py: the crawl job (a `gongkai crawl` subprocess) and the ingest job; alarms.py: extraction alarms
- discovery.py: the discovery job (new columns join the crawl, vanished ones are reported)
- http.py: /healthz and /metrics, the metrics
- state.py: the only writer of service_jobs and service_state
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from typing import Any

from gongkai.app.serve.alarms import ExtractionAlarms
from gongkai.app.serve.discovery import Discoveries
from gongkai.app.serve.http import HealthServer, Metrics, database_status, http_address
from gongkai.app.serve.jobs import Jobs
from gongkai.app.serve.readers import ReadersServer
from gongkai.app.serve.scheduling import Scheduling
from gongkai.config import ServiceConfig, load_config
from gongkai.errors import EXIT_BUSY, ConfigError, ServiceBusy, UserError


def serve_command(args: argparse.Namespace) -> int:
    from gongkai.db import open_database
    from gongkai.logs import configure_service_logging

    configure_service_logging(args.verbose)
    if not args.verbose:
        # Discovery (in this process) offers most pages it reads, navigation rather than listings, to the listing
        # platforms, which say at INFO that none takes them: the walk's expected answer, not the service's news.
        logging.getLogger("gongkai.crawler.platforms").setLevel(logging.WARNING)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    if not config.sites:  # a scheduler with nothing to schedule would run on silently forever
        raise UserError(f"{config.path}: no sites configured: nothing to serve (add one with `gongkai sites add URL`)")
    url, conn = open_database()
    conn.close()
    try:
        return Service(config, url, verbose=args.verbose).run()
    except ServiceBusy as exc:
        raise UserError(str(exc), EXIT_BUSY) from None


class Service:
    """The daemon: scheduler, crawl subprocesses, ingest, heartbeat, HTTP endpoints, clean shutdown."""

    def __init__(self, config: ServiceConfig, database_url: str, *, verbose: bool = False) -> None:
        self.config = config
        self.database_url = database_url
        self.metrics = Metrics()
        self.stopping = threading.Event()
        self.started_at = time.time()
        self.alarms = ExtractionAlarms(database_url, self.metrics)
        self.jobs = Jobs(config, database_url, self.metrics, self.stopping, self.alarms, verbose=verbose)
        self.discoveries = Discoveries(config, database_url, self.metrics, self.stopping, self.jobs)
        self.scheduling = Scheduling(config, database_url, self.metrics, self.stopping, self.jobs, self.discoveries)
        self.readers = ReadersServer(database_url)

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; 0 after a clean stop."""
        try:
            return self.scheduling.run(self._start_http)
        finally:
            self.readers.stop()
            self.discoveries.close()

    def _start_http(self) -> HealthServer:
        host, port = http_address(self.config)
        try:
            health = HealthServer(host, port, self.metrics, self.health).start()
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port} for /healthz and /metrics: {exc.strerror or exc}") from None
        self.readers.start()  # the reports for readers, next to /healthz (app/serve/readers.py)
        return health

    def health(self) -> tuple[bool, dict[str, Any]]:
        """/healthz: the database answers (fresh connection) and the scheduler is alive."""
        database = database_status(self.database_url)
        scheduler = self.scheduling.scheduler_state()
        details = {"database": database, "scheduler": scheduler, "crawls_running": self.jobs.running_crawls(),
                   "discoveries_running": self.discoveries.running(),
                   "next_runs": self.scheduling.next_runs(), "uptime_s": round(time.time() - self.started_at, 1),
                   "pid": os.getpid(), "web": self.readers.url}
        return database == "ok" and scheduler == "running", details
