"""The service's HTTP face: /healthz for orchestrators, /metrics for Prometheus.

A stdlib ThreadingHTTPServer in a daemon thread: two read-only endpoints do not justify a web
framework, and prometheus_client renders the metrics. Metrics live in their own registry (not the
global one) so several services in one process (tests) never collide.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.process_collector import ProcessCollector

from gongkai.app.serve.common import first_line
from gongkai.config import ServiceConfig
from gongkai.settings import get_settings

logger = logging.getLogger("gongkai.service")

_DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600, 7200)


class Metrics:
    """Every metric the service exports (names start with gongkai_)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        r = self.registry
        self.pages_fetched = Counter("gongkai_pages_fetched", "Article pages fetched and staged", ["site"],
                                     registry=r)
        self.page_failures = Counter("gongkai_page_failures", "Pages not staged as articles, by reason "
                                     "(failed, gone, blocked, unstaged)", ["site", "reason"], registry=r)
        self.requests = Counter("gongkai_crawl_requests", "HTTP requests made by crawls", ["site"], registry=r)
        self.crawl_runs = Counter("gongkai_crawl_runs", "Crawl runs finished, by status", ["site", "status"],
                                  registry=r)
        self.crawl_duration = Histogram("gongkai_crawl_duration_seconds", "Wall time of one crawl run",
                                        ["site"], buckets=_DURATION_BUCKETS, registry=r)
        self.ingest_duration = Histogram("gongkai_ingest_duration_seconds", "Wall time of one ingest pass",
                                         buckets=_DURATION_BUCKETS, registry=r)
        self.reports_ingested = Counter("gongkai_reports_ingested", "Staged pages ingested, by outcome "
                                        "(new, updated, unchanged, repost, withdrawn, skipped, error...)",
                                        ["outcome"], registry=r)
        self.queue_pending = Gauge("gongkai_ingest_queue_pending", "Staged pages waiting for ingest", registry=r)
        self.queue_lag = Gauge("gongkai_ingest_queue_lag_seconds", "Age of the oldest staged page waiting for "
                               "ingest (0 when none)", registry=r)
        self.last_success = Gauge("gongkai_last_success_timestamp_seconds", "When a job last succeeded",
                                  ["job"], registry=r)
        self.next_run = Gauge("gongkai_next_run_timestamp_seconds", "When a job runs next", ["job"], registry=r)
        self.running = Gauge("gongkai_jobs_running", "Jobs running now", ["kind"], registry=r)
        self.scheduler_up = Gauge("gongkai_scheduler_up", "1 while the scheduler runs", registry=r)
        self.extraction_alarm = Gauge("gongkai_extraction_alarm", "1 while a site's latest reports lack a field "
                                      "its earlier ones had, or its latest article pages gave no article "
                                      "(check: the field, or no_article): the portal may have changed its pages",
                                      ["site", "check"], registry=r)
        self.discovery_columns = Gauge("gongkai_discovery_columns", "Report columns of the site by what the last "
                                       "discovery of its portal said: found (configured, still linked), new (added by "
                                       "it) or vanished (configured, no longer linked or answering 404)",
                                       ["site", "state"], registry=r)
        self.discovery_last_run = Gauge("gongkai_discovery_last_run_timestamp_seconds", "When the last discovery of "
                                        "the site's portal that read it ended", ["site"], registry=r)
        self.discovery_runs = Counter("gongkai_discovery_runs", "Discovery runs finished, by status (ok, partial, "
                                      "failed, interrupted, busy)", ["site", "status"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class HealthServer:
    """Serve /healthz (`health()` -> (ok, details)) and /metrics on host:port in a daemon thread."""

    def __init__(self, host: str, port: int, metrics: Metrics,
                 health: Callable[[], tuple[bool, dict[str, Any]]]) -> None:
        self.metrics = metrics
        self.health = health
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                logger.debug("http %s", format % args)

            def do_GET(self) -> None:  # noqa: N802 - stdlib naming
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    try:
                        ok, details = outer.health()
                    except Exception as exc:  # a health check must answer, never hang or 500 blindly
                        ok, details = False, {"error": f"{exc.__class__.__name__}: {exc}"}
                    self._send(200 if ok else 503, json.dumps(details, default=str).encode(), "application/json")
                elif path == "/metrics":
                    self._send(200, outer.metrics.render(), CONTENT_TYPE_LATEST)
                else:
                    self._send(404, b'{"error": "not found; try /healthz or /metrics"}', "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.2,), name="gongkai-http",
                                       daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HealthServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def http_address(config: ServiceConfig) -> tuple[str, int]:
    """config http: {host, port}; GONGKAI_HTTP_ADDR=host:port overrides (containers bind 0.0.0.0)."""
    override = get_settings().http_addr
    if override:
        host, _, port = override.rpartition(":")
        return host or "0.0.0.0", int(port)
    return config.http_host, config.http_port


def database_status(database_url: str) -> str:
    """"ok" if the database answers on a fresh connection, else "unreachable: why" (password redacted)."""
    import psycopg

    from gongkai.db import redact

    try:
        with psycopg.connect(database_url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
        return "ok"
    except psycopg.Error as exc:
        return f"unreachable: {first_line(exc)}".replace(database_url, redact(database_url))
