"""Run one crawl of some listings in this process: record the run, crawl, stage, report.

Scrapy's Twisted reactor cannot be restarted, so a process runs one crawl; the daemon runs each
crawl as a subprocess of `gongkai crawl`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import psycopg
from scrapy.crawler import CrawlerProcess

from gongkai.crawler import frontier, runs
from gongkai.crawler.settings import DEFAULT_CONCURRENCY_PER_HOST, DEFAULT_DELAY, crawl_settings
from gongkai.crawler.spiders.listing import ListingSpider, UrlSet
from gongkai.errors import CrawlInputError
from gongkai.settings import get_settings
from gongkai.urls import host_key

logger = logging.getLogger(__name__)



@dataclass
class CrawlSummary:
    run_id: int
    status: str
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    # The signal that stopped the crawl (SIGINT, SIGTERM), if one did: the command exits 128 + it.
    signal: int | None = None


def validate_listing_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CrawlInputError(f"{url!r} is not an http(s) URL of a column listing page")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise CrawlInputError(f"{url!r}: bad port") from exc
    return url.strip()


def site_name(url: str) -> str:
    """Without a configured name, a site is known by its host[:port]."""
    return host_key(url)


def run_crawl(listing_urls: list[str], database_url: str, *, delay: float = DEFAULT_DELAY,
              concurrency_per_host: int = DEFAULT_CONCURRENCY_PER_HOST, progress: bool = False,
              sites: dict[str, str] | None = None, platforms: dict[str, str] | None = None,
              full: bool = False, revalidate: bool = False,
              overrides: dict[str, Any] | None = None, workers: int | None = None,
              wait: float = 0.0) -> CrawlSummary:
    """Crawl listings into staged_pages. `sites` maps listing URL -> site name (default: its host).

    Routine (default): articles already stored are not fetched again and paging stops at the first
    listing page holding only known articles. `full`: walk every listing page; articles that vanished
    from a completely walked listing are marked delisted. `revalidate`: re-check every stored article
    with a conditional request (If-None-Match / If-Modified-Since), so edits are caught cheaply.

    Before anything is fetched, the crawl takes the crawl lock of every host it lists (runs.lock_hosts) and
    holds it to its end: a host another crawl holds is ServiceBusy (exit 4) naming that crawl, or, with
    `wait` seconds, waited for.
    """
    from gongkai.crawler.distributed import redis_url_from_env

    redis_url = redis_url_from_env()  # set: distributed (gongkai/crawler/distributed/); `workers` local workers
    if workers is None:
        workers = get_settings().crawl_workers
    if not redis_url and workers not in (None, 1):
        raise CrawlInputError("--workers needs REDIS_URL: the workers share their frontier through Redis")
    if redis_url:
        from gongkai.crawler.distributed import check_redis

        check_redis(redis_url)
    urls = [validate_listing_url(u) for u in listing_urls]
    listings = [{"url": u, "site": (sites or {}).get(u) or site_name(u), "platform": (platforms or {}).get(u)}
                for u in urls]
    site_names = sorted({item["site"] for item in listings})
    # The crawl's lock session: its host locks live as long as it does (and as the process: the server ends
    # the session when the process dies), and crawl_runs.lock_backend names it.
    lock_conn = psycopg.connect(database_url, autocommit=True, application_name="gongkai crawl")
    try:
        runs.lock_hosts(lock_conn, [host_key(u) for u in urls], wait=wait)
        return _run_locked(listings, urls, site_names, database_url, lock_conn.info.backend_pid, redis_url,
                           delay=delay, concurrency_per_host=concurrency_per_host, progress=progress, full=full,
                           revalidate=revalidate, overrides=overrides, workers=workers)
    finally:
        lock_conn.close()  # the locks go with the session


def _run_locked(listings: list[dict[str, Any]], urls: list[str], site_names: list[str], database_url: str,
                lock_backend: int, redis_url: str | None, *, delay: float, concurrency_per_host: int,
                progress: bool, full: bool, revalidate: bool, overrides: dict[str, Any] | None,
                workers: int | None) -> CrawlSummary:
    """run_crawl, its hosts locked."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        runs.mark_dead_runs(conn)  # a killed crawl of these hosts is told apart from a live one (none is)
        # A listing whose last crawl did not end 'ok' (killed, database lost, pagination failed) may have
        # unstaged rows behind known ones, where a routine walk stops: walk all its pages this time.
        unfinished = runs.unfinished_listings(conn, urls)
        for item in listings:
            if item["url"] in unfinished:
                item["walk_all"] = True
                logger.warning("%s: its last crawl did not finish cleanly; walking every page", item["url"])
        run_id = runs.start_run(conn, urls, full, revalidate, lock_backend=lock_backend)
        logger.info("crawl run %d: %d listings on %d hosts (%s), %.2gs between requests to a host, at most %d at "
                    "once%s%s", run_id, len(urls), len({host_key(u) for u in urls}),
                    ", ".join(sorted({host_key(u) for u in urls})[:5]), delay, concurrency_per_host,
                    "; every listing page" if full else "", "; stored articles re-checked" if revalidate else "")
        frontier.settle_url_forms(conn, site_names)  # rows listed before every stage keyed by the wire form
        retry = frontier.retry_rows(conn, site_names)
        # Distributed: each worker reads it. Streamed into digests (UrlSet): a million stored URLs held
        # as a list of str would be ~150 MB for the whole crawl.
        known = UrlSet() if redis_url else UrlSet(frontier.known_entries(conn, site_names, stream=True))
        recheck = frontier.revalidate_rows(conn, site_names) if revalidate else []
    env_overrides = get_settings().crawl_overrides()
    settings = crawl_settings(database_url, run_id, delay=delay, concurrency_per_host=concurrency_per_host,
                              progress=progress, overrides={**env_overrides, **(overrides or {})})
    if redis_url:
        from gongkai.crawler.distributed import crawl_distributed

        outcome = crawl_distributed(redis_url, database_url, settings, listings=listings, retry=retry,
                                    revalidate=recheck, full=full, workers=1 if workers is None else workers)
        stats, problems, complete_columns = outcome.stats, outcome.problems, outcome.complete_columns
        crash = outcome.lost_workers  # a lost worker's listings may be incomplete: no delisting from them
    else:
        stats, problems, complete_columns, crash = _crawl_here(settings, listings, retry, known, recheck, full)
    raised = sum(int(v) for k, v in stats.items() if k.startswith("spider_exceptions/"))
    if raised:  # a callback that raised stopped whatever it was walking: the run must not end 'ok'
        problems.append(f"{raised} errors while reading pages (tracebacks in the log): what they held is "
                        "fetched by the next crawl")
    if stats.get("stage/unstaged") and stats.get("db/refused"):  # disk full: the server said why
        problems.append(f"the database could not store fetched pages ({stats['db/refused']}; is its disk "
                        f"full?): {stats['stage/unstaged']} fetched pages not staged, nothing marked done; the next "
                        "crawl fetches them again")
    elif stats.get("stage/unstaged"):
        problems.append(f"the database went away during the crawl: {stats['stage/unstaged']} fetched pages could "
                        "not be staged; the next crawl fetches them again")
    counts = {key.split("/", 1)[1]: int(value) for key, value in stats.items() if key.startswith("stage/")}
    counts["retried"] = int(stats.get("retry/count", 0))
    counts["robots_forbidden"] = int(stats.get("robotstxt/forbidden", 0))
    counts["requests"] = int(stats.get("downloader/request_count", 0))
    counts["listing_pages"] = int(stats.get("listing/pages", 0))
    status = "failed" if problems else "ok"
    if not crash and stats.get("finish_reason") != "finished":  # None: stopped by a second signal
        status = "interrupted"
    try:
        if full and not crash and not stats.get("stage/unstaged"):
            # Withdrawing their reports is the caller's (gongkai.app.crawl): the crawler never writes reports.
            counts["delisted"] = len(mark_delisted(database_url, run_id, sorted(complete_columns)))
        with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
            runs.finish_run(conn, run_id, status, {**counts, "finish_reason": stats.get("finish_reason"),
                                                   "engine_seconds": stats.get("elapsed_time_seconds")},
                            "\n".join(problems) or None)
    except psycopg.OperationalError as exc:
        from gongkai.db import DatabaseError, redact

        lost = f"{stats.get('stage/unstaged', 0)} fetched pages not staged (the next crawl fetches them again)"
        raise DatabaseError(f"the database {redact(database_url)} went away during crawl run {run_id}: {lost}: "
                            f"{(str(exc).strip().splitlines() or [exc.__class__.__name__])[0]}") from exc
    logger.info("crawl run %d %s after %.1fs: %d requests, %d listing pages, %d articles listed, %d staged, "
                "%d retries", run_id, status, float(stats.get("elapsed_time_seconds") or 0), counts["requests"],
                counts["listing_pages"], int(counts.get("listed", 0)), int(counts.get("fetched", 0)), counts["retried"])
    stopped_by = stats.get("shutdown/signal")
    return CrawlSummary(run_id=run_id, status=status, problems=problems, counts=counts,
                        signal=int(stopped_by) if stopped_by else None)


