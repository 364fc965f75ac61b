"""The `gongkai` command: crawl, ingest, export, demo.

Errors the user can fix are one line on stderr and a non-zero exit: 2 for bad input, 3 for the
database, 1 for a crawl that could not read some listing.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from gongkai import __version__
from gongkai.app.crawl import crawl_and_ingest, ingest_and_report
from gongkai.app.db_cmd import add_db_parser, db_command
from gongkai.app.discover import add_discover_parser, run_discover
from gongkai.app.extract_cmd import add_extract_parser, extract_command
from gongkai.app.show import add_show_parser, show_command
from gongkai.app.web import add_web_parser, cmd_web
from gongkai.db import open_database
from gongkai.errors import EXIT_DATABASE, GongkaiError, UserError
from gongkai.logs import configure_logging

CliError = UserError  # the name the entry points raise it by


def _positive_float(text: str) -> float:
    value = _nonnegative_float(text)
    if value == 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: must be a positive number of seconds")
    return value


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError(f"{text!r}: must be 0 or more seconds")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be 0 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gongkai", description="Collect 计划总结 disclosure reports into PostgreSQL.")
    parser.add_argument("--version", action="version", version=f"gongkai {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    crawl = sub.add_parser("crawl", help="crawl column listing URLs, stage every page, then ingest")
    crawl.add_argument("urls", nargs="*", metavar="URL", help="column listing page, e.g. http://host/col/col123/index.html")
    crawl.add_argument("--site", action="append", dest="sites", default=[], metavar="NAME",
                       help="crawl this configured site (repeatable): listings, delay etc. from the config")
    crawl.add_argument("--all", action="store_true", dest="all_sites", help="crawl every configured site")
    crawl.add_argument("--config", help="sites file (default $GONGKAI_CONFIG or config/sites.yaml)")
    crawl.add_argument("--delay", type=_nonnegative_float, default=None,
                       help="seconds between requests to one host (default 1.0)")
    crawl.add_argument("--no-ingest", action="store_true", help="only fetch and stage; ingest later")
    crawl.add_argument("--full", action="store_true",
                       help="walk every listing page (default: stop at the first page with nothing new)")
    crawl.add_argument("--revalidate", action="store_true",
                       help="re-check stored articles with conditional requests to catch edits")
    crawl.add_argument("--concurrency", type=_nonnegative_int, default=None,
                       help="concurrent requests per host (default 2)")
    crawl.add_argument("--workers", type=_nonnegative_int, default=None,
                       help="crawl processes sharing one frontier (needs REDIS_URL; default 1)")
    crawl.add_argument("--wait", type=_nonnegative_float, default=0.0, metavar="SECONDS",
                       help="if another crawl holds a host of these listings, wait up to this long for it "
                            "(default: exit 4 at once, naming that crawl)")
    crawl.add_argument("--join", action="store_true",
                       help="be a crawl worker: work on the distributed crawls announced in REDIS_URL, until stopped")
    crawl.add_argument("--result-file", metavar="PATH", help=argparse.SUPPRESS)  # `serve` reads the run's result there

    ingest = sub.add_parser("ingest", help="turn staged pages not yet ingested into reports")
    ingest.add_argument("--workers", type=_nonnegative_int, default=1,
                        help="worker processes sharing the queue (default 1; 0 = one per core)")

    reingest = sub.add_parser("reingest", help="re-extract every staged page with the current extractor")
    reingest.add_argument("--site", help="only this site")

    export = sub.add_parser(
        "export", help="write reports to stdout (or --output FILE): JSON lines or CSV, in change order",
        description="Write every stored report (the columns of the public_reports view: text, metadata, URLs, "
                    "period, kinds, region) to standard output, one JSON object per line (--format jsonl) or "
                    "as CSV with a UTF-8 byte order mark so Excel shows the Chinese. Reports come in change "
                    "sequence (seq) order; the last seq written is printed on stderr: pass it to --since next "
                    "time to get only what changed.")
    export.add_argument("--format", choices=["jsonl", "csv", "parquet"], default="jsonl",
                        help="jsonl (default), csv, or parquet (typed columns, zstd row groups)")
    export.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
    export.add_argument("--since", type=_nonnegative_int, default=0, metavar="SEQ",
                        help="only reports changed after this change sequence number")
    export.add_argument("--site", action="append", dest="sites", metavar="NAME", help="only this site (repeatable)")
    export.add_argument("--year", action="append", dest="years", type=_nonnegative_int, metavar="YEAR",
                        help="only reports about this year (the period the title names; repeatable)")
    export.add_argument("--kind", action="append", dest="kinds", choices=["总结", "计划", "思路"],
                        help="only summaries, plans or 思路 (repeatable)")
    export.add_argument("--county", action="append", dest="counties", metavar="COUNTY",
                        help="only this county, e.g. 仙居县 (repeatable)")
    export.add_argument("--query", metavar="TEXT", help="only reports whose title or body contains TEXT")
    export.add_argument("--no-bom", action="store_true", help="CSV without the UTF-8 byte order mark")

    demo = sub.add_parser("demo", help="serve the bundled replica portals on loopback, crawl and ingest them")
    demo.add_argument("--delay", type=_nonnegative_float, default=0.2, help="per-host delay (default 0.2)")

    serve = sub.add_parser("serve", help="run the scheduler: crawl configured sites on schedule, ingest, serve "
                                         "/healthz and /metrics, until SIGTERM")
    serve.add_argument("--config", help="sites file (default $GONGKAI_CONFIG or config/sites.yaml)")
    serve.add_argument("--role", choices=("scheduler", "crawler", "ingest"), default="scheduler",
                       help="scheduler (default): schedule crawls and ingest; crawler: work on the distributed "
                            "crawls announced in REDIS_URL; ingest: ingest staged pages as they arrive")
    serve.add_argument("--interval", type=_positive_float, default=5.0,
                       help="--role ingest: seconds between looks at the staging table when it is empty (default 5)")
    status = sub.add_parser("status", help="per site: last success, last failure and why, reports, next run")
    status.add_argument("--config", help="sites file (default $GONGKAI_CONFIG or config/sites.yaml)")

    sites = sub.add_parser("sites", help="list configured sites, or add one by its listing URL")
    sites_sub = sites.add_subparsers(dest="sites_command", required=True)
    sites_add = sites_sub.add_parser("add", help="detect the platform of a listing URL and add it to the config")
    sites_add.add_argument("url", metavar="URL", help="column listing page, e.g. http://host/col/col123/index.html")
    sites_add.add_argument("--name", help="site name (default: from the host)")
    sites_add.add_argument("--config", help="sites file (default $GONGKAI_CONFIG or config/sites.yaml)")
    sites_list = sites_sub.add_parser("list", help="show configured sites")
    sites_list.add_argument("--config", help="sites file (default $GONGKAI_CONFIG or config/sites.yaml)")
    add_db_parser(sub)
    add_extract_parser(sub)
    add_show_parser(sub)
    add_discover_parser(sub)
    add_web_parser(sub)
    for name, command in sub.choices.items():
        command.formatter_class = argparse.RawDescriptionHelpFormatter
        if not command.description and name in DESCRIPTIONS:
            command.description = DESCRIPTIONS[name]
        command.epilog = HELP_EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = HELP_EPILOG
    return parser


DESCRIPTIONS = {
    "crawl": "Crawl column listing pages (URLs given, or sites from the config with --site/--all): walk each "
             "listing politely (robots.txt, per-host delay and concurrency, backoff on 429/5xx), stage every "
             "article page in the database, then ingest them into reports. Routine crawls fetch only what is new.",
    "ingest": "Turn the staged pages not yet ingested into reports: decode, extract, deduplicate, store. "
              "Idempotent; several may run at once.",
    "reingest": "Re-extract the latest staged page of every URL (or one site's) with the current extractor, "
                "without crawling; a report changes (with a new version) only where its text did.",
    "demo": "Serve the bundled replica portals on loopback addresses, crawl and ingest them, and show what was "
            "stored: the main job, offline.",
    "serve": "Run the daemon: crawl every configured site on its schedule, ingest after each crawl and on an "
             "interval, and serve /healthz and /metrics, until SIGTERM. --role crawler/ingest run the workers "
             "of a distributed deployment.",
    "status": "Per site: last success, last failure and why, reports stored, next run; whether the service "
              "is up. Read from the database only.",
    "sites": "List the configured sites, or add one by its listing URL (the platform is detected).",
    "web": "Serve the reports to readers: search (any Chinese text, with filters), report pages with their "
           "versions, diff and a cite line, site pages, and a JSON API (/api/reports, OpenAPI at "
           "/api/openapi.json); read-only, on this machine only unless --host says otherwise.",
}


def _epilog() -> str:
    from gongkai.settings import VARIABLES

    env = "\n".join(f"  {v.name:<26} {v.help}" for v in VARIABLES if not v.internal)
    return (f"environment:\n{env}\n\n"
            "exit codes:\n  0 done;  1 some listing or portal could not be read (one gongkai: line each);\n"
            "  2 bad input (URL, option, config);  3 database or Redis unreachable;  4 busy (another process\n"
            "  holds the lock);  130/143 stopped by Ctrl-C/SIGTERM")


HELP_EPILOG = _epilog()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    from gongkai.db import DatabaseError

    try:
        return COMMANDS[args.command](args)
    except GongkaiError as exc:
        print(f"gongkai: {exc}", file=sys.stderr)
        return exc.code
    except DatabaseError as exc:  # psycopg-level failures the db module did not wrap
        print(f"gongkai: {exc}", file=sys.stderr)
        return EXIT_DATABASE
    except KeyboardInterrupt:
        print("gongkai: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _reader_went_away()


def _reader_went_away() -> int:
    """`gongkai export | head -1`: the reader closed the pipe. End quietly, as `yes | head` does (128 +
    SIGPIPE); point stdout at /dev/null so the interpreter's final flush does not raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + signal.SIGPIPE


