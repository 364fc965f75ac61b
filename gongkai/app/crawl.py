"""Crawl-and-ingest, the job behind `gongkai crawl`, `gongkai demo` and each scheduled crawl.

Application layer: it composes the stages (crawler, then ingest) and reports what they did; the
entry points (cli.py) parse arguments and print.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter

from gongkai.app.crawl_result import CrawlResult, write_result
from gongkai.db import connect, open_database
from gongkai.errors import EXIT_CRAWL_PROBLEM, EXIT_INTERRUPTED


def crawl_and_ingest(urls: list[str], *, delay: float, concurrency: int = 2, ingest: bool = True,
                     full: bool = False, revalidate: bool = False, result_file: str | None = None,
                     **crawl_options) -> int:
    from gongkai.crawler.run import run_crawl

    url, conn = open_database()
    conn.close()
    summary = run_crawl(urls, url, delay=delay, concurrency_per_host=concurrency, progress=sys.stderr.isatty(),
                        full=full, revalidate=revalidate, **crawl_options)
    if full:  # only a full walk delists: its vanished articles' reports are withdrawn (ingest or not)
        from gongkai.ingest.store import withdraw_reports_of

        with connect(url) as conn:
            # Every delisted URL is swept, not only this run's, so a crawl that died after delisting is
            # finished here.
            withdraw_reports_of(conn, None)
    counts = summary.counts
    print(f"crawl run {summary.run_id}: {counts.get('fetched', 0)} pages staged, {counts.get('gone', 0)} gone, "
          f"{counts.get('failed', 0)} failed (retried next crawl), {counts.get('blocked', 0)} blocked by robots.txt, "
          f"{counts.get('retried', 0)} retries, {counts.get('not_modified', 0)} not modified, "
          f"{counts.get('requests', 0)} requests", file=sys.stderr)
    if result_file:  # the service that started this crawl reads it back (app/crawl_result.py)
        write_result(result_file, CrawlResult.from_summary(summary))
    if summary.signal:  # Ctrl-C or SIGTERM: stop here, no ingest; the next crawl resumes what is left
        name = signal.Signals(summary.signal).name
        print(f"gongkai: crawl run {summary.run_id} stopped by {name}: the {counts.get('fetched', 0)} pages it staged "
              "are kept (ingest them with `gongkai ingest`); the next crawl resumes the rest", file=sys.stderr)
        return 128 + summary.signal
    if summary.status == "interrupted" and not summary.problems:
        # Stopped without a signal of ours (a distributed job's coordinator stopped): not a finished crawl.
        print(f"gongkai: crawl run {summary.run_id} was interrupted: what it staged is kept; the next crawl "
              "resumes the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    if ingest:
        ingest_and_report(url)
    for problem in summary.problems:
        print(f"gongkai: {problem}", file=sys.stderr)
    return EXIT_CRAWL_PROBLEM if summary.problems else 0


def ingest_and_report(url: str, workers: int = 1) -> Counter:
    from gongkai.ingest.run import ingest_parallel, ingest_pending

    if workers != 1:
        counts = ingest_parallel(url, workers or os.cpu_count() or 1)
    else:
        with connect(url) as conn:
            counts = ingest_pending(conn)
    shown = ", ".join(f"{value} {key}" for key, value in sorted(counts.items())) or "nothing pending"
    print(f"ingest: {shown}", file=sys.stderr)
    return counts
