"""Downloader middlewares that make the crawl polite and keep it on the configured hosts.

(StrictRobotsTxtMiddleware, which patches Scrapy's robots.txt middleware, is in scrapy_patches.py.)"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import Response
from twisted.internet.defer import CancelledError

from gongkai.crawler.failures import is_name_not_found
from gongkai.crawler.scrapy_patches import close_host, downloader_slot, hold_host
from gongkai.urls import host_key

logger = logging.getLogger(__name__)

RETRY_STATUSES = {408, 429, 500, 502, 503, 504, 520, 521, 522, 524}
# A JavaScript challenge in front of the whole host (瑞数 answers 412 with `$_ts`, 加速乐 521 with
# `__jsl_clearance` cookie script; portal-anatomy 5.3): every further request would get the same wall.
_WAF_STATUSES = {412, 521}
_WAF_MARKERS = (b"$_ts", b"__jsl_clearance", b"__jsluid", b"document.cookie")



class HostAllowlistMiddleware:
    """Drop every request (redirects included) to a host the crawl was not given.

    Stricter than Scrapy's OffsiteMiddleware: exact host and port, no subdomains, because a portal
    redirecting us to another host (or to a private address) is never followed.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostAllowlistMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        allowed: set[str] = getattr(self.crawler.spider, "allowed_hosts", set())
        if allowed and host_key(request.url) not in allowed:
            self.crawler.stats.inc_value("offsite/dropped")
            logger.warning("not following %s: host is not one of the crawl's listing hosts", request.url)
            raise IgnoreRequest(f"off configured hosts: {host_key(request.url)}")