def cmd_crawl(args: argparse.Namespace) -> int:
    from gongkai.crawler.run import CrawlInputError, validate_listing_url
    from gongkai.crawler.settings import DEFAULT_DELAY

    if args.join or args.workers is not None:
        from gongkai.crawler.distributed import crawl_workers_option

        if args.join:
            return crawl_workers_option(args, join=True)
        crawl_workers_option(args)  # checks REDIS_URL
    if args.sites or args.all_sites:
        from gongkai.app.crawl_sites import crawl_configured

        return crawl_configured(args)
    if not args.urls:
        raise CliError("give listing URLs to crawl, or --site NAME / --all to crawl sites from the config")
    try:
        urls = [validate_listing_url(u) for u in args.urls]
    except CrawlInputError as exc:
        raise CliError(str(exc)) from None
    concurrency = 2 if args.concurrency is None else args.concurrency
    if concurrency < 1:
        raise CliError("--concurrency must be at least 1")
    delay = DEFAULT_DELAY if args.delay is None else args.delay
    from gongkai.app.crawl_sites import configured_sites_of

    names, platforms = configured_sites_of(urls, args.config)
    return crawl_and_ingest(urls, delay=delay, concurrency=concurrency, ingest=not args.no_ingest,
                            full=args.full, revalidate=args.revalidate, result_file=args.result_file,
                            workers=args.workers, sites=names, platforms=platforms, wait=args.wait)


