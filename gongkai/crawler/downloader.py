"""Scrapy's downloader with its per-host concurrency limit actually enforced.

Scrapy 2.19 hands each download to a new asyncio task, and a request joins its slot's `transferring`
set only when that task first runs, on a later turn of the event loop. `Downloader._process_queue`
meanwhile loops `while slot.queue and slot.free_transfer_slots() > 0`, so with no download delay it
starts *every* request queued for a host at once: measured on the replica, up to 20 requests in flight
to one host with CONCURRENT_REQUESTS_PER_DOMAIN = 2 (and a new TCP connection for most of them, as the
connection pool keeps only 2 per host). Here a request counts as transferring from the moment it is
taken off the queue. `_download` adds it again (a set) and removes it when done, as before.
"""

from __future__ import annotations

from time import monotonic

from scrapy.core.downloader import Downloader, Slot
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro


class PerHostDownloader(Downloader):
    def _process_queue(self, slot: Slot) -> None:
        """Scrapy 2.19's `_process_queue`, counting a request as transferring as soon as it is started."""
        if slot.latercall:
            return  # block processing until slot.latercall is called
        now = monotonic()
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

