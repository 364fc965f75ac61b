"""`gongkai crawl --site NAME / --all`: one crawl of configured sites, now.

Their listings, names, platforms, delay and concurrency come from the sites file. The service runs
each scheduled crawl as this command in a subprocess (app/serve/jobs.py); such a child stops when
the service dies (`_die_with_parent`).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time

from gongkai.app.crawl import crawl_and_ingest
from gongkai.app.locks import lock_sites
from gongkai.app.sites import sync_sites
from gongkai.config import SiteConfig, load_config
from gongkai.errors import EXIT_BUSY, ConfigError, UserError
from gongkai.settings import get_settings

logger = logging.getLogger("gongkai.serve")


def crawl_configured(args: argparse.Namespace) -> int:
    """Crawl configured sites: their listings, names, platforms, delay and concurrency from the config."""
    from gongkai.crawler.settings import DEFAULT_CONCURRENCY_PER_HOST, DEFAULT_DELAY
    from gongkai.db import open_database

    if args.urls:
        raise UserError("give listing URLs or --site/--all, not both")
    try:
        config = load_config(args.config)
        sites = list(config.sites) if args.all_sites else [config.site(n) for n in dict.fromkeys(args.sites)]
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    if not sites:
        raise UserError(f"{config.path}: no sites configured")
    sites = with_columns(sites, every=args.all_sites)
    _die_with_parent()
    url, conn = open_database()
    try:
        conn.autocommit = True
        sync_sites(conn, sites)
        busy = lock_sites(conn, [s.name for s in sites])
        if busy:
            raise UserError(f"site {', '.join(busy)} is being crawled already (by another process); not starting "
                           "a second crawl", EXIT_BUSY)
        delays = [s.delay for s in sites if s.delay is not None]
        concurrencies = [s.concurrency for s in sites if s.concurrency is not None]
        # One process, one politeness setting: the most polite of the sites crawled together.
        delay = args.delay if args.delay is not None else max(delays, default=DEFAULT_DELAY)
        concurrency = (args.concurrency if args.concurrency is not None
                       else min(concurrencies, default=DEFAULT_CONCURRENCY_PER_HOST))
        if concurrency < 1:
            raise UserError("--concurrency must be at least 1")
        names = {u: s.name for s in sites for u in s.listings}
        platforms = {u: s.platform for s in sites for u in s.listings if s.platform}
        return crawl_and_ingest(list(names), delay=delay, concurrency=concurrency, ingest=not args.no_ingest,
                                workers=getattr(args, "workers", None), wait=getattr(args, "wait", 0.0),
                                full=args.full, revalidate=args.revalidate, sites=names, platforms=platforms,
                                result_file=args.result_file)
    finally:
        conn.close()


def no_column_yet(site: SiteConfig) -> str:
    """What to say of a site with no report column: how to find them."""
    return f"site {site.name} has no report column yet: run gongkai discover {site.home or site.name} --add"


def with_columns(sites: list[SiteConfig], every: bool) -> list[SiteConfig]:
    """The sites that have report columns to crawl. A county known only by its home page has none until
    `gongkai discover` finds them: --all skips such sites with a count, --site names each; a crawl with
    nothing left to crawl is a one-line error."""
    empty = [s for s in sites if not s.listings]
    left = [s for s in sites if s.listings]
    if not empty:
        return left
    if not left:
        if len(empty) == 1:
            raise UserError(no_column_yet(empty[0]))
        raise UserError(f"none of the {len(empty)} sites has a report column yet: run gongkai discover SITE --add "
                        "for each (it finds them from the site's home page)")
    if every:
        print(f"crawl: {len(empty)} of {len(sites)} sites have no report column yet (skipped; gongkai discover "
              "SITE --add finds them)", file=sys.stderr)
    else:
        for site in empty:
            print(f"crawl: {no_column_yet(site)} (skipped)", file=sys.stderr)
    return left


def _die_with_parent() -> None:
    """A crawl started by `serve` stops if the service dies, even by kill -9.

    A watchdog thread sees the parent go (getppid changes) and sends this process SIGTERM: Scrapy's
    graceful stop, which stages what was fetched and records the run 'interrupted'. If that takes
    longer than the service's shutdown_timeout, a second SIGTERM forces it. (PR_SET_PDEATHSIG was
    tried first: it fires again whenever a subreaper that adopted the orphan exits, and that second
    signal aborts the graceful stop.)
    """
    settings = get_settings()
    parent = settings.parent_pid
    if not parent:
        return
    grace = settings.shutdown_timeout

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        logger.warning("the service that started this crawl is gone: stopping gracefully")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="gongkai-parent-watch", daemon=True).start()


def configured_sites_of(urls: list[str], config_arg: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """`gongkai crawl URL` of a listing the sites file names: the crawl files its reports under that site
    (and its region), not under host:port. Returns (url -> site name, url -> platform); empty when there is
    no sites file (a named one must load)."""
    from gongkai.config import config_path
    from gongkai.db import open_database

    path = config_path(config_arg)
    if not config_arg and not path.exists():
        return {}, {}
    try:
        config = load_config(path)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    matched = {u: s for u in urls for s in config.sites if u in s.listings}
    if matched:
        _, conn = open_database()
        with conn:
            sync_sites(conn, list({s.name: s for s in matched.values()}.values()))
    return ({u: s.name for u, s in matched.items()},
            {u: s.platform for u, s in matched.items() if s.platform})
