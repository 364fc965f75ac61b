"""robots.txt faults: rules that must hold for every request waiting on them, and a robots.txt that
cannot be read (RFC 9309: unreachable means disallow everything, for this crawl only)."""

from __future__ import annotations

import psycopg

from gongkai_replica import faults as F
from tests.faults.helpers import check_invariants, crawl, frontier, gongkai_lines, reports_by_url


def _article_gets(server: F.FaultServer, since: int = 0) -> list[str]:
    return [path for method, path, _, _ in server.log[since:] if path.startswith("/art/")]


def test_new_disallow_holds_for_every_waiting_request(database_url):
    """Scrapy 2.19 gave the parsed robots.txt only to the first two requests waiting for it: the rest
    were let through. A crawl that retries many articles at once must not fetch a single one that the
    portal's robots.txt now disallows."""
    site = F.fault_site("robots-waiters", 8, per_page=15)
    with F.FaultServer(site, F.fault_address(70)) as server:
        first = crawl(server.listing_url, database_url=database_url)
        assert first.returncode == 0, first.stderr
        assert len(reports_by_url(database_url)) == 8
        with psycopg.connect(database_url, autocommit=True) as conn:  # all eight to be fetched again
            conn.execute("UPDATE crawl_urls SET state = 'failed'")
        server.set_fault("/robots.txt", F.page(b"User-agent: *\nDisallow: /art/\n", "text/plain"))
        mark = len(server.log)
        second = crawl(server.listing_url, database_url=database_url)
        assert second.returncode == 0, second.stderr
        assert _article_gets(server, mark) == [], "fetched articles robots.txt disallows"
    states = {url: state for url, (state, _) in frontier(database_url).items()}
    assert sorted(states.values()) == ["blocked"] * 8, states
    assert len(reports_by_url(database_url)) == 8  # what was stored stays
    check_invariants(database_url)


def test_unreachable_robots_fetches_nothing_until_it_answers(database_url):
    site = F.fault_site("robots-503", 6, per_page=15)
    with F.FaultServer(site, F.fault_address(71)) as server:
        server.set_fault("/robots.txt", F.status(503))
        result = crawl(server.listing_url, database_url=database_url)
        assert result.returncode == 1, result.stderr
        assert [p for _, p, _, _ in server.log if p != "/robots.txt"] == [], "fetched pages past a 503 robots.txt"
        assert server.hits_for("/robots.txt") >= 2, "robots.txt was not retried before giving up"
        lines = gongkai_lines(result)
        assert any("robots.txt unreachable (HTTP 503)" in line for line in lines), result.stderr
        assert reports_by_url(database_url) == {}

        server.heal()
        again = crawl(server.listing_url, database_url=database_url)
        assert again.returncode == 0, again.stderr
    assert len(reports_by_url(database_url)) == 6
    check_invariants(database_url)


def test_robots_we_refuse_to_read_means_nothing_fetched(database_url):
    """A robots.txt that redirects off the configured hosts (which we never follow) or is too large once
    decompressed has rules we could not read: nothing is fetched, as if unreachable. Before, both meant
    "no rules", so a portal whose (unread) robots.txt said Disallow: / was crawled in full."""
    sentinel = F.fault_site("robots-elsewhere", 1, skip=60)
    site = F.fault_site("robots-refused", 4, skip=61)
    with F.FaultServer(sentinel, F.fault_address(72)) as elsewhere, F.FaultServer(site, F.fault_address(73)) as server:
        elsewhere.set_fault("/robots.txt", F.page(b"User-agent: *\nDisallow: /\n", "text/plain"))
        for fault in (F.redirect(f"{elsewhere.base_url}/robots.txt"), F.Fault("gzip_bomb", size=64 << 20)):
            server.set_fault("/robots.txt", fault)
            mark = len(server.log)
            result = crawl(server.listing_url, database_url=database_url)
            assert result.returncode == 1, result.stderr
            assert [p for _, p, _, _ in server.log[mark:] if p != "/robots.txt"] == [], fault
            assert any("robots.txt unreachable" in line for line in gongkai_lines(result)), result.stderr
        assert [p for _, p, _, _ in elsewhere.log] == []  # the redirect was not followed
    assert reports_by_url(database_url) == {}
