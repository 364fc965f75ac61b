"""One polite HTTP client for the commands that read a few pages outside a crawl (`gongkai discover`).

It behaves as the crawl does, in one thread and without Scrapy: robots.txt is read first on every host
and obeyed (RFC 9309: a 4xx means no rules; a 5xx, a 429 or no answer means nothing is fetched from
that host), `Crawl-delay` included; our User-Agent; `delay` seconds between two requests to one host
(the larger of it and Crawl-delay); redirects followed by hand, on the same host only, each one a
request of its own (robots-checked and spaced like any other); bodies capped; and at most `max_pages`
requests in all (robots.txt not counted), after which `PageBudgetExhausted` is raised.

It returns bytes: decoding is the caller's (the ingest stage's decoder sits above this layer).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlsplit

from protego import Protego

from gongkai.crawler.settings import USER_AGENT
from gongkai.errors import PortalUnreadable
from gongkai.urls import host_key, wire_url

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_ROBOTS_BYTES = 512 * 1024  # RFC 9309 2.5: at least 500 KiB parsed; the rest is not read
MAX_REDIRECTS = 5
MAX_CRAWL_DELAY = 60.0  # as the crawl caps it (GONGKAI_CRAWL_DELAY_MAX)
MAX_RETRY_AFTER = 30.0  # a 429/503 asking for longer rest is an answer, not a wait


class PageBudgetExhausted(Exception):
    """The fetcher has made its `max_pages` requests."""


class RobotsDisallowed(Exception):
    """robots.txt of the URL's host does not let us fetch it."""


@dataclass
class Fetched:
    url: str  # the URL that answered (after same-host redirects)
    status: int
    body: bytes
    content_type: str | None
    redirected_from: str | None = None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 - stdlib signature
        return None  # the 3xx comes back as an HTTPError; PoliteFetcher follows it itself


