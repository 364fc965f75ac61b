"""Run records that tell the truth, and one clear line (issue 24, 4).

- A CLI crawl killed with -9 does not stay 'running' forever: crawl_runs records the crawl's pid, host and
  lock session, and any command that opens the database marks a run whose process is gone interrupted (a
  live crawl's run is left alone).
- An empty sites file makes `serve` exit 2 with one line, not run with nothing to do.
- A database lost during ingest is one `gongkai:` line, with no psycopg warning beside it.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import psycopg
import pytest

from gongkai_replica import faults as F
from tests.faults.helpers import TcpProxy, crawl, gongkai_lines, run, spawn


def _ingesting(database_url: str) -> bool:
    """An ingest batch has claimed its pages (its transaction is open)."""
    with psycopg.connect(database_url) as conn:
        return conn.execute("""SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
                               AND query LIKE '%%FOR UPDATE SKIP LOCKED%%' AND pid <> pg_backend_pid())""").fetchone()[0]


def _runs(database_url: str) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT id, status, pid, host, error FROM crawl_runs ORDER BY id").fetchall()


@pytest.fixture
def slow_site():
    site = F.fault_site("run-records", 12, skip=20)
    with F.FaultServer(site, F.fault_address(33)) as server:
        yield server


def test_a_killed_crawl_is_marked_interrupted_by_the_next_command(slow_site, database_url):
    server = slow_site
    crawler = spawn("crawl", server.listing_url, "--delay", "0.5", "--concurrency", "1", database_url=database_url)
    try:
        assert F.wait_until(lambda: len(server.log) >= 4, timeout=60), "the crawl never began"
        # While it runs, another command opening the database leaves its run alone.
        assert run("export", database_url=database_url).returncode == 0
        [(run_id, status, pid, host, _)] = _runs(database_url)
        assert (status, pid, host) == ("running", crawler.pid, socket.gethostname())
    finally:
        os.kill(crawler.pid, signal.SIGKILL)
        crawler.communicate(timeout=30)
    time.sleep(0.5)  # the server notices the dead session
    result = run("export", database_url=database_url)  # a command that knows nothing of crawls
    assert result.returncode == 0, result.stderr
    [(_, status, _, _, error)] = _runs(database_url)
    assert status == "interrupted" and "killed" in error, (status, error)


def test_an_empty_sites_file_stops_serve_with_one_line(tmp_path, database_url):
    config = tmp_path / "sites.yaml"
    config.write_text("# no sites yet\n", encoding="utf-8")
    try:
        result = run("serve", "--config", str(config), database_url=database_url, timeout=60,
                     GONGKAI_HTTP_ADDR="127.0.0.1:0")
    except Exception as exc:  # subprocess.TimeoutExpired: it ran on with nothing to do
        pytest.fail(f"serve kept running with no sites: {exc.__class__.__name__}")
    assert result.returncode == 2, result.stderr
    lines = gongkai_lines(result)
    assert len(lines) == 1 and "no sites" in lines[0] and str(config) in lines[0], result.stderr


def test_a_database_lost_during_ingest_is_one_line(slow_site, database_url):
    server = slow_site
    assert crawl(server.listing_url, database_url=database_url, flags=("--no-ingest",)).returncode == 0
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    if info.get("host", "").startswith("/"):
        pytest.skip("test database is on a unix socket")
    proxy = TcpProxy((info.get("host", "127.0.0.1"), int(info.get("port", 5432)))).start()
    try:
        proxy.delay = 0.3  # every reply late: the ingest is still at its first batch when the database goes
        results = []
        thread = threading.Thread(target=lambda: results.append(run("ingest", database_url=proxy.url(database_url))))
        thread.start()
        assert F.wait_until(lambda: _ingesting(database_url), timeout=60), "the ingest never began"
        time.sleep(0.5)
        proxy.cut()
        thread.join(timeout=120)
    finally:
        proxy.stop()
    result = results[0]
    assert result.returncode == 3, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gongkai: ") and "went away during ingest" in lines[0], \
        result.stderr
