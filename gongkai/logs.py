"""Logging for the long-running service: one JSON object per line when stderr is not a terminal.

A daemon's stderr goes to journald, Docker or a file, where a log shipper wants one parseable record
per line; on a terminal a human reads it, so the plain format stays. Whatever the format, passwords
in database URLs never reach the log (`redact_secrets` runs on every record).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from gongkai.settings import get_settings

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]*):[^@\s]*@", re.IGNORECASE)
_KV_PASSWORD = re.compile(r"\b(password|passwd|pwd)\s*=\s*('[^']*'|\S+)", re.IGNORECASE)
# LogRecord attributes that are not user-supplied `extra=` fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


def redact_secrets(text: str) -> str:
    """`postgresql://u:secret@h/db` -> `postgresql://u:***@h/db`; `password=secret` -> `password=***`."""
    return _KV_PASSWORD.sub(r"\1=***", _URL_PASSWORD.sub(r"\g<scheme>:***@", text))


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", ...extra fields, "exc"} on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact_secrets(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = redact_secrets(value) if isinstance(value, str) else value
        if record.exc_info:
            out["exc"] = redact_secrets(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_secrets(super().format(record))


def use_json(stream: Any = None) -> bool:
    """JSON unless the stream is a terminal; GONGKAI_LOG_FORMAT=json|text forces either."""
    forced = get_settings().log_format
    if forced:
        return forced == "json"
    stream = stream or sys.stderr
    return not (hasattr(stream, "isatty") and stream.isatty())


def configure_service_logging(verbose: bool = False) -> None:
    """INFO for gongkai (DEBUG with -v), WARNING for libraries; JSON or text as `use_json` says."""
    handler = logging.StreamHandler(sys.stderr)
    if use_json(sys.stderr):
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_quiet_libraries)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("apscheduler.scheduler", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _quiet_libraries(record: logging.LogRecord) -> bool:
    return record.name.startswith("gongkai") or record.levelno >= logging.WARNING


_HUMAN_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (?P<level>[A-Z]+) (?P<logger>[\w.]+): (?P<msg>.*)$")


def relay_line(line: str, logger: logging.Logger, **fields: Any) -> None:
    """Re-log one stderr line of a child `gongkai crawl` as our own record (JSON stays structured)."""
    line = line.rstrip("\n")
    if not line.strip():
        return
    level, message, extra = logging.INFO, line, dict(fields)
    if line.startswith("{"):
        try:
            data = json.loads(line)
        except ValueError:
            data = None
        if isinstance(data, dict):
            level = logging.getLevelName(str(data.pop("level", "info")).upper())
            message = str(data.pop("message", ""))
            data.pop("time", None)
            extra.update({f"child_{k}" if k in _STANDARD else k: v for k, v in data.items()})
    else:
        m = _HUMAN_LINE.match(line)
        if m:
            level = logging.getLevelName(m["level"])
            message = m["msg"]
            extra["child_logger"] = m["logger"]
        elif line.startswith("gongkai: "):
            level = logging.WARNING
            message = line.removeprefix("gongkai: ")
        elif line.startswith("Traceback") or line.startswith("  "):
            level = logging.ERROR
    logger.log(level if isinstance(level, int) else logging.INFO, message, extra=extra)


def configure_logging(verbose: bool) -> None:
    """Our own log format at WARNING (INFO with -v); the chattier libraries stay at WARNING."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        force=True)
    for handler in logging.root.handlers:
        # Scrapy re-configures logger levels when a crawl starts, so the filtering lives on the handler.
        handler.setLevel(level)
        handler.addFilter(_drop_duplicate_noise)


def _drop_duplicate_noise(record: logging.LogRecord) -> bool:
    """A robots.txt that cannot be fetched is logged with a full traceback; the listing's one-line
    failure already says it. Library chatter below WARNING stays out even with -v."""
    if record.name.startswith("scrapy.downloadermiddlewares.robotstxt"):
        return False
    if record.levelno < logging.WARNING and not record.name.startswith("gongkai"):
        return False
    return True
