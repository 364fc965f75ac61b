"""Process faults: kill -9 of a crawl and of an ingest worker mid-batch, then restart; kill -9 of a crawl
between an article's staging and its report file's fetch.

Invariant: every page ends up staged once and ingested once; every article is one report; every report
file an article links is fetched, the crawl that found it died or not.
"""

from __future__ import annotations

import os
import signal
import uuid

import psycopg
import pytest

from gongkai.ingest.run import BATCH_SIZE
from gongkai_replica import attached
from gongkai_replica import faults as F
from tests.faults.helpers import check_invariants, crawl, reports_by_url, run, spawn, staged_once


@pytest.fixture
def server():
    site = F.fault_site("kill", 30, skip=60, per_page=5, group_size=2)
    with F.FaultServer(site, F.fault_address(40)) as srv:
        yield srv


@pytest.fixture
def attachment_server():
    """The replica's jcms portal whose reports are in their files (the demo's: every file served right)."""
    with F.FaultServer(attached.jcms_site(broken=False), F.fault_address(42)) as srv:
        yield srv


def _count(database_url: str, sql: str, params: tuple = ()) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def test_kill_crawl_mid_batch_then_restart(server, database_url):
    proc = spawn("crawl", server.listing_url, "--delay", "0.05", "--concurrency", "1",
                 database_url=database_url)
    staged = F.wait_until(lambda: _count(database_url, "SELECT count(*) FROM staged_pages") >= 8, timeout=60)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert staged
    before = _count(database_url, "SELECT count(*) FROM staged_pages")
    assert before < 30, "the crawl finished before it could be killed"
    result = crawl(server.listing_url, database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert "did not finish cleanly" in result.stderr
    urls = [server.url(a) for a in server.column.articles]
    staged_once(database_url, urls)
    reports = reports_by_url(database_url)
    assert all(url in reports for url in urls) and len({r["id"] for r in reports.values()}) == len(urls)
    check_invariants(database_url)


def test_kill_ingest_worker_mid_batch_then_restart(server, database_url):
    result = crawl(server.listing_url, database_url=database_url, flags=("--no-ingest",))
    assert result.returncode == 0, result.stderr
    with psycopg.connect(database_url) as conn:  # stage each page again until there are 3 batches or more
        staged = conn.execute("SELECT count(*) FROM staged_pages").fetchone()[0]
        conn.execute("""INSERT INTO staged_pages (url, final_url, site, column_url, listing_title, listing_date, status,
                            headers, body, body_sha256, fetched_at)
                        SELECT url, final_url, site, column_url, listing_title, listing_date, status, headers, body,
                               body_sha256, fetched_at FROM staged_pages, generate_series(1, %s)""",
                     (-(-3 * BATCH_SIZE // staged) - 1,))
    total = _count(database_url, "SELECT count(*) FROM staged_pages")
    worker = spawn("ingest", database_url=database_url)
    done = "SELECT count(*) FROM staged_pages WHERE ingest_state <> 'pending'"
    assert F.wait_until(lambda: _count(database_url, done) > 0, timeout=60, interval=0.005)
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=30)
    assert _count(database_url, done) < total, "the ingest finished before it could be killed"
    again = run("ingest", database_url=database_url)
    assert again.returncode == 0, again.stderr
    assert _count(database_url, "SELECT count(*) FROM staged_pages WHERE ingest_state = 'done'") == total
    reports = reports_by_url(database_url)
    urls = [server.url(a) for a in server.column.articles]
    assert all(url in reports for url in urls) and len({r["id"] for r in reports.values()}) == len(urls)
    assert all(r["version"] == 1 for r in reports.values())
    check_invariants(database_url)


@pytest.fixture(params=["single", "distributed"])
def next_crawl_env(request):
    """The routine crawl after the kill: in this process, or distributed (its seeds through Redis)."""
    if request.param == "single":
        yield {}
        return
    import redis

    url = os.environ.get("GONGKAI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        server = redis.Redis.from_url(url, socket_connect_timeout=2)
        server.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {url}")
    prefix = f"gongkai_test_{uuid.uuid4().hex[:10]}"
    yield {"REDIS_URL": url, "GONGKAI_REDIS_PREFIX": prefix}
    keys = list(server.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        server.delete(*keys)


def test_kill_crawl_after_an_article_is_staged_before_its_file_then_a_routine_crawl_fetches_the_file(
        attachment_server, database_url, next_crawl_env):
    """Every file download hangs (the gateway stalls); the crawl is killed once an attachment-only article is
    staged. That article is known from then on, so no crawl fetches it again to find its file: the file must
    be in the frontier already, and the next routine crawl fetch it, once, as a file."""
    server = attachment_server
    article = next(a for a in server.column.articles if a.title == "柳溪镇2023年度重点项目推进情况")
    (att,) = article.attachments
    with_files = [a for a in server.column.articles if a.attachments]
    server.set_fault("/module/download/downfile.jsp", F.Fault("stall", seconds=300))
    proc = spawn("crawl", server.listing_url, "--delay", "0", "--concurrency", "8", database_url=database_url,
                 DOWNLOAD_TIMEOUT="120")  # the hung file is still in flight when the crawl dies
    staged = F.wait_until(lambda: _count(database_url, "SELECT count(*) FROM staged_pages WHERE url = %s",
                                         (server.url(article),)) == 1, timeout=60, interval=0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert staged, "the article was never staged"
    assert _count(database_url, "SELECT count(*) FROM staged_pages WHERE url NOT LIKE '%%.html'") == 0
    assert server.requests_for("/module/download/downfile.jsp"), "no file was asked for before the kill"

    server.heal()
    server.log.clear()
    result = run("-v", "crawl", server.listing_url, "--delay", "0", "--concurrency", "4", database_url=database_url,
                 **next_crawl_env)
    assert result.returncode == 0, result.stderr
    assert ("distributed crawl job" in result.stderr) == bool(next_crawl_env)
    for each in with_files:
        (linked,) = each.attachments
        gets = [what for method, path, what, _ in server.log if method == "GET" and path.endswith("/" + linked.filename)]
        assert gets == ["200"], (linked.filename, gets)  # fetched once, by this routine crawl
    assert server.requests_for(server.path(article)) == []  # the article itself is not fetched again
    with psycopg.connect(database_url) as conn:
        body, source = conn.execute("SELECT r.body, r.body_source FROM reports r JOIN report_urls u"
                                    " ON u.report_id = r.id WHERE u.url = %s", (server.url(article),)).fetchone()
        states = dict(conn.execute("SELECT url, state FROM crawl_urls WHERE column_url IS NULL").fetchall())
    assert source == "attachment"
    assert body == article.expected.body
    assert att.filename in " ".join(states) and set(states.values()) == {"fetched"}
    check_invariants(database_url)