def _crawl_here(settings: dict[str, Any], listings: list[dict[str, Any]], retry: list[dict[str, Any]],
                known: UrlSet, recheck: list[dict[str, Any]], full: bool):
    """The single-process crawl: (stats, problems, complete columns, crash messages)."""
    root_level = logging.root.level
    process = CrawlerProcess(settings)
    logging.root.setLevel(root_level)  # Scrapy resets it; the CLI's choice stands
    crawler = process.create_crawler(ListingSpider)
    crash: list[str] = []

    def crawl_crashed(failure):  # an exception inside Scrapy itself: the run failed, say why
        crash.append(f"crawl crashed: {failure.type.__name__}: {failure.value}")
        logger.error("crawl crashed", exc_info=(failure.type, failure.value, failure.getTracebackObject()))

    process.crawl(crawler, listings=listings, retry=retry, known=known, revalidate=recheck,
                  full=full).addErrback(crawl_crashed)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    spider = crawler.spider
    problems = crash + [p.reason for p in getattr(spider, "problems", [])]
    return stats, problems, set(getattr(spider, "complete_columns", set())), crash


def mark_delisted(database_url: str, run_id: int, complete_columns: list[str]) -> list[str]:
    """Articles a complete walk of their listing no longer shows: delisted (gongkai.crawler.frontier). Their
    URLs are returned: withdrawing the reports none of whose URLs is listed any more is the caller's
    (gongkai.ingest.store.withdraw_reports_of, in gongkai.app.crawl)."""
    if not complete_columns:
        return []
    with psycopg.connect(database_url) as conn:
        return frontier.mark_delisted(conn, run_id, complete_columns)
