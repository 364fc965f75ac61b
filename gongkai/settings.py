"""Every environment variable gongkai reads, in one typed, frozen settings object.

The variables are data (`VARIABLES`: name, type, default, what it does), read in this module only;
README's "Environment" table lists the same rows (tests/test_settings.py keeps the two equal). A bad
value is one `gongkai:` line naming the variable (exit 2), never a traceback from deep in a crawl.

`get_settings()` parses the environment once per distinct set of values: a process reads it once,
and a test that changes a variable gets the new value without a cache to clear.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from gongkai.errors import ConfigError


@dataclass(frozen=True)
class Variable:
    name: str
    field: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    internal: bool = False  # set by gongkai for its own child processes, not by users
    shown: str | None = None  # the default as README states it, where `default` is None (unset)


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise ValueError("must be a positive number")
    return value


def _nonnegative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError("must be 0 or more")
    return value


def _nonnegative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _log_format(text: str) -> str | None:
    value = text.strip().lower()
    if value not in ("json", "text"):
        raise ValueError("must be json or text")
    return value


def _flag(text: str) -> bool:
    return text.strip().lower() not in ("", "0", "false", "no")


VARIABLES: tuple[Variable, ...] = (
    Variable("DATABASE_URL", "database_url", str, None,
             "libpq URL of the PostgreSQL to use", shown="the embedded server under GONGKAI_HOME"),
    Variable("GONGKAI_HOME", "home", Path, None, "state directory: the embedded database lives in its pgdata/",
             shown="$XDG_DATA_HOME/gongkai, else ~/.local/share/gongkai"),
    Variable("XDG_DATA_HOME", "xdg_data_home", Path, None, "the user's data directory (XDG), where GONGKAI_HOME "
             "defaults to", shown="~/.local/share"),
    Variable("GONGKAI_CONFIG", "config", Path, Path("config/sites.yaml"), "the sites file"),
    Variable("REDIS_URL", "redis_url", str, None,
             "Redis of the distributed crawl mode", shown="unset: every crawl is one process"),
    Variable("GONGKAI_REDIS_PREFIX", "redis_prefix", str, "gongkai",
             "prefix of every Redis key, to separate deployments sharing one Redis"),
    Variable("GONGKAI_CRAWL_WORKERS", "crawl_workers", _nonnegative_int, None,
             "local crawl worker processes of a distributed crawl (what `crawl --workers N` sets)", shown="1"),
    Variable("GONGKAI_WORKER_TTL", "worker_ttl", _positive_float, 10.0,
             "seconds a distributed crawl worker's busy/alive mark lives without a refresh (then its unfinished "
             "requests go back to the queue); its host leases live half as long"),
    Variable("GONGKAI_JOIN_TIMEOUT", "join_timeout", _positive_float, 300.0,
             "seconds a distributed crawl's coordinator waits with no live worker before it gives up"),
    Variable("GONGKAI_HTTP_ADDR", "http_addr", str, None,
             "host:port for serve's /healthz and /metrics (overrides the config's http:)", shown="the config's"),
    Variable("GONGKAI_WEB_ADDR", "web_addr", str, None,
             "host:port of the readers' web app inside `serve` (`off`: not served)", shown="127.0.0.1:8090"),
    Variable("GONGKAI_LOG_FORMAT", "log_format", _log_format, None,
             "json or text", shown="JSON lines unless stderr is a terminal"),
    Variable("GONGKAI_BACKOFF_BASE", "backoff_base", _positive_float, None,
             "seconds of the first retry's backoff, doubling each retry", shown="2"),
    Variable("GONGKAI_BACKOFF_MAX", "backoff_max", _positive_float, None, "longest backoff between two retries, in seconds", shown="120"),
    Variable("RETRY_TIMES", "retry_times", _nonnegative_int, None, "retries of a failing request (5xx, 429, timeouts) within one crawl", shown="3"),
    Variable("DOWNLOAD_TIMEOUT", "download_timeout", _positive_float, None,
             "seconds before a request times out", shown="30"),
    Variable("GONGKAI_DB_WAIT", "db_wait", _nonnegative_float, None,
             "seconds a crawl waits for a lost database before it stops cleanly", shown="60"),
    Variable("GONGKAI_STAGE_BUFFER_MAX", "stage_buffer_max", _nonnegative_int, None,
             "bytes of fetched pages a crawl holds in memory while the database is away", shown="268435456 (256 MiB)"),
    Variable("GONGKAI_STAGE_BACKLOG", "stage_backlog", _nonnegative_int, None,
             "bytes of staged pages waiting for the database before the crawl pauses fetching", shown="33554432 (32 MiB)"),
    Variable("GONGKAI_VERBOSE", "verbose", _flag, False, "log progress details in crawl worker processes",
             internal=True),
    Variable("GONGKAI_PARENT_PID", "parent_pid", int, None,
             "the serve process that started this crawl (the crawl stops when it dies)", internal=True),
    Variable("GONGKAI_SHUTDOWN_TIMEOUT", "shutdown_timeout", _nonnegative_float, 60.0,
             "seconds a crawl started by serve has to stop gracefully", internal=True),
)

# Scrapy settings a crawl takes from the environment (tests shorten backoff; operators may lengthen it).
CRAWL_OVERRIDES = {"backoff_base": "GONGKAI_BACKOFF_BASE", "backoff_max": "GONGKAI_BACKOFF_MAX",
                   "retry_times": "RETRY_TIMES", "download_timeout": "DOWNLOAD_TIMEOUT", "db_wait": "GONGKAI_DB_WAIT",
                   "stage_buffer_max": "GONGKAI_STAGE_BUFFER_MAX", "stage_backlog": "GONGKAI_STAGE_BACKLOG"}


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    home: Path | None = None
    xdg_data_home: Path | None = None
    config: Path = Path("config/sites.yaml")
    redis_url: str | None = None
    redis_prefix: str = "gongkai"
    crawl_workers: int | None = None
    worker_ttl: float = 10.0
    join_timeout: float = 300.0
    http_addr: str | None = None
    web_addr: str | None = None
    log_format: str | None = None
    backoff_base: float | None = None
    backoff_max: float | None = None
    retry_times: int | None = None
    download_timeout: float | None = None
    db_wait: float | None = None
    stage_buffer_max: int | None = None
    stage_backlog: int | None = None
    verbose: bool = False
    parent_pid: int | None = None
    shutdown_timeout: float = 60.0

    @property
    def home_dir(self) -> Path:
        """State directory: GONGKAI_HOME, else the user's data directory (XDG): one place per user, wherever
        a command is run from (a directory per working directory made a new, empty database in each)."""
        if self.home is not None:
            return self.home.expanduser().absolute()
        data = self.xdg_data_home if self.xdg_data_home is not None else Path.home() / ".local" / "share"
        return (data.expanduser() / "gongkai").absolute()

    def crawl_overrides(self) -> dict[str, Any]:
        """The Scrapy settings set from the environment, by their setting names."""
        return {name: getattr(self, attr) for attr, name in CRAWL_OVERRIDES.items() if getattr(self, attr) is not None}


def parse_settings(environ: Mapping[str, str]) -> Settings:
    """Settings from an environment mapping; an empty variable counts as unset."""
    values: dict[str, Any] = {}
    for var in VARIABLES:
        raw = (environ.get(var.name) or "").strip()
        if not raw:
            continue
        try:
            values[var.field] = var.parse(raw)
        except ValueError as exc:
            shown = raw if len(raw) <= 40 and var.name not in ("DATABASE_URL", "REDIS_URL") else "…"
            raise ConfigError(f"environment variable {var.name}={shown!s}: {exc}") from None
    return Settings(**values)


@lru_cache(maxsize=8)
def _cached(snapshot: tuple[tuple[str, str], ...]) -> Settings:
    return parse_settings(dict(snapshot))


def get_settings() -> Settings:
    """The settings of this process's environment, parsed once per distinct set of values."""
    snapshot = tuple((var.name, os.environ.get(var.name, "")) for var in VARIABLES)
    return _cached(snapshot)