def cmd_ingest(args: argparse.Namespace) -> int:
    url, conn = open_database()
    conn.close()
    ingest_and_report(url, args.workers)
    return 0


def cmd_reingest(args: argparse.Namespace) -> int:
    from gongkai.ingest.run import queue_reingest

    url, conn = open_database()
    with conn:
        queued = queue_reingest(conn, args.site)
    if args.site and not queued:
        raise CliError(f"no staged pages for site {args.site!r}")
    print(f"reingest: {queued} pages queued", file=sys.stderr)
    ingest_and_report(url)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from gongkai.app.export import export_command

    return export_command(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from gongkai.app.demo import run_demo

    return run_demo(delay=args.delay)


def cmd_serve(args: argparse.Namespace) -> int:
    if args.role != "scheduler":
        from gongkai.app.roles import serve_role

        return serve_role(args)
    from gongkai.app.serve import serve_command

    return serve_command(args)


def cmd_status(args: argparse.Namespace) -> int:
    from gongkai.app.status import status_command

    return status_command(args)


def cmd_sites(args: argparse.Namespace) -> int:
    from gongkai.app.sites_cmd import sites_command

    return sites_command(args)


COMMANDS = {"web": cmd_web, "extract": extract_command, "show": show_command, "db": db_command, "discover": run_discover, "crawl": cmd_crawl, "ingest": cmd_ingest, "reingest": cmd_reingest, "export": cmd_export,
            "demo": cmd_demo, "serve": cmd_serve, "status": cmd_status, "sites": cmd_sites}
