"""Every use of Scrapy's (and scrapy-redis's) private API, in one module, each with a guard.

The patches below were written against the versions in TESTED_SCRAPY and TESTED_SCRAPY_REDIS (pinned in
requirements.lock). tests/test_scrapy_patches.py fails loudly on any other version, and checks that each
private attribute or function a patch relies on still exists with the signature (and, where a patch copies
Scrapy's code, the source) it was written for: see PATCHES. Where Scrapy has a public hook, gongkai uses it
instead (RobotParser.crawl_delay, scrapy.downloadermiddlewares.retry.get_retry_request).

- PerHostDownloader (DOWNLOADER): Scrapy's Downloader with `_process_queue` replaced.
- StrictRobotsTxtMiddleware: Scrapy's RobotsTxtMiddleware with `robot_parser`, `_parse_robots` and
  `_robots_error` overridden (its `_parsers`, `_parserimpl`, `_stats`).
- downloader_slot / hold_host / close_host: a host's downloader slot (Downloader.slots, Slot.delay/jitter).
- engine_busy / wake_engine / wake_engine_later: whether a worker's engine is working (Downloader.active,
  Scraper.slot) and making an engine look at the shared queue again soon (ExecutionEngine._slot.nextcall).
- on_request_finished: a call when the engine is done with a scheduled request, its callback's output
  queued or handed to the pipelines (ExecutionEngine._slot.remove_request).
- decode_request: scrapy-redis's PriorityQueue._decode_request, for the distributed JobQueue.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic
from typing import Any

import scrapy
from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro, maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from gongkai.crawler.failures import failure_in_words

logger = logging.getLogger(__name__)

TESTED_SCRAPY = ("2.19.0",)
TESTED_SCRAPY_REDIS = ("0.9.1",)


# -- PerHostDownloader ------------------------------------------------------------------------------------
# Scrapy's downloader with its per-host concurrency limit actually enforced.
#
# Scrapy 2.19 hands each download to a new asyncio task, and a request joins its slot's `transferring`
# set only when that task first runs, on a later turn of the event loop. `Downloader._process_queue`
# meanwhile loops `while slot.queue and slot.free_transfer_slots() > 0`, so with no download delay it
# starts *every* request queued for a host at once: measured on the replica, up to 20 requests in flight
# to one host with CONCURRENT_REQUESTS_PER_DOMAIN = 2 (and a new TCP connection for most of them, as the
# connection pool keeps only 2 per host). Here a request counts as transferring from the moment it is
# taken off the queue. `_download` adds it again (a set) and removes it when done, as before.
#
# It also keeps a host's rest: PoliteRetryMiddleware holds a host after a 429/5xx (Retry-After honoured)
# by delaying requests that reach it, but up to CONCURRENT_REQUESTS of them may already wait in the slot's
# queue, past that middleware; they now wait for the hold too (`hold_host`). A host that asked for more rest
# than a crawl waits (`close_host`) gets none of them: each fails as IgnoreRequest, and the spider records it
# failed, for the next crawl. (Slots are keyed by hostname, like Scrapy's own.)

class PerHostDownloader(Downloader):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hold_until: dict[str, float] = {}  # slot key -> monotonic time before which nothing starts
        self.closed: dict[str, str] = {}  # slot key -> why its queued requests fail at once

    def hold_host(self, slot_key: str, until: float) -> None:
        self.hold_until[slot_key] = max(self.hold_until.get(slot_key, 0.0), until)

    def close_host(self, slot_key: str, reason: str) -> None:
        self.closed[slot_key] = reason
        slot = self.slots.get(slot_key)
        if slot is not None:
            self._process_queue(slot)

    def _process_queue(self, slot: Slot) -> None:
        """Scrapy 2.19's `_process_queue`, counting a request as transferring as soon as it is started,
        and keeping a host's hold or closure."""
        if slot.latercall:
            return  # block processing until slot.latercall is called
        if not slot.queue:
            return
        key = slot.queue[0][0].meta.get(self.DOWNLOAD_SLOT, "")  # set by _enqueue_request
        if key in self.closed:
            while slot.queue:
                _, queue_dfd = slot.queue.popleft()
                queue_dfd.errback(Failure(IgnoreRequest(self.closed[key])))
            return
        now = monotonic()
        hold = self.hold_until.get(key, 0.0) - now
        if hold > 0:
            slot.latercall = call_later(hold, self._latercall, slot)
            return
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            slot.transferring.add(request)  # the task below starts on a later turn of the loop
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:  # prevent a burst if inter-request delays are configured
                self._process_queue(slot)
                break


