"""What one crawl run did, as a value: how a `gongkai crawl` started by the service tells it.

The child writes it as a small JSON file (`gongkai crawl --result-file PATH`, hidden; the service
passes a path in a private temporary directory) once the crawl is recorded; the service reads it back.
No file: the child ended before it finished a crawl (busy, bad config, killed, crashed).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CrawlResult:
    run_id: int
    status: str  # crawl_runs.status: ok, failed (some listing could not be read) or interrupted
    counts: dict[str, int] = field(default_factory=dict)  # fetched, failed, gone, blocked, requests, …
    problems: list[str] = field(default_factory=list)  # one line each, as `gongkai crawl` prints them

    @classmethod
    def from_summary(cls, summary: Any) -> CrawlResult:
        """From the crawl stage's CrawlSummary."""
        return cls(run_id=summary.run_id, status=summary.status, counts=dict(summary.counts),
                   problems=list(summary.problems))


def write_result(path: str | os.PathLike[str], result: CrawlResult) -> None:
    """Write atomically: a reader sees the whole result or none."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(asdict(result), ensure_ascii=False), encoding="utf-8")
    os.replace(partial, path)


def read_result(path: str | os.PathLike[str]) -> CrawlResult | None:
    """The result written at `path`; None if there is none (or it is not one)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return CrawlResult(run_id=int(data["run_id"]), status=str(data["status"]),
                           counts={str(k): int(v) for k, v in (data.get("counts") or {}).items()},
                           problems=[str(p) for p in data.get("problems") or []])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
