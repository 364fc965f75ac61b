"""The first vertical slice end to end: replica jcms portals -> `gongkai crawl` -> PostgreSQL -> export.

The replica serves five county portals (one per seed layout, one in GBK, a 52-record column that needs
dataproxy paging, flaky 503s, a 429 with Retry-After, a withdrawn 404, a robots-disallowed record),
each on its own loopback address. Every field of every report is compared with the data the replica
rendered the page from.
"""

from __future__ import annotations

import json
from collections import defaultdict

import psycopg
import pytest

from gongkai_replica.demo import build_demo_sites
from gongkai_replica.server import ReplicaServer
from tests.test_cli import gongkai

FIELDS = ["title", "body", "index_no", "publisher", "doc_no", "written_date", "published_date", "category",
          "metadata"]


@pytest.fixture(scope="module")
def replica():
    with ReplicaServer(build_demo_sites()) as server:
        yield server


def every_article(server: ReplicaServer):
    """(site, column_id, article, url) for every listed article of every column."""
    for site in server.sites.values():
        for column in site.columns:
            for article in column.articles:
                yield site, column.column_id, article, server.article_url(site.name, article, column.column_id)


def first_difference(got, expected) -> str:
    """Where two values part, with a little context: bodies are too long to print whole."""
    if isinstance(got, str) and isinstance(expected, str):
        i = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
                 min(len(got), len(expected)))
        return f"at char {i}: got {got[max(0, i - 30):i + 30]!r} expected {expected[max(0, i - 30):i + 30]!r}"
    return f"got {got!r} expected {expected!r}"


def export(database_url: str, *extra: str) -> list[dict]:
    result = gongkai("export", "--format", "jsonl", *extra, database_url=database_url)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def crawled(replica, admin_url):
    """One full crawl of every listing into a fresh database (module-scoped: it is the expensive part)."""
    import uuid

    from tests.conftest import _with_dbname

    name = f"gongkai_test_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_dbname(admin_url, name)
    replica.clear_requests()
    listing_urls = [u for site in replica.sites.values() for u in replica.listing_urls(site.name)]
    result = gongkai("crawl", *listing_urls, "--delay", "0", database_url=url, timeout=300)
    yield url, result, list(replica.requests)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_crawl_exits_cleanly(crawled):
    _, result, _ = crawled
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_every_article_is_a_report_with_exact_fields(replica, crawled):
    database_url, _, _ = crawled
    by_url = {}
    for report in export(database_url):
        for url in report["urls"]:
            by_url[url] = report
    checked = 0
    mismatches = []
    for _site, _col, article, url in every_article(replica):
        if article.withdrawn or article.private:
            continue
        assert url in by_url, f"no report for {url}"
        report = by_url[url]
        expected = article.expected
        for name in FIELDS:
            if report[name] != getattr(expected, name):
                mismatches.append(f"{url} {name}: {first_difference(report[name], getattr(expected, name))}")
        attachments = [{"name": a.name, "url": a.url} for a in expected.attachments]
        if report["attachments"] != attachments:
            mismatches.append(f"{url} attachments: {report['attachments']!r} != {attachments!r}")
        checked += 1
    assert not mismatches, "\n".join(mismatches[:10]) + f"\n({len(mismatches)} mismatches)"
    assert checked >= 100


def test_one_article_in_two_columns_is_one_report(replica, crawled):
    database_url, _, _ = crawled
    urls_by_key = defaultdict(set)
    for site, _col, article, url in every_article(replica):
        if not (article.withdrawn or article.private):
            urls_by_key[(site.name, article.article_id)].add(url)
    shared = {key: urls for key, urls in urls_by_key.items() if len(urls) > 1}
    assert shared, "the replica should list at least one article under two columns"
    reports = export(database_url)
    for urls in shared.values():
        holders = [r for r in reports if urls & set(r["urls"])]
        assert len(holders) == 1 and urls <= set(holders[0]["urls"])
    assert len(reports) == len(urls_by_key)


def test_withdrawn_and_blocked_articles(replica, crawled):
    database_url, _, requests = crawled
    with psycopg.connect(database_url) as conn:
        states = dict(conn.execute("SELECT url, state FROM crawl_urls").fetchall())
    live = defaultdict(list)  # an article's URLs (two for one under two columns): one fetched, the others aliases
    for site, _col, article, url in every_article(replica):
        if article.withdrawn:
            assert states[url] == "gone"
        elif article.private:
            assert states[url] == "blocked"
        else:
            live[(site.name, article.article_id)].append(states[url])
    assert {key: sorted(found) for key, found in live.items()} == {
        key: ["alias"] * (len(found) - 1) + ["fetched"] for key, found in live.items()}
    assert not [r for r in requests if r.path.startswith("/private/")], "requested a robots-disallowed path"
    assert not [r for r in requests if r.path.startswith("/module/visitcount/")]


def test_politeness_robots_first_and_retries_honoured(replica, crawled):
    _, _, requests = crawled
    by_site = defaultdict(list)
    for entry in requests:
        by_site[entry.site].append(entry)
    for site, entries in by_site.items():
        assert entries[0].path == "/robots.txt", f"{site}: first request was {entries[0].path}"
    by_path = defaultdict(list)
    for entry in requests:
        by_path[(entry.site, entry.path)].append(entry)
    flaky = [e for e in by_path.values() if e[0].status == 503]
    assert flaky and all(e[-1].status == 200 for e in flaky), "503 pages must be retried until they answer"
    throttled = [e for e in by_path.values() if e[0].status == 429]
    assert throttled
    for entries in throttled:
        assert entries[-1].status == 200
        assert entries[1].time - entries[0].time >= 1.0, "Retry-After: 1 was not honoured"


def test_dataproxy_paging_posted_the_page_form(replica, crawled):
    _, _, requests = crawled
    posts = [r for r in requests if r.path.endswith("/dataproxy.jsp")]
    assert posts and all(r.method == "POST" for r in posts)
    form = dict(posts[0].form)
    assert set(form) == {"col", "appid", "webid", "path", "columnid", "sourceContentType", "unitid", "webname",
                         "permissiontype"}


def test_ingest_again_and_recrawl_change_nothing(replica, crawled):
    database_url, _, _ = crawled
    before = export(database_url)
    top = max(r["seq"] for r in before)
    again = gongkai("ingest", database_url=database_url)
    assert again.returncode == 0, again.stderr
    listing_urls = [u for site in replica.sites.values() for u in replica.listing_urls(site.name)]
    recrawl = gongkai("crawl", *listing_urls, "--delay", "0", database_url=database_url, timeout=300)
    assert recrawl.returncode == 0, recrawl.stderr
    assert export(database_url, "--since", str(top)) == []
    assert export(database_url) == before