# -- StrictRobotsTxtMiddleware ------------------------------------------------------------------------------

class UnreachableRobots:
    """robots.txt could not be read (5xx, 429, a network error): RFC 9309 2.3.1.4 says assume complete
    disallow. Only for this crawl: the pages are recorded failed, and the next crawl asks again."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def allowed(self, url: str, user_agent: str) -> bool:
        return False


class StrictRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware with two fixes; replaces it in the settings.

    1. Scrapy 2.19 hands the parsed robots.txt only to the first two requests waiting for it: it awaits
       the shared Deferred with `maybe_deferred_to_future`, whose callback returns None, so every later
       waiter gets None, which means "allow everything" (scrapy PR 6802 dropped the pass-through
       callback). A crawl that starts with three or more requests to a host fetched disallowed pages.
       Here each waiter gets its own Deferred fed by a pass-through callback.
    2. Scrapy parses whatever body the robots.txt request returned, so a 503 error page means "no rules".
       RFC 9309: unreachable (5xx, 429 after our retries, network error) means disallow everything;
       a 4xx means no rules.
    """

    async def robot_parser(self, request: Request) -> Any:
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if isinstance(pending, Deferred):
            mine: Deferred[Any] = Deferred()

            def relay(result: Any) -> Any:
                mine.callback(result)
                return result

            pending.addCallback(relay)
            return await maybe_deferred_to_future(mine)
        return await super().robot_parser(request)

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if response.status >= 500 or response.status == 429:
            logger.warning("robots.txt of %s answered HTTP %d: fetching nothing from it in this crawl (RFC 9309)",
                           netloc, response.status)
            self._settle(netloc, UnreachableRobots(f"robots.txt unreachable (HTTP {response.status})"))
            return
        if response.status >= 400:  # no robots.txt: no rules
            self._settle(netloc, build_from_crawler(self._parserimpl, self.crawler, b""))
            return
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if isinstance(exc, IgnoreRequest) and "max redirections" in str(exc):
            super()._robots_error(exc, netloc)  # RFC 9309 2.3.1.2: not reached in 5 redirects: no rules
            return
        # Anything else we refused to read (a redirect off the configured hosts, which we never follow; a
        # body over the size bound, compressed or not) is rules we could not read: nothing is fetched.
        reason = (f"robots.txt unreachable ({exc})" if isinstance(exc, IgnoreRequest) and str(exc)
                  else failure_in_words(exc, netloc))
        # INFO: the listing's own one-line failure says it (what the user reads); -v shows this too.
        logger.info("robots.txt of %s could not be read (%s): fetching nothing from it in this crawl",
                    netloc, reason[:200])
        self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
        self._settle(netloc, UnreachableRobots(reason[:200]))

    def _settle(self, netloc: str, parser: Any) -> None:
        pending = self._parsers.get(netloc)
        self._parsers[netloc] = parser
        if isinstance(pending, Deferred):
            pending.callback(parser)

    def process_request_2(self, rp: Any, request: Request) -> None:
        if isinstance(rp, UnreachableRobots):
            self._stats.inc_value("robotstxt/unreachable")
            raise IgnoreRequest(f"{rp.reason}: nothing fetched from it in this crawl")
        super().process_request_2(rp, request)


# -- small accesses to Scrapy internals ---------------------------------------------------------------------

def downloader_slot(crawler: Any, hostname: str) -> Slot | None:
    """The downloader slot of a host (Scrapy keys them by hostname), if it has one yet."""
    return crawler.engine.downloader.slots.get(hostname)


def hold_host(crawler: Any, hostname: str, until: float) -> None:
    """Requests already queued at the downloader for this host wait until `until` (monotonic) too."""
    downloader = crawler.engine.downloader
    if isinstance(downloader, PerHostDownloader):
        downloader.hold_host(hostname, until)


def close_host(crawler: Any, hostname: str, reason: str) -> None:
    """Requests already queued at the downloader for this host fail at once (IgnoreRequest(reason))."""
    downloader = crawler.engine.downloader
    if isinstance(downloader, PerHostDownloader):
        downloader.close_host(hostname, reason)


def engine_busy(engine: Any) -> bool:
    """Something is downloading, or responses are still being processed."""
    return bool(engine.downloader.active) or not engine.scraper.slot.is_idle()


def wake_engine(engine: Any, delay: float) -> None:
    """Make an idle engine ask its scheduler again after `delay` seconds (Scrapy's own heartbeat is 5 s)."""
    slot = getattr(engine, "_slot", None)
    if slot is not None:
        slot.nextcall.schedule(delay)


