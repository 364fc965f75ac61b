"""config/sites.yaml: which sites gongkai serves, where their listings are, and when to crawl them.

Validated by hand (no pydantic) so that every mistake is one line naming the file and the line:
`config/sites.yaml:12: site 'xianju': schedule: unknown key 'every'`. An operator edits this file
by hand, often on a server; a traceback would be the wrong answer to a typo.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from gongkai.errors import ConfigError
from gongkai.settings import get_settings

DEFAULT_CONFIG = Path("config") / "sites.yaml"
DEFAULT_HTTP_HOST = "127.0.0.1"
DEFAULT_HTTP_PORT = 8080
DEFAULT_INGEST_INTERVAL = 300.0
# Daily, spread over an hour: the portals are small government servers; no need for more.
DEFAULT_INTERVAL = 86400.0
DEFAULT_JITTER = 3600.0
# A routine crawl stops at the first known article, so it never sees an article delisted deep in a column
# or a page edited after it was stored. Once a week a site's scheduled crawl is a refresh instead:
# every listing page walked, every stored article re-checked with a conditional request (mostly 304s).
DEFAULT_REFRESH = 7 * 86400.0
# `gongkai serve` looks for new and vanished report columns of every site with a `home` this often.
DEFAULT_DISCOVERY_INTERVAL = 7 * 86400.0
KNOWN_PLATFORMS = ("jcms", "jpaas", "xxgk", "trs", "generic")
# `platform: unknown` says nobody has seen the portal's platform yet (the same as leaving it out).
UNKNOWN_PLATFORM = "unknown"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}



@dataclass(frozen=True)
class Region:
    province: str | None = None
    city: str | None = None
    county: str | None = None
    town: str | None = None


@dataclass(frozen=True)
class Schedule:
    """Either every `interval` seconds or a 5-field `cron` line, plus up to `jitter` seconds of delay."""

    interval: float | None = DEFAULT_INTERVAL
    cron: str | None = None
    jitter: float = DEFAULT_JITTER

    def trigger(self, timezone: tzinfo | None = None) -> Any:
        """The APScheduler trigger for this schedule."""
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        jitter = int(self.jitter) or None
        if self.cron:
            trigger = CronTrigger.from_crontab(self.cron, timezone=timezone)
            trigger.jitter = jitter  # from_crontab() takes no jitter; the trigger applies it per fire time
            return trigger
        return IntervalTrigger(seconds=self.interval or DEFAULT_INTERVAL, timezone=timezone, jitter=jitter)

    def describe(self) -> str:
        what = f"cron {self.cron}" if self.cron else f"every {format_duration(self.interval or DEFAULT_INTERVAL)}"
        return what + (f" (+ up to {format_duration(self.jitter)})" if self.jitter else "")


@dataclass(frozen=True)
class SiteConfig:
    """One site: a county portal (its `home`, where discovery starts) and the report columns to crawl
    (`listings`). A county whose columns nobody has found yet has a home and no listings: nothing is
    crawled until `gongkai discover` (or serve's discovery schedule) adds them."""

    name: str
    listings: tuple[str, ...]
    region: Region = field(default_factory=Region)
    home: str | None = None
    platform: str | None = None
    schedule: Schedule = field(default_factory=Schedule)
    delay: float | None = None
    concurrency: int | None = None
    refresh: float | None = DEFAULT_REFRESH  # None: never (only `gongkai crawl --full --revalidate` by hand)
    line: int = 0


@dataclass(frozen=True)
class ServiceConfig:
    path: Path
    sites: tuple[SiteConfig, ...] = ()
    ingest_interval: float = DEFAULT_INGEST_INTERVAL
    http_host: str = DEFAULT_HTTP_HOST
    http_port: int = DEFAULT_HTTP_PORT
    max_parallel_crawls: int = 4
    shutdown_timeout: float = 60.0
    timezone: str | None = None
    # None: serve runs no discovery (`discovery: never`).
    discovery: Schedule | None = field(default_factory=lambda: Schedule(interval=DEFAULT_DISCOVERY_INTERVAL))

    def site(self, name: str) -> SiteConfig:
        for s in self.sites:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sites) or "none"
        raise ConfigError(f"{self.path}: no site {name!r} (configured: {known})")


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--config, else $GONGKAI_CONFIG, else config/sites.yaml in the current directory."""
    return Path(explicit) if explicit else get_settings().config


def parse_duration(value: Any) -> float:
    """Seconds from 90, "90s", "30m", "6h", "1d", "1h30m"; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip().lower().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(f"{value!r} is not a duration (e.g. 90s, 30m, 6h, 1d)") from None
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        raise ValueError(f"{value!r} is not a duration (e.g. 90s, 30m, 6h, 1d)")
    if seconds < 0 or seconds != seconds:
        raise ValueError(f"{value!r}: must not be negative")
    return seconds


def format_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# -- loading ----------------------------------------------------------------------------------------

