"""URLs that need percent-encoding settle (issue 24, 2): one key per URL, the form sent on the wire.

A listing linking articles with a space, a `'`, a `;` or a NUL in their URL: each is fetched once, recorded
once in crawl_urls (under `gongkai.urls.wire_url`), stored once; a routine recrawl fetches nothing again and
a full one withdraws nothing.
"""

from __future__ import annotations

from collections import Counter

import psycopg
import pytest

from gongkai.urls import wire_url
from gongkai_replica import faults as F
from tests.faults.helpers import check_invariants, crawl, frontier, reports_by_url

# How each of the first four articles' links are spelt in the listing (a suffix to the .html path's stem).
ODD_LINKS = {
    "space": ("_a b", "_a%20b"),
    "quote": ("_it&#39;s", "_it's"),
    "semicolon": (";jsessionid=7F3A", ";jsessionid=7F3A"),
    # an HTML parser reads a NUL in an attribute as U+FFFD (so does a browser): that is what goes on the wire
    "nul": ("_x\x00y", "_x%EF%BF%BDy"),
}


def _odd_listing(server: F.FaultServer) -> bytes:
    from gongkai_replica.server import ReplicaServer

    html = ReplicaServer([server.site])._route(server.site, "GET", server.listing_path, "", []).body.decode("utf-8")
    for article, (written, _) in zip(server.column.articles, ODD_LINKS.values(), strict=False):
        path = server.path(article)
        assert html.count(path) == 1, path
        html = html.replace(path, path.removesuffix(".html") + written + ".html")
    return html.encode("utf-8")


@pytest.fixture(scope="module")
def crawls(database_url_module):
    site = F.fault_site("url-forms", 8, skip=72)
    with F.FaultServer(site, F.fault_address(31)) as server:
        server.set_fault(server.listing_path, F.page(_odd_listing(server)))
        wire_paths = {}
        for article, (name, (_, on_wire)) in zip(server.column.articles, ODD_LINKS.items(), strict=False):
            wire_paths[name] = server.path(article).removesuffix(".html") + on_wire + ".html"
            # the portal serves the article there (a real server decodes its path)
            server.set_fault(wire_paths[name], F.page(server.real_page(article).encode("utf-8")))
        results = []
        for flags in ((), (), ("--full",)):
            since = len(server.log)
            result = crawl(server.listing_url, database_url=database_url_module, flags=flags)
            results.append((result, [path for _, path, _, _ in server.log[since:]]))
        yield server, wire_paths, results, database_url_module


def test_each_odd_url_is_one_frontier_row_in_its_wire_form(crawls):
    server, wire_paths, results, database_url = crawls
    assert all(result.returncode == 0 for result, _ in results), [r.stderr for r, _ in results]
    rows = frontier(database_url)
    assert len(rows) == len(server.column.articles), sorted(rows)
    for name, path in wire_paths.items():
        url = server.base_url + path
        assert wire_url(url) == url
        assert rows.get(url, (None,))[0] == "fetched", (name, rows.get(url), sorted(rows))


def test_the_first_crawl_fetches_each_article_once(crawls):
    server, wire_paths, results, _ = crawls
    requested = Counter(results[0][1])
    for name, path in wire_paths.items():
        assert requested[path] == 1, (name, requested)


def test_a_routine_recrawl_fetches_nothing_again(crawls):
    server, _, results, _ = crawls
    assert [p for p in results[1][1] if p not in ("/robots.txt", server.listing_path)] == []


def test_a_full_recrawl_withdraws_nothing(crawls):
    server, wire_paths, results, database_url = crawls
    result, requested = results[2]
    assert [p for p in requested if p.startswith("/art/")] == [], requested
    reports = reports_by_url(database_url)
    for name, path in wire_paths.items():
        report = reports.get(server.base_url + path)
        assert report is not None and report["withdrawn_at"] is None, (name, report and report["withdrawn_at"])
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM crawl_urls WHERE delisted_at IS NOT NULL OR state = 'gone'"
                            ).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM reports").fetchone()[0] == len(server.column.articles)
    check_invariants(database_url)


def test_rows_listed_before_the_fix_settle_into_the_wire_form(db):
    from gongkai.crawler.frontier import retry_rows, settle_url_forms

    db.autocommit = True
    raw, fetched_raw = "http://h.gov.cn/art/1/a b.html", "http://h.gov.cn/art/2/c d.html"
    rows = [(raw, "pending", "title a"), (wire_url(raw), "fetched", None),  # listed raw, fetched encoded
            (fetched_raw, "failed", "title c"),  # listed raw, never fetched in either form
            ("http://h.gov.cn/art/3/plain.html", "pending", "plain")]
    for url, state, title in rows:
        db.execute("INSERT INTO crawl_urls (url, site, column_url, state, listing_title) VALUES (%s, 's', 'c', %s, %s)",
                   (url, state, title))
    assert settle_url_forms(db, ["s"]) == 2
    assert dict(db.execute("SELECT url, state FROM crawl_urls").fetchall()) == {
        wire_url(raw): "fetched", wire_url(fetched_raw): "failed", "http://h.gov.cn/art/3/plain.html": "pending"}
    assert db.execute("SELECT listing_title FROM crawl_urls WHERE url = %s", (wire_url(raw),)).fetchone()[0] == "title a"
    assert {r["url"] for r in retry_rows(db, ["s"])} == {"http://h.gov.cn/art/3/plain.html", wire_url(fetched_raw)}
    assert settle_url_forms(db, ["s"]) == 0
