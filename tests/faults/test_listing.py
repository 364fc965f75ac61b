"""Listing and dataproxy faults: each on its own fault site (host), all crawled in one run; then the
portals heal and a routine recrawl must end with every article stored exactly once.

Sites page 5 records at a time (perPage 5, groupSize 1), so 12 articles need two dataproxy calls.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from gongkai_replica import faults as F
from gongkai_replica.jcms import PROXY_PATH, dataproxy_xml
from tests.faults.helpers import check_invariants, crawl, gongkai_lines, reports_by_url, staged_once

SECRET = "GONGKAI-XXE-SECRET-7f3a"
NAMES = ["truncated listing", "malformed datastore", "truncated dataproxy", "billion laughs", "xxe",
         "endless paging", "listing 503 burst", "listing challenge", "listing 503 always"]


def _proxy_window(site, start: int, end: int) -> str:
    column = site.columns[0]
    return dataproxy_xml(site, {"columnid": str(column.column_id), "webid": str(site.webid),
                                "unitid": str(site.unitid), "startrecord": str(start), "endrecord": str(end),
                                "perpage": "5"})


@pytest.fixture(scope="module")
def portals(tmp_path_factory):
    secret = tmp_path_factory.mktemp("xxe") / "secret.txt"
    secret.write_text(SECRET)
    servers = {}
    for n, name in enumerate(NAMES):
        count, skip = (12, 12 * n) if n < 7 else (1, 84 + n)
        site = F.fault_site(f"listing-{n}", count, skip=skip, per_page=5, group_size=1)
        servers[name] = F.FaultServer(site, F.fault_address(10 + n)).start()
    try:
        for name, server in servers.items():
            listing = server._real("GET", server.listing_path, "", []).body.decode("utf-8")
            if name == "truncated listing":
                server.set_fault(server.listing_path, F.page(listing[: listing.index("</recordset>") - 200].encode()))
            elif name == "malformed datastore":
                broken = listing.replace("<li>", "<li><b><font color=red>", 3).replace("</a>", "</a></i></td>&", 3)
                server.set_fault(server.listing_path, F.page(broken.encode()))
            elif name == "truncated dataproxy":
                xml = _proxy_window(server.site, 6, 10)
                server.set_fault(PROXY_PATH, F.page(xml[: len(xml) // 2].encode(), "text/xml; charset=UTF-8"))
            elif name == "billion laughs":
                xml = _proxy_window(server.site, 6, 10)
                bomb = F.billion_laughs_xml(F.records_of(xml), 12)
                server.set_fault(PROXY_PATH, F.page(bomb.encode(), "text/xml; charset=UTF-8", times=1))
            elif name == "xxe":
                xml = _proxy_window(server.site, 6, 10)
                hostile = F.xxe_xml(F.records_of(xml), 12, str(secret)).replace(
                    "<recordset>", '<recordset>\n<record><![CDATA[<li><a href="/art/2020/1/2/art_1_2.html" '
                                   'title="&xxe;">&xxe;</a><span>2020-01-02</span></li>]]></record>', 1)
                server.set_fault(PROXY_PATH, F.page(hostile.encode(), "text/xml; charset=UTF-8", times=1))
            elif name == "endless paging":
                server.set_fault(PROXY_PATH, F.Fault("endless"))
            elif name == "listing 503 burst":
                server.set_fault(server.listing_path, F.status(503, times=2))
            elif name == "listing challenge":
                server.set_fault(server.listing_path, F.page(F.CHALLENGE_SHELL))
            elif name == "listing 503 always":
                server.set_fault(server.listing_path, F.status(503))
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module")
def first(portals, database_url_module):
    started = time.monotonic()
    result = crawl(*(s.listing_url for s in portals.values()), database_url=database_url_module)
    return database_url_module, result, time.monotonic() - started


@pytest.fixture(scope="module")
def healed(portals, first):
    database_url = first[0]
    for server in portals.values():
        server.heal()
    return database_url, crawl(*(s.listing_url for s in portals.values()), database_url=database_url)


def test_broken_listings_fail_with_one_clear_line_each(portals, first):
    _, result, _ = first
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = gongkai_lines(result)
    for name in ("truncated listing", "truncated dataproxy", "listing challenge", "listing 503 always"):
        url = portals[name].listing_url
        mine = [line for line in lines if url in line]
        assert len(mine) == 1, (name, lines)
    assert "HTTP 503" in next(line for line in lines if portals["listing 503 always"].listing_url in line)
    assert "pagination" in next(line for line in lines if portals["truncated dataproxy"].listing_url in line)
    assert len(lines) == 4, lines


def test_listings_that_recover_or_parse_leniently_are_complete(portals, first):
    database_url = first[0]
    reports = reports_by_url(database_url)
    for name in ("malformed datastore", "billion laughs", "xxe", "listing 503 burst"):
        server = portals[name]
        missing = [server.url(a) for a in server.column.articles if server.url(a) not in reports]
        assert not missing, (name, missing)


def test_entities_are_never_expanded(portals, first):
    database_url, _, elapsed = first
    assert elapsed < 90
    with psycopg.connect(database_url) as conn:
        titles = [row[0] or "" for row in conn.execute("SELECT listing_title FROM crawl_urls")]
        everything = conn.execute("SELECT string_agg(coalesce(listing_title, '') || coalesce(last_error, ''), ' ') "
                                  "FROM crawl_urls").fetchone()[0]
    assert max(len(t) for t in titles) < 200
    assert "lollol" not in everything
    assert SECRET not in everything
    assert SECRET not in first[1].stderr


def test_endless_paging_stops(portals, first):
    """A routine crawl stops at the first window holding nothing new (proxy ignores the window)."""
    server = portals["endless paging"]
    posts = server.requests_for(PROXY_PATH)
    assert 1 <= len(posts) <= 4, posts
    reports = reports_by_url(first[0])
    assert all(server.url(a) in reports for a in server.column.records()[:5])


def test_after_healing_a_routine_recrawl_completes_every_listing(portals, healed):
    database_url, result = healed
    assert result.returncode == 0, result.stderr
    reports = reports_by_url(database_url)
    expected_urls = [s.url(a) for s in portals.values() for a in s.column.articles]
    missing = [url for url in expected_urls if url not in reports]
    assert not missing, missing
    staged_once(database_url, expected_urls)
    check_invariants(database_url)


def test_endless_paging_stops_on_a_full_walk_too(portals, healed):
    """--full walks every page: repeated windows and a growing total still end it, with a log line."""
    server = portals["endless paging"]
    server.set_fault(PROXY_PATH, F.Fault("endless"))
    before = len(server.requests_for(PROXY_PATH))
    result = crawl(server.listing_url, database_url=healed[0], flags=("--full",))
    assert result.returncode == 0, result.stderr
    assert len(server.requests_for(PROXY_PATH)) - before <= 4
    assert "stopped paging" in result.stderr
