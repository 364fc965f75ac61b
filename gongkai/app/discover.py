"""`gongkai discover URL [--add] [--config PATH] [--json]`: find a county portal's township report columns.

From the portal's home page (or its 政务公开 page) the walk follows the portal's own disclosure
navigation, as a reader clicks it: 政务公开 › 信息公开目录 › 乡镇（街道） › each town › its column tree
(规划计划 › 计划总结 …), through plain links, the xxgk tree's iframe and jpaas pages' unitbuild widgets
(gongkai.crawler.discovery reads each page). Every candidate column is fetched once: the listing
platform that takes it (gongkai.crawler.platforms.detect_platform) reads its rows, at most
MAX_LISTING_REQUESTS requests of them, for the row count and the newest date. A column counts when its
name says 计划总结/工作计划/工作总结/… (never when it says 政策文件, 政府工作报告, 年报, 财政预决算 …), or,
under a name that says nothing (其他文件, 规划计划 used as a list), when at least half of its rows read as
work plans and summaries.

Politeness is the crawl's (gongkai.crawler.polite): robots.txt, our User-Agent, `--delay` between two
requests to the host, and at most `--max-pages` requests per portal. `--add` merges what was found into
the sites file as text, into the site whose `home` is on the portal's host (every Zhejiang county has one in
config/sites.yaml): comments and entries stay, a listing already there is not added twice. discover_site()
is the same for a caller (serve's discovery schedule): walk one site's portal, merge, say what was added,
moved and not found.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gongkai.app.sites_cmd import default_name
from gongkai.app.sites_file import with_listings, write_validated
from gongkai.config import SiteConfig, config_path, load_config
from gongkai.crawler import discovery as nav
from gongkai.crawler.platforms import UnsupportedListing, detect_platform
from gongkai.crawler.polite import Fetched, PageBudgetExhausted, PoliteFetcher, RobotsDisallowed
from gongkai.crawler.settings import DEFAULT_DELAY
from gongkai.errors import ConfigError, GongkaiError, PortalUnreadable, UserError
from gongkai.ingest.decode import decode_html
from gongkai.urls import host_key

DEFAULT_MAX_PAGES = 400  # requests per portal: a county of 25 towns with 8 columns each fits
MAX_LISTING_REQUESTS = 6  # requests to read one candidate column's rows (its page and 5 more)
MAX_PORTAL_DEPTH = 4  # home › 政务公开 › 信息公开目录 › 乡镇（街道） › (towns)
MAX_TOWN_DEPTH = 3  # town › 法定主动公开内容 › 工作信息 › 计划总结
MAX_WIDGETS = 4  # jpaas navigation widgets fetched per page
MAX_FRAMES = 2  # iframes fetched per page


@dataclass
class ReportColumn:
    town: str
    name: str
    url: str
    platform: str
    rows: int
    newest: str | None
    moved_from: str | None = None
    by: str = "name"  # or "rows": its name said nothing, its rows did


@dataclass
class Discovery:
    start_url: str
    site_name: str | None = None
    county: str | None = None
    columns: list[ReportColumn] = field(default_factory=list)
    towns: list[str] = field(default_factory=list)
    pages: int = 0
    requests: int = 0
    seconds: float = 0.0
    complete: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def towns_without(self) -> list[str]:
        have = {c.town for c in self.columns}
        return [t for t in self.towns if t not in have]


@dataclass
class _Task:
    kind: str  # portal | town | column
    url: str
    depth: int
    town: str = ""
    name: str = ""
    moved_from: str | None = None


class _Walk:
    def __init__(self, start_url: str, fetcher: PoliteFetcher) -> None:
        self.fetcher = fetcher
        self.result = Discovery(start_url=start_url)
        self.host = host_key(start_url).removeprefix("www.")
        self.queued: set[str] = set()
        self.portal_links: set[str] = set()  # links of the county's own pages: never a town's column
        self.done_columns: set[str] = set()
        self.tasks: deque[_Task] = deque()

    # -- fetching ------------------------------------------------------------------------------------
    def fetch(self, url: str, headers: dict[str, str] | None = None, form: dict[str, str] | None = None) -> Fetched:
        return self.fetcher.post(url, form, headers) if form is not None else self.fetcher.get(url, headers)

    def page(self, url: str) -> tuple[str, str, str | None] | None:
        """(final URL, text, moved-from) of an HTML page, or None (noted) when it cannot be read."""
        try:
            got = self.fetch(url)
        except RobotsDisallowed as exc:
            self.result.notes.append(str(exc))
            return None
        except PortalUnreadable as exc:
            self.result.notes.append(str(exc))
            return None
        if got.status != 200:
            self.result.notes.append(f"{url}: HTTP {got.status}")
            return None
        return got.url, decode_html(got.body, got.content_type), got.redirected_from

    def on_site(self, url: str) -> bool:
        return host_key(url).removeprefix("www.") == self.host

    def links(self, text: str, url: str) -> list[nav.NavLink]:
        """The page's links, those its iframes (the xxgk tree) and jpaas navigation widgets hold too."""
        found = [link for link in nav.page_links(text, url) if self.on_site(link.url)]
        out = [link for link in found if not link.frame]
        frames = [link for link in found if link.frame and not re.search(r"visitcount|\.(?:js|css)$", link.url)]
        for frame in frames[:MAX_FRAMES]:
            got = self.page(frame.url)
            if got:
                out += [link for link in nav.page_links(got[1], got[0]) if self.on_site(link.url) and not link.frame]
        for widget in nav.jpaas_widgets(text, url)[:MAX_WIDGETS]:
            try:
                answer = self.fetch(widget.url, dict(widget.headers))
            except (RobotsDisallowed, PortalUnreadable) as exc:
                self.result.notes.append(str(exc))
                continue
            fragment = nav.jpaas_widget_html(decode_html(answer.body, answer.content_type)) if answer.status == 200 else None
            if fragment:
                out += [link for link in nav.page_links(fragment, url) if self.on_site(link.url)]
        return out

    def queue(self, task: _Task) -> None:
        key = f"{task.kind}:{nav.column_key(task.url)}"
        if key not in self.queued:
            self.queued.add(key)
            self.tasks.append(task)

    # -- the walk ------------------------------------------------------------------------------------
    def run(self) -> Discovery:
        started = time.monotonic()
        try:
            self.start()
            while self.tasks:
                task = self.tasks.popleft()
                if task.kind == "portal":
                    self.portal(task)
                elif task.kind == "town":
                    self.town(task)
                else:
                    self.column(task)
        except PageBudgetExhausted:
            self.result.complete = False
        order = {town: n for n, town in enumerate(self.result.towns)}
        self.result.columns.sort(key=lambda c: order.get(c.town, len(order)))
        self.result.pages, self.result.requests = self.fetcher.pages, self.fetcher.requests
        self.result.seconds = time.monotonic() - started
        return self.result

    def start(self) -> None:
        url = self.result.start_url
        try:
            got = self.fetch(url)
        except RobotsDisallowed as exc:
            raise PortalUnreadable(str(exc)) from None
        if got.status != 200:
            raise PortalUnreadable(f"{url}: HTTP {got.status}: not a portal page we can read")
        text = decode_html(got.body, got.content_type)
        self.result.site_name = nav.site_name(text)
        self.result.county = nav.county_of(self.result.site_name)
        self.queued.add(f"portal:{nav.column_key(got.url)}")
        self.portal(_Task("portal", got.url, 0), text)
        if not self.tasks:
            raise PortalUnreadable(f"{url}: no disclosure navigation found (no link named 政务公开, 信息公开目录, "
                                   "乡镇（街道） or a town)")

    def portal(self, task: _Task, text: str | None = None) -> None:
        if text is None:
            got = self.page(task.url)
            if got is None:
                return
            task.url, text = got[0], got[1]
        links = self.links(text, task.url)
        self.portal_links.update(nav.column_key(link.url) for link in links)
        for link in links:
            town = nav.town_of(link.text)
            if town:
                if town not in self.result.towns:
                    self.result.towns.append(town)
                self.queue(_Task("town", link.url, 0, town=town))
            elif task.depth < MAX_PORTAL_DEPTH and (nav.is_disclosure(link.text) or nav.is_unit_list(link.text)):
                self.queue(_Task("portal", link.url, task.depth + 1))

    def town(self, task: _Task, text: str | None = None) -> None:
        if text is None:
            got = self.page(task.url)
            if got is None:
                return
            task.url, text = got[0], got[1]
        own = nav.column_key(task.url)
        for link in self.links(text, task.url):
            key = nav.column_key(link.url)
            if key == own or (key in self.portal_links and not nav.REPORT_NAME.search(link.text)):
                continue
            kind = nav.column_kind(link.text)
            if kind in ("report", "unknown", "container"):
                self.queue(_Task("column", link.url, task.depth, town=task.town, name=link.text))

    def column(self, task: _Task) -> None:
        got = self.page(task.url)
        if got is None:
            return
        url, text, moved = got
        moved = task.moved_from or moved
        key = nav.column_key(url)
        if key in self.done_columns:
            return
        self.done_columns.add(key)
        kind = nav.column_kind(task.name)
        try:
            platform = detect_platform(text, url)
        except UnsupportedListing:
            platform = None
        if platform is None:
            target = nav.moved_to(text, url)
            if target and self.on_site(target):
                self.queue(_Task("column", target, task.depth, town=task.town, name=task.name, moved_from=url))
            elif task.depth < MAX_TOWN_DEPTH:  # a group page (规划计划) listing its own columns
                self.town(_Task("town", url, task.depth + 1, town=task.town), text)
            return
        rows, newest, titles = self.read_rows(platform, text, url)
        if kind == "container" and task.depth < MAX_TOWN_DEPTH:
            self.town(_Task("town", url, task.depth + 1, town=task.town), text)
        if kind == "report":
            by = "name"
        elif nav.rows_look_like_reports(titles):
            by = "rows"
        else:
            return
        self.result.columns.append(ReportColumn(town=task.town, name=nav.norm(task.name), url=url,
                                                platform=platform.NAME, rows=rows, newest=newest,
                                                moved_from=moved if moved and moved != url else None, by=by))

    def read_rows(self, platform: Any, text: str, url: str) -> tuple[int, str | None, list[str]]:
        """(rows, newest date, titles read) of a column: its total where the page says it, else the rows of
        at most MAX_LISTING_REQUESTS pages (a longer column counts what those held, noted)."""
        titles: list[str] = []
        dates: list[str] = []
        seen: set[str] = set()
        total = None
        try:
            page = platform.parse_listing_page(text, url)
            for n in range(MAX_LISTING_REQUESTS):
                total = page.total if page.total is not None else total
                for record in page.records:
                    if record.url not in seen:
                        seen.add(record.url)
                        titles.append(record.title)
                        if record.date:
                            dates.append(record.date)
                if page.next is None or (total is not None and titles):
                    break
                if n == MAX_LISTING_REQUESTS - 1:
                    self.result.notes.append(f"{url}: rows counted on its first {MAX_LISTING_REQUESTS} pages only")
                    break
                request = page.next
                got = self.fetch(request.url, request.headers,
                                 request.formdata if request.method.upper() == "POST" else None)
                if got.status != 200:
                    self.result.notes.append(f"{request.url}: HTTP {got.status} while counting rows")
                    break
                page = platform.parse_continuation(decode_html(got.body, got.content_type), request.url,
                                                   request.state)
        except (UnsupportedListing, ValueError) as exc:
            self.result.notes.append(f"{url}: {exc}")
        except (RobotsDisallowed, PortalUnreadable) as exc:
            self.result.notes.append(str(exc))
        rows = total if total is not None else len(seen)
        return rows, (max(dates) if dates else None), titles


