"""`gongkai sites add URL` / `gongkai sites list`: add a site by pasting its listing URL.

The listing page says most of what the config needs: its platform (detected), the site's name
(meta SiteName, e.g. 仙居县人民政府, hence the county), the town (breadcrumb or column description).
The entry is appended to sites.yaml as text, so comments and layout survive, then the whole file is
validated; a file that would not load is restored.
"""

from __future__ import annotations

import argparse
import re
import sys
import urllib.error
import urllib.request
import urllib.robotparser
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from gongkai.app.sites_file import with_listings, write_validated
from gongkai.config import ConfigError, SiteConfig, config_path, load_config
from gongkai.crawler.failures import network_failure_in_words
from gongkai.crawler.platforms import UnsupportedListing, detect_platform
from gongkai.crawler.settings import USER_AGENT
from gongkai.errors import PortalUnreadable
from gongkai.ingest.decode import decode_html
from gongkai.urls import host_key


def sites_command(args: argparse.Namespace) -> int:
    """`gongkai sites add URL` (append a detected entry to the config) / `gongkai sites list`."""
    from gongkai.errors import UserError

    path = config_path(args.config)
    try:
        if args.sites_command == "add":
            html = fetch_listing(args.url)
            block = add_site(path, args.url, html, args.name)
            print(f"added to {path}:\n{block}", end="")
            return 0
        config = load_config(path)
    except UnsupportedListing as exc:  # as `crawl` says of a page that is no listing: exit 1
        raise PortalUnreadable(f"{args.url}: {exc}") from None
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    for site in config.sites:
        region = " ".join(p for p in (site.region.province, site.region.city, site.region.county, site.region.town) if p)
        columns = f"{len(site.listings)} listing(s)" if site.listings else "no column yet"
        print(f"{site.name}\t{site.platform or 'auto'}\t{region}\t{site.schedule.describe()}\t{columns}"
              + (f"\t{site.home}" if site.home else ""))
        for url in site.listings:
            print(f"\t{url}")
    empty = [s for s in config.sites if not s.listings]
    if empty:
        print(f"{len(empty)} of {len(config.sites)} sites have no report column yet: `gongkai discover SITE --add` "
              "finds them", file=sys.stderr)
    return 0


MAX_LISTING_BYTES = 8 * 1024 * 1024
_META = r'<meta[^>]+name=["\']{}["\'][^>]+content=["\']([^"\']*)["\']'
_COUNTY = re.compile(r"([\u4e00-\u9fff]{1,6}?(?:自治县|县|区|市))人民政府")
_CITY = re.compile(r"([\u4e00-\u9fff]{1,5}市)人民政府")
_TOWN = re.compile(r"([\u4e00-\u9fff]{1,8}?(?:畲族乡|畲族镇|街道|镇|乡))")


@dataclass
class ListingDescription:
    platform: str
    site_name: str | None
    county: str | None
    town: str | None


def describe_listing(html: str, url: str) -> ListingDescription:
    """What a listing page says about itself (pure: no I/O)."""
    platform = detect_platform(html, url).NAME
    site_name = _meta(html, "SiteName")
    if not site_name:
        title = re.search(r"<title>(.*?)</title>", html, re.S)
        site_name = title.group(1).rsplit(" - ", 1)[-1].strip() if title and " - " in title.group(1) else None
    county = None
    if site_name:
        match = _COUNTY.search(site_name)
        county = match.group(1) if match else None
    town = None
    crumb = re.search(r"(?:当前位置|当前的位置|当前所在的位置)[:：]?(.{0,600}?)(?:计划总结|规划计划)", html, re.S)
    candidates = []
    if crumb:
        candidates = [t.strip() for t in re.split(r"&gt;|>|»", re.sub(r"<[^>]+>", ">", crumb.group(1))) if t.strip()]
    description = _meta(html, "ColumnDescription") or ""
    for text in [*reversed(candidates), description]:
        match = _TOWN.fullmatch(text) or (_TOWN.match(text) if text is description else None)
        if match:
            town = match.group(1)
            break
    return ListingDescription(platform=platform, site_name=site_name, county=county, town=town)