def wake_engine_later(engine: Any, delay: float) -> None:
    """Make the engine ask its scheduler again in `delay` seconds, without holding back an earlier call (a
    download ending asks at once, as usual). At most one such wake is pending per engine."""
    slot = getattr(engine, "_slot", None)
    if slot is None:
        return
    due = monotonic() + delay
    pending = getattr(engine, "_gongkai_wake_at", None)
    if pending is not None and monotonic() <= pending <= due:
        return

    def wake() -> None:
        if getattr(engine, "_gongkai_wake_at", None) == due:
            engine._gongkai_wake_at = None
        if engine._slot is slot:
            slot.nextcall.schedule()

    engine._gongkai_wake_at = due
    call_later(delay, wake)


def on_request_finished(engine: Any, callback: Callable[[Request], None]) -> None:
    """Call `callback(request)` when the engine is done with a request it took from the scheduler: downloaded
    (or failed), its callback or errback run and everything it yielded queued or handed to the pipelines.
    Call once the spider is open (the engine's slot exists)."""
    slot = engine._slot
    original = slot.remove_request

    def remove_request(request: Request) -> None:
        try:
            callback(request)
        finally:
            original(request)

    slot.remove_request = remove_request


def decode_request(queue: Any, data: bytes) -> Request:
    """A request as a scrapy-redis queue stored it."""
    return queue._decode_request(data)


# -- guards ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Patch:
    name: str
    relies_on: str
    check: Callable[[], list[str]]  # what no longer fits (empty: the patch still fits)


def _source_hash(function: Callable[..., Any]) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def _parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def _expect(problems: list[str], what: str, ok: bool) -> None:
    if not ok:
        problems.append(what)


def _signature(problems: list[str], owner: Any, name: str, parameters: list[str], *,
               source: str | None = None, coroutine: bool | None = None) -> None:
    function = getattr(owner, name, None)
    label = f"{getattr(owner, '__qualname__', getattr(owner, '__name__', owner))}.{name}"
    if function is None:
        problems.append(f"{label} is gone")
        return
    if _parameters(function) != parameters:
        problems.append(f"{label}{inspect.signature(function)}: expected ({', '.join(parameters)})")
    if coroutine is not None and inspect.iscoroutinefunction(function) != coroutine:
        problems.append(f"{label} is {'no longer' if coroutine else 'now'} a coroutine function")
    if source is not None and _source_hash(function) != source:
        problems.append(f"{label} changed (source hash {_source_hash(function)}, written for {source}): "
                        "compare it with the copy or override here")


def _init_sets(problems: list[str], cls: type, attributes: tuple[str, ...]) -> None:
    init = inspect.getsource(cls.__init__)
    for attribute in attributes:
        _expect(problems, f"{cls.__qualname__}.__init__ no longer sets self.{attribute}",
                f"self.{attribute}" in init)


def _check_downloader() -> list[str]:
    from scrapy.utils import defer

    problems: list[str] = []
    # PerHostDownloader._process_queue is a copy of this method: a change upstream must be looked at.
    _signature(problems, Downloader, "_process_queue", ["self", "slot"], source="872b81a4bbb4cb1a")
    _signature(problems, Downloader, "_latercall", ["self", "slot"])
    _signature(problems, Downloader, "_wait_for_download", ["self", "slot", "request", "queue_dfd"], coroutine=True)
    _signature(problems, defer, "_schedule_coro", ["coro"])
    _expect(problems, "Downloader.DOWNLOAD_SLOT is no longer 'download_slot'",
            getattr(Downloader, "DOWNLOAD_SLOT", None) == "download_slot")
    _init_sets(problems, Downloader, ("slots", "active"))
    _init_sets(problems, Slot, ("queue", "transferring", "latercall", "lastseen", "delay", "jitter"))
    for method in ("free_transfer_slots", "download_delay"):
        _expect(problems, f"Slot.{method} is gone", callable(getattr(Slot, method, None)))
    return problems


def _check_robots() -> list[str]:
    problems: list[str] = []
    # Fix 1 works around robot_parser's shared Deferred; fix 2 replaces _parse_robots/_robots_error.
    _signature(problems, RobotsTxtMiddleware, "robot_parser", ["self", "request"], source="4e961c394befa0fc",
               coroutine=True)
    _signature(problems, RobotsTxtMiddleware, "_parse_robots", ["self", "response", "netloc", "request"],
               source="7d8641e3b334d6ef", coroutine=True)
    _signature(problems, RobotsTxtMiddleware, "_robots_error", ["self", "exc", "netloc"], source="aa683557e6983923")
    _signature(problems, RobotsTxtMiddleware, "process_request_2", ["self", "rp", "request"])
    _init_sets(problems, RobotsTxtMiddleware, ("_parsers", "_parserimpl", "_stats"))
    return problems