def discover(url: str, *, delay: float = DEFAULT_DELAY, max_pages: int = DEFAULT_MAX_PAGES,
             fetcher: PoliteFetcher | None = None) -> Discovery:
    """Walk one county portal from `url`; raises PortalUnreadable when its first page cannot be read."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"{url!r} is not an http(s) URL of a portal's home or 政务公开 page")
    return _Walk(url, fetcher or PoliteFetcher(delay=delay, max_pages=max_pages)).run()


# -- --add: merging into the sites file ----------------------------------------------------------------

@dataclass
class Merged:
    """What `--add` (or serve's discovery) did to the sites file for one portal."""

    site: str  # the site the columns went to (or that would have got them)
    added: list[ReportColumn] = field(default_factory=list)
    # The site's configured listings the walk did not find (vanished columns; or columns no town's
    # navigation links, such as a 部门 column added by hand). Empty when the walk stopped at its bound.
    vanished: list[str] = field(default_factory=list)
    moved: dict[str, str] = field(default_factory=dict)  # a configured listing -> where it moved to
    new_site: bool = False
    platform_set: str | None = None  # the site's platform line as written ("" for detected per page)
    found: Discovery | None = None


def _host(url: str) -> str:
    return nav.column_key(url).split("/")[0]


def site_for(sites: list[SiteConfig] | tuple[SiteConfig, ...], url: str) -> SiteConfig | None:
    """The configured site of a portal: the one whose home is on its host, else one listing its host's columns
    (a county-wide one, not one town's, first)."""
    host = _host(url)
    by_home = [s for s in sites if s.home and _host(s.home) == host]
    if by_home:
        return by_home[0]
    on_host = [s for s in sites if any(_host(u) == host for u in s.listings)]
    return next((s for s in on_host if s.region.town is None), on_host[0] if on_host else None)


MERGING = threading.Lock()  # one read-modify-write of a sites file at a time in this process (serve's threads)


def merge_into_sites(config_file: Path, found: Discovery) -> Merged:
    """Add the columns found that no site lists yet to the site of the portal (site_for), or to a new site
    named after the host. Text edits only (comments and layout stay); the result is validated and the file
    restored if it would not load. A site whose platform was unknown gets the one its columns share; one
    whose columns turn out to be on two platforms has each detected per page."""
    with MERGING:
        return _merge(config_file, found)


def _merge(config_file: Path, found: Discovery) -> Merged:
    """The work of merge_into_sites, under its lock."""
    original = config_file.read_text(encoding="utf-8") if config_file.exists() else ""
    config = load_config(config_file) if original.strip() else None
    sites = list(config.sites) if config else []
    site = site_for(sites, found.start_url)
    known = {nav.column_key(u) for s in sites for u in s.listings}
    new: list[ReportColumn] = []
    for column in found.columns:
        key = nav.column_key(column.url)
        if key not in known:
            known.add(key)
            new.append(column)
    merged = Merged(site=site.name if site else "", added=new, found=found, new_site=site is None)
    if site is not None:
        keys = {nav.column_key(c.url): c for c in found.columns}
        moved = {nav.column_key(c.moved_from): c.url for c in found.columns if c.moved_from}
        for url in site.listings:
            key = nav.column_key(url)
            if key in moved:
                merged.moved[url] = moved[key]
            elif key not in keys and found.complete:
                merged.vanished.append(url)
    if not new:
        return merged
    if site is None:
        merged.site = default_name(found.start_url, {s.name for s in sites})
        text = _with_new_site(original, merged.site, found, new)
        merged.platform_set = _one_platform(new)
    else:
        text, merged.platform_set = _with_columns(original, config_file, site, found, new)
    write_validated(config_file, original, text)
    return merged


def _one_platform(columns: list[ReportColumn]) -> str | None:
    platforms = {c.platform for c in columns}
    return platforms.pop() if len(platforms) == 1 else None


def _listing_line(indent: int, column: ReportColumn) -> str:
    note = f"{column.town} {column.name}".strip()
    return f"{' ' * indent}- {column.url}   # {note} (discovered)\n"


def _with_columns(original: str, config_file: Path, site: SiteConfig, found: Discovery,
                  new: list[ReportColumn]) -> tuple[str, str | None]:
    """The file's text with `new` added to `site`'s listings (and its home and platform where it lacked them)."""
    platforms = {c.platform for c in new}
    set_lines: dict[str, str] = {}
    platform_set = None
    if site.platform is None and not site.listings and len(platforms) == 1:
        platform_set = next(iter(platforms))
        set_lines["platform"] = f"platform: {platform_set}   # detected by gongkai discover"
    elif site.platform is not None and platforms - {site.platform}:
        platform_set = ""
        set_lines["platform"] = (f"# platform: detected per page (it said {site.platform}; gongkai discover found "
                                 f"{', '.join(sorted(platforms))} columns)")
    if site.home is None:
        set_lines["home"] = f"home: {found.start_url}   # where gongkai discover started"
    items = [f"{c.url}   # {f'{c.town} {c.name}'.strip()} (discovered)" for c in new]
    return with_listings(original, config_file, site, items, set_lines), platform_set


def _with_new_site(original: str, name: str, found: Discovery, new: list[ReportColumn]) -> str:
    text = original
    if not re.search(r"^sites:\s*(\[\s*\])?\s*$", text, re.M):
        text = text.rstrip("\n") + ("\n\n" if text.strip() else "") + "sites:\n"
    text = re.sub(r"^sites:\s*\[\s*\]\s*$", "sites:", text, flags=re.M)
    region = {"province": "浙江省" if _host(found.start_url).endswith("zj.gov.cn") else None, "county": found.county}
    shown = ", ".join(f"{k}: {v}" for k, v in region.items() if v)
    block = [f"  - name: {name}" + (f"   # {found.site_name}" if found.site_name else "") + "\n"]
    if shown:
        block.append(f"    region: {{{shown}}}\n")
    block.append(f"    home: {found.start_url}\n")
    platform = _one_platform(new)
    if platform:
        block.append(f"    platform: {platform}\n")
    block += ["    listings:\n", *[_listing_line(6, c) for c in new]]
    return text.rstrip("\n") + "\n" + "".join(block)


def discover_site(config_file: Path, site_or_home: str, *, delay: float = DEFAULT_DELAY,
                  max_pages: int = DEFAULT_MAX_PAGES, fetcher: PoliteFetcher | None = None) -> Merged:
    """Discover one portal and merge what was found into the sites file: `site_or_home` is a configured site's
    name (its `home` is walked) or a portal's home URL. Raises PortalUnreadable when the portal's first page
    cannot be read, ConfigError for a sites file or site that will not do."""
    home = home_of(config_file, site_or_home)
    found = discover(home, delay=delay, max_pages=max_pages, fetcher=fetcher)
    return merge_into_sites(config_file, found)


def home_of(config_file: Path, site_or_home: str) -> str:
    """A portal's home URL as given, or the home of the configured site of that name (a host without its
    http:// is given back as it is, for discover to say what is wrong with it)."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", site_or_home, re.I):
        return site_or_home
    if ("." in site_or_home or "/" in site_or_home) and not config_file.exists():
        return site_or_home
    config = load_config(config_file)
    names = {s.name for s in config.sites}
    if site_or_home not in names and ("." in site_or_home or "/" in site_or_home):
        return site_or_home
    site = config.site(site_or_home)
    if site.home is None:
        raise ConfigError(f"{config.path}:{site.line}: site {site.name!r} has no home: give its portal's home page "
                          "(gongkai discover URL)")
    return site.home


# -- the command -------------------------------------------------------------------------------------

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: must be 0 or more seconds")
    return value


def add_discover_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "discover", help="find the township 计划总结 columns of a county portal from its home page",
        description="Follow a county portal's own 政务公开 navigation down to its towns and list every work-plan "
                    "and summary column found.")
    parser.add_argument("url", metavar="URL|SITE", help="the portal's home page or its 政务公开 page, or the name of "
                                                        "a configured site (its home is walked)")
    parser.add_argument("--add", action="store_true",
                        help="merge the columns found into the sites file: into the site whose home is on the "
                             "portal's host (a new site when none is)")
    parser.add_argument("--config", help="sites file (default $GONGKAI_CONFIG or config/sites.yaml)")
    parser.add_argument("--counties", help=argparse.SUPPRESS)  # gone: says so
    parser.add_argument("--json", action="store_true", help="one JSON object per column on stdout")
    parser.add_argument("--delay", type=_seconds, default=None,
                        help=f"seconds between requests to the portal (default {DEFAULT_DELAY}, or its Crawl-delay)")
    parser.add_argument("--max-pages", type=_positive_int, default=DEFAULT_MAX_PAGES,
                        help=f"at most this many requests to the portal (default {DEFAULT_MAX_PAGES})")
    return parser


def run_discover(args: argparse.Namespace) -> int:
    if getattr(args, "counties", None):
        raise UserError("--counties is gone: the county list is the sites file now (every county a site with its "
                        "home and region, config/sites.yaml); give --config PATH")
    delay = DEFAULT_DELAY if args.delay is None else args.delay
    path = config_path(args.config)
    found = discover(home_of(path, args.url), delay=delay, max_pages=args.max_pages)
    if args.json:
        for c in found.columns:
            print(json.dumps({"town": c.town, "name": c.name, "url": c.url, "platform": c.platform,
                              "rows": c.rows, "newest": c.newest}, ensure_ascii=False))
    else:
        _print_table(found)
    for c in found.columns:
        if c.moved_from:
            print(f"discover: {c.moved_from} has moved to {c.url}", file=sys.stderr)
    without = found.towns_without
    print(f"discover: {len(found.columns)} report columns in {len({c.town for c in found.columns})} of "
          f"{len(found.towns)} towns; {found.requests} requests ({found.pages} pages + robots.txt) in "
          f"{found.seconds:.1f} s" + (f"; no report column: {'、'.join(without)}" if without else ""),
          file=sys.stderr)
    if getattr(args, "verbose", False):
        for note in found.notes:
            print(f"discover: {note}", file=sys.stderr)
    if args.add and (found.columns or path.exists()):
        _print_merged(merge_into_sites(path, found), path)
    if not found.complete:
        raise PortalUnreadable(f"{args.url}: stopped at --max-pages {args.max_pages}: the portal's navigation was "
                               "not walked to its end (columns past the bound were not seen)")
    return 0


def _print_merged(merged: Merged, path: Path) -> None:
    if not merged.site:
        print(f"discover: no column found and no site of this portal in {path}: nothing added", file=sys.stderr)
        return
    where = f"new site {merged.site}" if merged.new_site else f"site {merged.site}"
    platform = {None: "", "": "; platform: detected per page (columns on several platforms)"}.get(
        merged.platform_set, f"; platform: {merged.platform_set}")
    print(f"discover: {len(merged.added)} listings added to {where} in {path}"
          + ("" if merged.added else " (all were there already)") + platform, file=sys.stderr)
    for old, new in merged.moved.items():
        print(f"discover: site {merged.site}: listing {old} has moved to {new}", file=sys.stderr)
    for url in merged.vanished:
        print(f"discover: site {merged.site}: listing {url} was not found on the portal (vanished, or linked from no "
              "town's page)", file=sys.stderr)


def _print_table(found: Discovery) -> None:
    header = ("TOWN", "COLUMN", "ROWS", "NEWEST", "PLATFORM", "URL")
    rows = [(c.town, c.name + ("*" if c.by == "rows" else ""), str(c.rows), c.newest or "-", c.platform, c.url)
            for c in found.columns]

    def width(text: str) -> int:  # a Chinese character takes two columns on a terminal
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    widths = [max([width(r[i]) for r in rows] + [width(header[i])]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell + " " * (widths[i] - width(cell)) for i, cell in enumerate(row[:-1])]
        print("  ".join([*cells, row[-1]]))
    if any(c.by == "rows" for c in found.columns):
        print("* recognised by its rows (its name says nothing)")


def main(argv: list[str] | None = None) -> int:
    """`python -m gongkai.app.discover …`: the command on its own, until cli.py wires `gongkai discover`."""
    parser = argparse.ArgumentParser(prog="gongkai")
    parser.add_argument("-v", "--verbose", action="store_true")
    add_discover_parser(parser.add_subparsers(dest="command", required=True))
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = [a for a in argv if a in ("-v", "--verbose")]
    args = parser.parse_args([*verbose, "discover", *(a for a in argv if a not in verbose)])
    try:
        return run_discover(args)
    except GongkaiError as exc:
        print(f"gongkai: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("gongkai: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

