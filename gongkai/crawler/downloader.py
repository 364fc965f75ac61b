"""Scrapy's downloader with its per-host concurrency limit actually enforced.

Scrapy 2.19 hands each download to a new asyncio task, and a request joins its slot's `transferring`
set only when that task first runs, on a later turn of the event loop. `Downloader._process_queue`
meanwhile loops `while slot.queue and slot.free_transfer_slots() > 0`, so with no download delay it
starts *every* request queued for a host at once: measured on the replica, up to 20 requests in flight
to one host with CONCURRENT_REQUESTS_PER_DOMAIN = 2 (and a new TCP connection for most of them, as the
connection pool keeps only 2 per host). Here a request counts as transferring from the moment it is
taken off the queue. `_download` adds it again (a set) and removes it when done, as before.

It also keeps a host's rest: PoliteRetryMiddleware holds a host after a 429/5xx (Retry-After honoured)
by delaying requests that reach it, but up to CONCURRENT_REQUESTS of them may already wait in the slot's
queue, past that middleware; they now wait for the hold too (`hold_host`). A host that asked for more rest
than a crawl waits (`close_host`) gets none of them: each fails as IgnoreRequest, and the spider records it
failed, for the next crawl. (Slots are keyed by hostname, like Scrapy's own.)
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from scrapy.core.downloader import Downloader, Slot
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro
from twisted.python.failure import Failure


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

