"""Database faults: PostgreSQL unreachable at start, and going away in the middle of a crawl.

The database sits behind a loopback TCP proxy the test can cut (sessions reset, new connections
refused) and restore. Decided behaviour: the staging pipeline keeps fetched pages in memory while the
database is away and writes them when it is back; if it is still away at the end of the crawl
(GONGKAI_DB_WAIT seconds), the crawl fails with one line (exit 3) and the next crawl fetches the
unstaged pages again (a listing whose last crawl did not end cleanly is walked in full).
"""

from __future__ import annotations

import socket
import threading
import time

import psycopg
import pytest

from gongkai_replica import faults as F
from tests.faults.helpers import TcpProxy, check_invariants, gongkai_lines, reports_by_url, run, staged_once


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://gongkai:pw@127.0.0.1:{port}/gongkai"


@pytest.mark.parametrize("command", [("crawl", "http://127.0.0.1:9/col/col1/index.html"), ("ingest",),
                                     ("export",)])
def test_database_unreachable_at_start(command):
    result = run(*command, database_url=_closed_port_url(), timeout=60)
    assert result.returncode == 3, result.stderr
    lines = gongkai_lines(result)
    assert len(lines) == 1 and "cannot connect to the database" in lines[0], result.stderr
    assert "Traceback" not in result.stderr and "pw" not in result.stderr.replace("pw@", "")


@pytest.fixture
def site_server():
    site = F.fault_site("db-faults", 40, skip=50)
    with F.FaultServer(site, F.fault_address(30)) as server:
        yield server


@pytest.fixture
def proxy(database_url):
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    target = (info.get("host", "127.0.0.1"), int(info.get("port", 5432)))
    if target[0].startswith("/"):
        pytest.skip("test database is on a unix socket")
    proxy = TcpProxy(target).start()
    yield proxy
    proxy.stop()


def _staged_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM staged_pages").fetchone()[0]


def _crawl(server, url: str, **env: str):
    return run("crawl", server.listing_url, "--delay", "0.08", "--concurrency", "1", database_url=url,
               timeout=120, **env)


def test_database_goes_away_mid_crawl_and_returns(site_server, proxy, database_url):
    results = []
    thread = threading.Thread(target=lambda: results.append(_crawl(site_server, proxy.url(database_url))))
    thread.start()
    assert F.wait_until(lambda: _staged_count(database_url) >= 3, timeout=60)
    proxy.cut()
    time.sleep(1.5)
    proxy.restore()
    thread.join(timeout=120)
    result = results[0]
    assert result.returncode == 0, result.stderr
    assert "database went away while staging" in result.stderr and "database is back" in result.stderr
    urls = [site_server.url(a) for a in site_server.column.articles]
    staged_once(database_url, urls)
    reports = reports_by_url(database_url)
    assert all(url in reports for url in urls)
    check_invariants(database_url)


def test_database_gone_until_the_end_then_next_crawl_completes(site_server, proxy, database_url):
    results = []
    thread = threading.Thread(target=lambda: results.append(
        _crawl(site_server, proxy.url(database_url), GONGKAI_DB_WAIT="1")))
    thread.start()
    assert F.wait_until(lambda: _staged_count(database_url) >= 3, timeout=60)
    proxy.cut()
    thread.join(timeout=120)
    result = results[0]
    assert result.returncode == 3, result.stderr
    lines = gongkai_lines(result)
    assert len(lines) == 1 and "went away" in lines[0] and "next crawl" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    proxy.restore()
    again = _crawl(site_server, proxy.url(database_url))
    assert again.returncode == 0, again.stderr
    urls = [site_server.url(a) for a in site_server.column.articles]
    staged_once(database_url, urls)
    reports = reports_by_url(database_url)
    assert all(url in reports for url in urls)
    check_invariants(database_url)


def test_long_outage_pauses_the_crawl_instead_of_filling_memory(site_server, proxy, database_url):
    """With at most one page's bytes allowed in memory (GONGKAI_STAGE_BUFFER_MAX), an outage pauses the
    crawl: requests already handed to the downloader finish (at most CONCURRENT_REQUESTS, so memory stays
    bounded), no new ones start while the database is away; then it resumes and stores everything."""
    results = []
    thread = threading.Thread(target=lambda: results.append(
        _crawl(site_server, proxy.url(database_url), GONGKAI_STAGE_BUFFER_MAX="1")))
    thread.start()
    assert F.wait_until(lambda: _staged_count(database_url) >= 3, timeout=60)
    proxy.cut()
    time.sleep(1.5)  # the next flush fails and the crawl pauses
    paused_at = time.monotonic()
    time.sleep(4)
    during = [t for t in site_server.times_for_prefix("/art/") if t > paused_at]
    restored_at = time.monotonic()
    proxy.restore()
    thread.join(timeout=120)
    result = results[0]
    assert result.returncode == 0, result.stderr
    assert "crawl paused until it is back" in result.stderr and "crawl resumed" in result.stderr, result.stderr
    assert len(during) <= 32, f"{len(during)} requests while paused"
    assert not [t for t in during if t > restored_at - 1.0], "requests kept starting while the crawl was paused"
    urls = [site_server.url(a) for a in site_server.column.articles]
    staged_once(database_url, urls)
    assert all(url in reports_by_url(database_url) for url in urls)
    check_invariants(database_url)


def test_slow_database_holds_items_back_instead_of_buffering_them(site_server, proxy, database_url):
    """Staging runs in a writer thread; items arriving while a write is in flight with more than
    GONGKAI_STAGE_BACKLOG bytes waiting are held back (Scrapy stops taking responses in) until it
    completes. Nothing is lost or doubled, and the crawl ends cleanly."""
    proxy.delay = 0.25
    result = _crawl(site_server, proxy.url(database_url), GONGKAI_STAGE_BACKLOG="1")
    assert result.returncode == 0, result.stderr
    with psycopg.connect(database_url) as conn:
        stats = conn.execute("SELECT stats FROM crawl_runs ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert stats.get("held", 0) > 0, stats
    urls = [site_server.url(a) for a in site_server.column.articles]
    staged_once(database_url, urls)
    check_invariants(database_url)


def test_a_commit_whose_answer_is_lost_stages_each_page_once(site_server, proxy, database_url):
    """The staging transaction commits, but the connection drops before the client hears so: the batch is
    written again after reconnecting, and must not stage its pages a second time."""
    proxy.lose_reply = (b"INSERT INTO staged_pages", b"COMMIT")
    result = _crawl(site_server, proxy.url(database_url))
    assert result.returncode == 0, result.stderr
    assert proxy.lose_reply is None, "no staging COMMIT went through the proxy"
    assert "database went away while staging" in result.stderr
    urls = [site_server.url(a) for a in site_server.column.articles]
    staged_once(database_url, urls)
    with psycopg.connect(database_url) as conn:
        attempts = dict(conn.execute("SELECT url, attempts FROM crawl_urls WHERE url = ANY(%s)", (urls,)).fetchall())
    assert set(attempts.values()) == {1}, {u: n for u, n in attempts.items() if n != 1}
    check_invariants(database_url)