@dataclass
class PoliteFetcher:
    delay: float = 1.0
    max_pages: int = 300
    timeout: float = 20.0
    user_agent: str = USER_AGENT
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    pages: int = 0  # requests made, robots.txt not counted
    robots_requests: int = 0
    _robots: dict[str, Protego] = field(default_factory=dict)
    _last: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._opener = urllib.request.build_opener(_NoRedirects)

    @property
    def requests(self) -> int:
        return self.pages + self.robots_requests

    # -- public -------------------------------------------------------------------------------------
    def get(self, url: str, headers: dict[str, str] | None = None) -> Fetched:
        return self._fetch("GET", url, None, headers)

    def post(self, url: str, form: dict[str, str], headers: dict[str, str] | None = None) -> Fetched:
        return self._fetch("POST", url, urlencode(form).encode("utf-8"), headers)

    def allowed(self, url: str) -> bool:
        return self._rules(url).can_fetch(url, self.user_agent)

    # -- internals ----------------------------------------------------------------------------------
    def _fetch(self, method: str, url: str, data: bytes | None, headers: dict[str, str] | None) -> Fetched:
        first = url
        for _ in range(MAX_REDIRECTS + 1):
            result = self._one(method, url, data, headers)
            location = result.status in (301, 302, 303, 307, 308) and result.content_type
            if not location:
                if url != first:
                    result.redirected_from = first
                return result
            target = urljoin(url, location)
            if host_key(target).removeprefix("www.") != host_key(url).removeprefix("www."):
                raise PortalUnreadable(f"{url}: redirects to another host ({target}): not followed")
            if result.status in (301, 302, 303):
                method, data = "GET", None
            url = target
        raise PortalUnreadable(f"{first}: more than {MAX_REDIRECTS} redirects")

    def _one(self, method: str, url: str, data: bytes | None, headers: dict[str, str] | None) -> Fetched:
        """One request (a 3xx comes back with its Location in content_type); one wait on a short
        Retry-After."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PortalUnreadable(f"{url!r} is not an http(s) URL")
        rules = self._rules(url)
        if not rules.can_fetch(url, self.user_agent):
            raise RobotsDisallowed(f"{url}: robots.txt of {parts.netloc} does not allow us to fetch it")
        for attempt in range(2):
            if self.pages >= self.max_pages:
                raise PageBudgetExhausted(f"{self.max_pages} pages fetched")
            self._wait(url, rules)
            self.pages += 1
            status, body, ctype, retry_after = self._send(method, url, data, headers)
            if status in (429, 503) and attempt == 0 and retry_after is not None and retry_after <= MAX_RETRY_AFTER:
                self._last[host_key(url)] = self.clock() + retry_after
                continue
            return Fetched(url, status, body, ctype)
        return Fetched(url, status, body, ctype)

    def _send(self, method: str, url: str, data: bytes | None,
              headers: dict[str, str] | None) -> tuple[int, bytes, str | None, float | None]:
        request = urllib.request.Request(wire_url(url), data=data, method=method,
                                         headers={"User-Agent": self.user_agent, **(headers or {})})
        if data is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = response.read(MAX_BODY_BYTES + 1)
                status, ctype = response.status, response.headers.get("Content-Type")
        except urllib.error.HTTPError as exc:
            if exc.code in (301, 302, 303, 307, 308):
                return exc.code, b"", exc.headers.get("Location") or "", None
            try:
                body = exc.read(MAX_BODY_BYTES + 1)
            except OSError:
                body = b""
            return exc.code, body, exc.headers.get("Content-Type"), _retry_after(exc.headers.get("Retry-After"))
        except (urllib.error.URLError, OSError) as exc:
            raise PortalUnreadable(f"{url}: cannot fetch: {getattr(exc, 'reason', exc)}") from None
        if len(body) > MAX_BODY_BYTES:
            raise PortalUnreadable(f"{url}: page larger than {MAX_BODY_BYTES // 2**20} MB")
        return status, body, ctype, None

    def _wait(self, url: str, rules: Protego) -> None:
        key = host_key(url)
        crawl_delay = rules.crawl_delay(self.user_agent)
        gap = max(self.delay, min(float(crawl_delay or 0), MAX_CRAWL_DELAY))
        last = self._last.get(key)
        if last is not None:
            wait = last + gap - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last[key] = self.clock()

    def _rules(self, url: str) -> Protego:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key in self._robots:
            return self._robots[key]
        robots_url = key + "/robots.txt"
        for _ in range(MAX_REDIRECTS + 1):  # RFC 9309 2.3.1.2: follow redirects (here: on the same host only)
            self.robots_requests += 1
            request = urllib.request.Request(robots_url, headers={"User-Agent": self.user_agent})
            try:
                with self._opener.open(request, timeout=self.timeout) as resp:
                    body = resp.read(MAX_ROBOTS_BYTES)
            except urllib.error.HTTPError as exc:
                location = exc.headers.get("Location") if exc.code in (301, 302, 303, 307, 308) else None
                target = urljoin(robots_url, location) if location else None
                if target and host_key(target).removeprefix("www.") == host_key(url).removeprefix("www."):
                    robots_url = target
                    continue
                if 400 <= exc.code < 500 and exc.code != 429:
                    rules = Protego.parse("")
                    break
                raise PortalUnreadable(f"robots.txt at {robots_url} answered HTTP {exc.code}: "
                                       f"nothing is fetched from {parts.netloc}") from None
            except (urllib.error.URLError, OSError) as exc:
                raise PortalUnreadable(f"cannot reach {parts.netloc}: {getattr(exc, 'reason', exc)}") from None
            rules = Protego.parse(body.decode("utf-8", "replace"))
            break
        else:
            raise PortalUnreadable(f"robots.txt of {parts.netloc}: more than {MAX_REDIRECTS} redirects")
        self._last[host_key(url)] = self.clock()  # robots.txt was a request to the host too
        self._robots[key] = rules
        return rules


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
