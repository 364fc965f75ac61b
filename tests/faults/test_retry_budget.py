"""One crawl's retries of a host are bounded (issue 24, 4): a host with 23 permanently failing articles held its
crawl for 221 s (every failure's 2+4+8 s backoff holds the whole host). Now a host gets RETRIES_PER_HOST retries
(and GONGKAI_HOST_RETRY_BUDGET seconds of holds) per crawl; past them each failing article is tried once, left
`failed`, and fetched again by the next crawl. Counted in requests at the replica, not timed."""

from __future__ import annotations

from collections import Counter

import pytest

from gongkai.crawler.middlewares import RETRIES_PER_HOST
from gongkai_replica import faults as F
from tests.faults.helpers import check_invariants, crawl, frontier, reports_by_url

FAILING = 23


@pytest.fixture(scope="module")
def crawls(database_url_module):
    site = F.fault_site("retry-budget", FAILING + 2, skip=30)
    with F.FaultServer(site, F.fault_address(35)) as server:
        failing = server.column.articles[:FAILING]
        for article in failing:
            server.set_fault(server.path(article), F.status(503))
        first = crawl(server.listing_url, database_url=database_url_module)
        since = len(server.log)
        after_first = frontier(database_url_module)
        server.heal()
        second = crawl(server.listing_url, database_url=database_url_module)
        yield server, failing, first, since, after_first, second, database_url_module


def test_a_host_failing_page_after_page_gets_a_bounded_number_of_retries(crawls):
    server, failing, first, since, states, _, _ = crawls
    assert first.returncode == 0, first.stderr
    requested = Counter(path for _, path, _, _ in server.log[:since])
    tries = sum(requested[server.path(a)] for a in failing)
    assert all(requested[server.path(a)] >= 1 for a in failing)  # every article is still tried
    assert tries <= FAILING + RETRIES_PER_HOST, tries  # 92 before (each retried RETRY_TIMES=3 times)
    assert "retries spent" in first.stderr
    assert [states[server.url(a)][0] for a in failing] == ["failed"] * FAILING, [states[server.url(a)] for a in failing]


def test_the_next_crawl_fetches_them(crawls):
    server, failing, _, _, _, second, database_url = crawls
    assert second.returncode == 0, second.stderr
    reports = reports_by_url(database_url)
    assert all(server.url(a) in reports for a in server.column.articles)
    check_invariants(database_url)