class _Doc:
    """Walks the YAML node tree, so every value keeps the line it came from."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._loader = yaml.SafeLoader("")

    def fail(self, node: yaml.Node | None, message: str) -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else 1
        return ConfigError(f"{self.path}:{line}: {message}")

    def value(self, node: yaml.Node) -> Any:
        return self._loader.construct_object(node, deep=True)

    def mapping(self, node: yaml.Node, where: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{where}must be a mapping (key: value lines)")
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if not isinstance(key, str):
                raise self.fail(key_node, f"{where}keys must be text, not {key!r}")
            if key in out:
                raise self.fail(key_node, f"{where}{key!r} given twice")
            if key not in allowed:
                raise self.fail(key_node, f"{where}unknown key {key!r} (known: {', '.join(allowed)})")
            out[key] = value_node
        return out

    def text(self, node: yaml.Node, where: str) -> str:
        value = self.value(node)
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
            raise self.fail(node, f"{where}must be non-empty text")
        return str(value).strip()

    def duration(self, node: yaml.Node, where: str, *, positive: bool = True) -> float:
        try:
            seconds = parse_duration(self.value(node))
        except ValueError as exc:
            raise self.fail(node, f"{where}{exc}") from None
        if positive and seconds <= 0:
            raise self.fail(node, f"{where}must be more than 0")
        return seconds

    def integer(self, node: yaml.Node, where: str, low: int, high: int) -> int:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(node, f"{where}must be a whole number from {low} to {high}, not {value!r}")
        return value


def load_config(path: str | os.PathLike[str] | None = None) -> ServiceConfig:
    """Read and validate the whole file; raises ConfigError (one line) on any problem."""
    path = config_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file (set --config or GONGKAI_CONFIG)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    doc = _Doc(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError(f"{path}:{line}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if root is None:
        return ServiceConfig(path=path)
    top = doc.mapping(root, "", ("sites", "defaults", "ingest_interval", "http", "max_parallel_crawls",
                                 "shutdown_timeout", "timezone", "discovery"))
    kwargs: dict[str, Any] = {}
    if "ingest_interval" in top:
        kwargs["ingest_interval"] = doc.duration(top["ingest_interval"], "ingest_interval: ")
    if "shutdown_timeout" in top:
        kwargs["shutdown_timeout"] = doc.duration(top["shutdown_timeout"], "shutdown_timeout: ")
    if "max_parallel_crawls" in top:
        kwargs["max_parallel_crawls"] = doc.integer(top["max_parallel_crawls"], "max_parallel_crawls: ", 1, 64)
    if "timezone" in top:
        kwargs["timezone"] = _timezone(doc, top["timezone"])
    if "discovery" in top:
        value = doc.value(top["discovery"])
        if value is False or (isinstance(value, str) and value.strip().lower() == "never"):
            kwargs["discovery"] = None
        else:
            kwargs["discovery"] = _schedule(doc, top["discovery"], "discovery: ")
    if "http" in top:
        http = doc.mapping(top["http"], "http: ", ("host", "port"))
        if "host" in http:
            kwargs["http_host"] = doc.text(http["host"], "http: host: ")
        if "port" in http:
            kwargs["http_port"] = doc.integer(http["port"], "http: port: ", 1, 65535)
    defaults: dict[str, Any] = {}
    if "defaults" in top:
        node = doc.mapping(top["defaults"], "defaults: ", ("schedule", "delay", "concurrency", "refresh"))
        defaults = _site_options(doc, node, "defaults: ", {})
    sites: list[SiteConfig] = []
    if "sites" in top and doc.value(top["sites"]) is not None:
        if not isinstance(top["sites"], yaml.SequenceNode):
            raise doc.fail(top["sites"], "sites: must be a list (one '- name: …' entry per site)")
        seen: dict[str, int] = {}
        owner: dict[str, str] = {}
        for node in top["sites"].value:
            site = _site(doc, node, defaults)
            if site.name in seen:
                raise doc.fail(node, f"site {site.name!r}: name already used on line {seen[site.name]}")
            seen[site.name] = site.line
            for url in site.listings:  # a listing's pages belong to one site (reports, locks, history)
                if url in owner:
                    raise doc.fail(node, f"site {site.name!r}: listing {url} already belongs to site "
                                         f"{owner[url]!r}")
                owner[url] = site.name
            sites.append(site)
    return ServiceConfig(path=path, sites=tuple(sites), **kwargs)


def load_sites(path: str | os.PathLike[str] | None = None) -> list[SiteConfig]:
    """The configured sites, validated (see load_config)."""
    return list(load_config(path).sites)


def _timezone(doc: _Doc, node: yaml.Node) -> str:
    name = doc.text(node, "timezone: ")
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise doc.fail(node, f"timezone: unknown time zone {name!r} (e.g. Asia/Shanghai)") from None
    return name


def _site(doc: _Doc, node: yaml.Node, defaults: dict[str, Any]) -> SiteConfig:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        names = [v for k, v in node.value if doc.value(k) == "name"]
        label = f"site {doc.value(names[0])!r}: " if names and isinstance(doc.value(names[0]), str) else "site: "
    else:
        label = "site: "
    fields = doc.mapping(node, label, ("name", "region", "home", "listings", "platform", "schedule", "delay",
                                       "concurrency", "refresh"))
    if "name" not in fields:
        raise doc.fail(node, "site: missing 'name'")
    name = doc.text(fields["name"], "site: name: ")
    if not _NAME.match(name):
        raise doc.fail(fields["name"], f"site {name!r}: name must be letters, digits, '.', '_' or '-' "
                                       "(it names jobs, metrics and the reports' site)")
    home = _http_url(doc, fields["home"], f"{label}home: ", "of the portal's home page") if "home" in fields else None
    if "listings" not in fields and home is None:
        raise doc.fail(node, f"{label}missing 'listings' (the column listing URLs to crawl) or 'home' (the "
                             "portal's home page, where `gongkai discover` finds them)")
    listings_node = fields.get("listings")
    if listings_node is None:
        items = []
    elif isinstance(listings_node, yaml.ScalarNode) and doc.value(listings_node) is not None:
        items = [listings_node]
    elif isinstance(listings_node, yaml.SequenceNode) and (listings_node.value or home is not None):
        items = listings_node.value
    elif home is not None and doc.value(listings_node) is None:
        items = []
    else:
        raise doc.fail(listings_node, f"{label}listings: must be a non-empty list of URLs")
    listings = []
    for item in items:
        url = _http_url(doc, item, f"{label}listings: ", "of a column listing page")
        if url in listings:
            raise doc.fail(item, f"{label}listings: {url!r} listed twice")
        listings.append(url)
    region = Region()
    if "region" in fields:
        parts_node = doc.mapping(fields["region"], f"{label}region: ", ("province", "city", "county", "town"))
        region = Region(**{k: doc.text(v, f"{label}region: {k}: ") for k, v in parts_node.items()})
    platform = None
    if "platform" in fields:
        platform = doc.text(fields["platform"], f"{label}platform: ")
        if platform == UNKNOWN_PLATFORM:
            platform = None
        elif platform not in KNOWN_PLATFORMS:
            raise doc.fail(fields["platform"], f"{label}platform: {platform!r} is not one of "
                                               f"{', '.join(KNOWN_PLATFORMS + (UNKNOWN_PLATFORM,))}")
    options = _site_options(doc, fields, label, defaults)
    return SiteConfig(name=name, listings=tuple(listings), region=region, home=home, platform=platform, line=line,
                      **options)


def _http_url(doc: _Doc, node: yaml.Node, where: str, what: str) -> str:
    url = doc.text(node, where)
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise doc.fail(node, f"{where}{url!r} has a bad port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise doc.fail(node, f"{where}{url!r} is not an http(s) URL {what}")
    return url


def _site_options(doc: _Doc, fields: dict[str, yaml.Node], label: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """schedule / delay / concurrency / refresh, shared by `defaults:` and each site."""
    out = dict(defaults)
    if "schedule" in fields:
        out["schedule"] = _schedule(doc, fields["schedule"], label)
    if "delay" in fields:
        out["delay"] = doc.duration(fields["delay"], f"{label}delay: ", positive=False)
    if "concurrency" in fields:
        out["concurrency"] = doc.integer(fields["concurrency"], f"{label}concurrency: ", 1, 16)
    if "refresh" in fields:
        value = doc.value(fields["refresh"])
        if value is False or (isinstance(value, str) and value.strip().lower() == "never"):
            out["refresh"] = None
        else:
            out["refresh"] = doc.duration(fields["refresh"], f"{label}refresh: ")
            if out["refresh"] < 3600:
                raise doc.fail(fields["refresh"], f"{label}refresh: at least 1h (a refresh re-checks every stored "
                                                  "article of the site), or 'never'")
    return out


def _schedule(doc: _Doc, node: yaml.Node, label: str) -> Schedule:
    where = f"{label}schedule: "
    fields = doc.mapping(node, where, ("interval", "cron", "jitter"))
    if ("interval" in fields) == ("cron" in fields):
        raise doc.fail(node, f"{where}give exactly one of 'interval' (e.g. 6h) or 'cron' (e.g. \"0 3 * * *\")")
    jitter = doc.duration(fields["jitter"], f"{where}jitter: ", positive=False) if "jitter" in fields else None
    if "cron" in fields:
        cron = doc.text(fields["cron"], f"{where}cron: ")
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(cron)
        except ValueError as exc:
            raise doc.fail(fields["cron"], f"{where}cron: {cron!r}: {exc} (want 5 fields: minute hour day "
                                           "month weekday)") from None
        return Schedule(interval=None, cron=cron, jitter=DEFAULT_JITTER if jitter is None else jitter)
    interval = doc.duration(fields["interval"], f"{where}interval: ")
    if jitter is None:
        jitter = min(DEFAULT_JITTER, interval / 10)  # spread, but never by more than a tenth of the period
    return Schedule(interval=interval, cron=None, jitter=jitter)