def _check_engine() -> list[str]:
    from scrapy.core.engine import ExecutionEngine, _Slot
    from scrapy.core.scraper import Scraper
    from scrapy.core.scraper import Slot as ScraperSlot
    from scrapy.utils.reactor import CallLaterOnce

    problems: list[str] = []
    _init_sets(problems, ExecutionEngine, ("_slot", "downloader", "scraper"))
    _init_sets(problems, _Slot, ("nextcall", "inprogress"))
    _signature(problems, _Slot, "remove_request", ["self", "request"])
    # on_request_finished: the engine removes a scheduled request from its slot once its output is handled
    _expect(problems, "ExecutionEngine._remove_request no longer calls self._slot.remove_request",
            "_slot.remove_request(" in inspect.getsource(ExecutionEngine._remove_request))
    _expect(problems, "ExecutionEngine._start_scheduled_request no longer removes the request after its output",
            "_remove_request" in inspect.getsource(ExecutionEngine._start_scheduled_request))
    _signature(problems, CallLaterOnce, "schedule", ["self", "delay"])
    _init_sets(problems, Scraper, ("slot",))
    _signature(problems, ScraperSlot, "is_idle", ["self"])
    return problems


def _check_scrapy_redis() -> list[str]:
    from scrapy_redis.queue import Base, PriorityQueue

    problems: list[str] = []
    _signature(problems, Base, "_decode_request", ["self", "encoded_request"])
    _signature(problems, PriorityQueue, "pop", ["self", "timeout"])
    _init_sets(problems, Base, ("spider", "server", "key"))
    return problems


def _check_public_hooks() -> list[str]:
    """Not patches: the public hooks used instead of private code, newer than Scrapy 2.17 (so a downgrade shows)."""
    from scrapy.downloadermiddlewares.retry import get_retry_request
    from scrapy.robotstxt import RobotParser

    problems: list[str] = []
    parameters = _parameters(get_retry_request)
    for name in ("request", "spider", "reason", "max_retry_times", "priority_adjust", "logger", "give_up_log_level"):
        _expect(problems, f"get_retry_request takes no {name}=", name in parameters)
    _signature(problems, RobotParser, "crawl_delay", ["self", "user_agent"])
    return problems


PATCHES: tuple[Patch, ...] = (
    Patch("PerHostDownloader", "Downloader._process_queue (copied), _latercall, _wait_for_download, DOWNLOAD_SLOT, "
          "slots, active; Slot.queue/transferring/latercall/lastseen/delay/jitter; scrapy.utils.defer._schedule_coro",
          _check_downloader),
    Patch("StrictRobotsTxtMiddleware", "RobotsTxtMiddleware.robot_parser, _parse_robots, _robots_error, "
          "process_request_2, _parsers, _parserimpl, _stats", _check_robots),
    Patch("engine_busy/wake_engine/on_request_finished", "ExecutionEngine._slot.nextcall.schedule, "
          "_slot.remove_request (via _remove_request), downloader.active, scraper.slot.is_idle", _check_engine),
    Patch("decode_request", "scrapy_redis.queue.Base._decode_request, .spider; PriorityQueue.pop",
          _check_scrapy_redis),
    Patch("public hooks", "get_retry_request (PoliteRetryMiddleware), RobotParser.crawl_delay (Crawl-delay)",
          _check_public_hooks),
)


def version_problems() -> list[str]:
    """Installed Scrapy / scrapy-redis versions the patches were not written for."""
    from importlib.metadata import version

    problems = []
    if scrapy.__version__ not in TESTED_SCRAPY:
        problems.append(f"Scrapy {scrapy.__version__}: the patches in gongkai/crawler/scrapy_patches.py were "
                        f"written for {', '.join(TESTED_SCRAPY)}")
    redis_version = version("scrapy-redis")
    if redis_version not in TESTED_SCRAPY_REDIS:
        problems.append(f"scrapy-redis {redis_version}: decode_request was written for {', '.join(TESTED_SCRAPY_REDIS)}")
    return problems


def check_patches() -> dict[str, list[str]]:
    """Each patch's problems with the installed Scrapy (only patches with some)."""
    found = {patch.name: patch.check() for patch in PATCHES}
    return {name: problems for name, problems in found.items() if problems}