def parse_retry_after(value: bytes | str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isascii() and text.isdigit():  # not "²": str.isdigit() takes it, float() does not
        return 1e12 if len(text) > 12 else float(text)  # more than 31,000 years is "long"; never inf
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, OverflowError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


# Retries one host gets in one crawl; past them (or past GONGKAI_HOST_RETRY_BUDGET seconds of retry holds) its
# failures wait for the next crawl. A flaky host's occasional 503 is retried; a host failing page after page
# does not hold the crawl for minutes.
RETRIES_PER_HOST = 20


class PoliteRetryMiddleware:
    """Retry 5xx, 429 and network failures with exponential backoff, honouring Retry-After.

    Scrapy's RetryMiddleware retries at once and ignores Retry-After (scrapy issue 3849). Here a
    Retry-After (or repeated failures) puts the whole host on hold, so no other request hammers it
    meanwhile. Settings: RETRY_TIMES, GONGKAI_BACKOFF_BASE (seconds), GONGKAI_BACKOFF_MAX,
    GONGKAI_RETRY_AFTER_MAX (a longer Retry-After gives up for this crawl; the next crawl retries).

    A host's retries are bounded per crawl, in count and in time: once it has had RETRIES_PER_HOST retries, or
    its retry holds add up to GONGKAI_HOST_RETRY_BUDGET seconds (60), its failures are not retried in this
    crawl (each page stays `failed`, for the next crawl). A host with 23 permanently failing
    articles held its crawl for 221 s before, every article's 2+4+8 s backoff holding the whole host.
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.max_retries = settings.getint("RETRY_TIMES", 3)
        self.base = settings.getfloat("GONGKAI_BACKOFF_BASE", 2.0)
        self.cap = settings.getfloat("GONGKAI_BACKOFF_MAX", 120.0)
        self.retry_after_max = settings.getfloat("GONGKAI_RETRY_AFTER_MAX", 600.0)
        self.host_hold_until: dict[str, float] = {}
        # Hosts that asked for a longer rest than we wait in one crawl: not asked again until the next.
        self.closed_hosts: dict[str, str] = {}
        self.crawl_delays: dict[str, float] = {}
        self.crawl_delay_max = settings.getfloat("GONGKAI_CRAWL_DELAY_MAX", 60.0)
        self.host_retry_budget = settings.getfloat("GONGKAI_HOST_RETRY_BUDGET", 60.0)
        self.retries_per_host = settings.getint("GONGKAI_RETRIES_PER_HOST", RETRIES_PER_HOST)
        self.retry_spent: dict[str, float] = {}  # seconds of retry holds per host in this crawl
        self.retries: dict[str, int] = {}  # retries per host in this crawl
        self.no_more_retries: set[str] = set()
        crawler.signals.connect(self._robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PoliteRetryMiddleware:
        return cls(crawler)

    def _robots_parsed(self, robotparser: Any, request: Request) -> None:
        """Honour robots.txt Crawl-delay, which Scrapy ignores (scrapy issue 892)."""
        delay = robotparser.crawl_delay(self.crawler.settings.get("USER_AGENT", "*"))
        if delay:
            self.crawl_delays[host_key(request.url)] = min(float(delay), self.crawl_delay_max)

    def _slot(self, request: Request) -> Any:
        """The request's downloader slot (Scrapy keys them by hostname), if it has one yet."""
        return downloader_slot(self.crawler, urlsplit(request.url).hostname or "")

    async def process_request(self, request: Request) -> None:
        key = host_key(request.url)
        if key in self.closed_hosts:
            raise IgnoreRequest(self.closed_hosts[key])
        crawl_delay = self.crawl_delays.get(key)
        if crawl_delay:
            slot = self._slot(request)
            if slot is not None and (slot.delay < crawl_delay or slot.jitter):
                # At least Crawl-delay between requests: Scrapy's jitter (0.5x-1.5x) would go below it.
                slot.delay, slot.jitter = max(slot.delay, crawl_delay), 0.0
        wait = self.host_hold_until.get(key, 0.0) - time.monotonic()
        if wait > 0:
            self.crawler.stats.inc_value("backoff/waits")
            await asyncio.sleep(wait)  # Scrapy runs on the asyncio reactor

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status in _WAF_STATUSES and any(m in response.body[:65536] for m in _WAF_MARKERS):
            self._close_host(request, f"{host_key(request.url)} answers with a JavaScript challenge "
                                      f"(HTTP {response.status}, anti-bot wall): not fetched in this crawl")
            return response
        if response.status not in RETRY_STATUSES or request.meta.get("dont_retry"):
            return response
        retry_after = parse_retry_after(response.headers.get(b"Retry-After"))
        if retry_after is not None and retry_after > self.retry_after_max:
            self._close_host(request, f"{host_key(request.url)} asked for a rest of {retry_after:.0f}s "
                                      "(Retry-After): next crawl")
            self.crawler.stats.inc_value("retry/retry_after_too_long")
            return response
        retry = self._retry(request, f"HTTP {response.status}", retry_after)
        return retry or response

    def _stop_retrying(self, key: str, why: str) -> None:
        """No more retries for this host in this crawl (each request still gets its first try)."""
        if key not in self.no_more_retries:
            self.no_more_retries.add(key)
            logger.warning("%s: retries spent (%s); its failing pages are not retried in this crawl (the next "
                           "crawl tries them again)", key, why)

    def _close_host(self, request: Request, reason: str) -> None:
        """Ask the host nothing more in this crawl: its pages stay failed, for the next one."""
        key = host_key(request.url)
        if key not in self.closed_hosts:
            logger.warning("%s; its pages are fetched by the next crawl", reason)
            self.crawler.stats.inc_value("hosts/closed")
        self.closed_hosts[key] = reason
        close_host(self.crawler, urlsplit(request.url).hostname or "", reason)  # and the requests queued there

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if isinstance(exception, IgnoreRequest) or request.meta.get("dont_retry"):
            return None
        if isinstance(exception, DownloadCancelledError | CancelledError):
            # DOWNLOAD_MAXSIZE exceeded: the same answer again would be refused again.
            logger.warning("not retrying %s: %s", request.url, exception or "response larger than DOWNLOAD_MAXSIZE")
            return None
        if is_name_not_found(exception):
            # The host name does not resolve: seconds of backoff will not make it; the next crawl asks again.
            self.crawler.stats.inc_value("retry/dns_not_retried")
            return None
        return self._retry(request, exception.__class__.__name__, None)

    def _retry(self, request: Request, reason: str, retry_after: float | None) -> Request | None:
        # Scrapy's retry request (counted as retry/count, retry/reason_count/<reason>; None past RETRY_TIMES,
        # counted as retry/max_reached and logged); what Scrapy lacks is the wait, added here.
        key = host_key(request.url)
        if key in self.no_more_retries:
            self.crawler.stats.inc_value("retry/host_budget_spent")
            return None
        new = get_retry_request(request, spider=self.crawler.spider, reason=reason, max_retry_times=self.max_retries,
                                priority_adjust=-1, logger=logger, give_up_log_level=logging.INFO)
        if new is None:
            return None
        self.retries[key] = self.retries.get(key, 0) + 1
        if self.retries[key] > self.retries_per_host:
            self._stop_retrying(key, f"{self.retries_per_host} retries")
            self.crawler.stats.inc_value("retry/host_budget_spent")
            return None
        attempt = new.meta["retry_times"]
        backoff = min(self.cap, self.base * (2 ** (attempt - 1))) * random.uniform(0.8, 1.2)
        delay = max(backoff, retry_after or 0.0)
        self.retry_spent[key] = self.retry_spent.get(key, 0.0) + delay
        if self.retry_spent[key] > self.host_retry_budget:
            self._stop_retrying(key, f"{self.host_retry_budget:g}s of retry holds")
            self.crawler.stats.inc_value("retry/host_budget_spent")
            return None
        # Whatever failed, the host gets a rest: hold every request to it, not just this one.
        until = max(self.host_hold_until.get(key, 0.0), time.monotonic() + delay)
        self.host_hold_until[key] = until
        hold_host(self.crawler, urlsplit(request.url).hostname or "", until)  # requests queued there wait too
        logger.info("retrying %s in %.1fs (attempt %d, %s)", request.url, delay, attempt, reason)
        new.meta["retry_reason"] = reason
        return new