def _meta(html: str, name: str) -> str | None:
    match = re.search(_META.format(name), html, re.I)
    return match.group(1).strip() if match and match.group(1).strip() else None


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 - stdlib signature
        if urlsplit(newurl).netloc != urlsplit(req.full_url).netloc:
            raise urllib.error.HTTPError(newurl, code, f"redirect to another host ({newurl}) not followed", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


MAX_ROBOTS_BYTES = 512 * 1024  # RFC 9309 2.5: at least 500 KiB parsed; the rest is not read


def fetch_listing(url: str, timeout: float = 20) -> str:
    """GET one listing page politely: robots.txt obeyed, our User-Agent, same-host redirects, size cap."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{url!r} is not an http(s) URL of a column listing page")
    opener = urllib.request.build_opener(_SameHostRedirects)
    robots = _read_robots(opener, f"{parts.scheme}://{parts.netloc}/robots.txt", timeout)
    if not robots.can_fetch(USER_AGENT, url):
        raise PortalUnreadable(f"{url}: robots.txt of {parts.netloc} does not allow us to fetch it")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(MAX_LISTING_BYTES + 1)
            content_type = response.headers.get("Content-Type")
    except urllib.error.HTTPError as exc:
        raise PortalUnreadable(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise PortalUnreadable(f"{url}: {network_failure_in_words(exc, parts.netloc)}") from None
    if len(body) > MAX_LISTING_BYTES:
        raise ConfigError(f"{url}: page larger than {MAX_LISTING_BYTES // 2**20} MB: not a listing")
    return decode_html(body, content_type)


def _read_robots(opener: urllib.request.OpenerDirector, url: str, timeout: float) -> urllib.robotparser.RobotFileParser:
    """robots.txt as the crawl reads it (RFC 9309): with our User-Agent, a timeout and a size bound (not
    RobotFileParser.read(), which sends Python-urllib's and waits and reads without end); 4xx: no rules;
    5xx or unreachable: the listing is not fetched."""
    robots = urllib.robotparser.RobotFileParser(url)
    try:
        with opener.open(urllib.request.Request(url, headers={"User-Agent": USER_AGENT}), timeout=timeout) as resp:
            body = resp.read(MAX_ROBOTS_BYTES)
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code != 429:
            robots.parse([])
            return robots
        raise PortalUnreadable(f"robots.txt at {url} answered HTTP {exc.code}: not fetching the listing") from None
    except (urllib.error.URLError, OSError) as exc:
        raise PortalUnreadable(network_failure_in_words(exc, urlsplit(url).netloc)) from None
    robots.parse(body.decode("utf-8", "replace").splitlines())
    return robots


def default_name(url: str, taken: set[str]) -> str:
    """www.zjxj.gov.cn -> zjxj; an address (127.0.0.10) keeps all its parts (127-0-0-10), not its first."""
    host = (urlsplit(url).hostname or "site").lower()
    if host.replace(".", "").isdigit() or ":" in host:
        name = re.sub(r"[^a-z0-9]+", "-", host).strip("-")
    else:
        labels = [p for p in host.split(".") if p not in ("www", "gov", "cn", "com", "net", "org")]
        name = re.sub(r"[^a-z0-9-]", "-", labels[0] if labels else host)
    if name not in taken:
        return name
    column = re.search(r"col(\d+)", url)
    candidate = f"{name}-{column.group(1)}" if column else f"{name}-2"
    n = 2
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def site_block(name: str, url: str, description: ListingDescription) -> str:
    region = {"province": "浙江省" if (urlsplit(url).hostname or "").endswith("zj.gov.cn") else None,
              "county": description.county, "town": description.town}
    region_text = ", ".join(f"{k}: {v}" for k, v in region.items() if v)
    lines = [f"  - name: {name}"]
    if description.site_name:
        lines[0] += f"   # {description.site_name}"
    if region_text:
        lines.append(f"    region: {{{region_text}}}")
    lines += [f"    platform: {description.platform}", "    listings:", f"      - {url}"]
    return "\n".join(lines) + "\n"


def _add_listing_to(config_file: Path, original: str, site: SiteConfig, url: str) -> str:
    """Another column of a configured site's portal: one more listing of that site, not a new site (a county
    site with only its home gets its first listing)."""
    write_validated(config_file, original, with_listings(original, config_file, site, [url]))
    return f"  (site {site.name}, another listing)\n      - {url}\n"


def _host(url: str) -> str:
    """host[:port] without www.: a portal's listings and its home page name it either way."""
    return host_key(url).removeprefix("www.")


def add_site(config_file: Path, url: str, html: str, name: str | None = None) -> str:
    """Append a validated entry for `url` to config_file; returns the entry's text."""
    original = text = config_file.read_text(encoding="utf-8") if config_file.exists() else ""
    config = load_config(config_file) if text.strip() else None
    sites = config.sites if config else ()
    for site in sites:
        if url in site.listings:
            raise ConfigError(f"{config_file}:{site.line}: {url} is already a listing of site {site.name!r}")
    taken = {s.name for s in sites}
    if name and name in taken:
        raise ConfigError(f"{config_file}: a site named {name!r} exists already: choose another --name")
    described = describe_listing(html, url)
    # Another column of a configured site's host, for the same town (or a site not tied to one town): one
    # more listing of that site. A column of another town on the host is a site of its own (its region).
    same_host = next((s for s in sites if _host(url) in {_host(u) for u in (*s.listings, s.home or "")}
                      and s.region.town in (None, described.town)), None)
    if same_host is not None and not name:
        return _add_listing_to(config_file, original, same_host, url)
    block = site_block(name or default_name(url, taken), url, described)
    if not re.search(r"^sites:\s*(\[\s*\])?\s*$", text, re.M):
        text = text.rstrip("\n") + ("\n\n" if text.strip() else "") + "sites:\n"
    elif re.search(r"^sites:\s*\[\s*\]\s*$", text, re.M):
        text = re.sub(r"^sites:\s*\[\s*\]\s*$", "sites:", text, flags=re.M)
    write_validated(config_file, original, text.rstrip("\n") + "\n" + block)
    return block
