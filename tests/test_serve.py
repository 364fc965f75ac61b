"""`gongkai serve` as an operator runs it: a subprocess against a replica portal, short intervals.

One test walks the whole life: scheduled crawl and ingest, /healthz and /metrics, a new article
arriving without a full recrawl, `gongkai status`, a second service refused, SIGTERM, restarts that
neither lose the schedule nor burst missed runs.
"""

from __future__ import annotations

import copy
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import psycopg

from gongkai_replica.demo import build_demo_sites
from gongkai_replica.server import ReplicaServer
from gongkai_replica.text import make_paragraphs
from tests.test_cli import gongkai

SITE = "qujiang"  # 11 articles, no faults, robots allow-all: a quick crawl


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(path: Path, replica: ReplicaServer, port: int, interval: str, delay: float = 0) -> None:
    listings = "\n".join(f"      - {u}" for u in replica.listing_urls(SITE))
    path.write_text(f"""\
ingest_interval: 2s
shutdown_timeout: 20s
http: {{host: 127.0.0.1, port: {port}}}
sites:
  - name: {SITE}
    region: {{province: 浙江省, city: 衢州市, county: 衢江区}}
    schedule: {{interval: {interval}, jitter: 0}}
    delay: {delay}
    listings:
{listings}
""", encoding="utf-8")


class Service:
    """One `gongkai serve` subprocess; its log goes to a file (a pipe nobody reads would fill up)."""

    def __init__(self, config: Path, database_url: str, log: Path, preexec_fn=None) -> None:
        self.log = log
        env = {**os.environ, "DATABASE_URL": database_url, "GONGKAI_BACKOFF_BASE": "0.05", "RETRY_TIMES": "1",
               "GONGKAI_WEB_ADDR": "127.0.0.1:0"}  # the readers' web app, on a port of its own per service
        with log.open("a") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "gongkai", "serve", "--config", str(config)],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                                         preexec_fn=preexec_fn)

    def stop(self, bound: float = 30) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=bound)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"serve did not stop within {bound}s\n{self.tail()}") from None
        return code, time.monotonic() - started

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


def wait_for(what: str, check, service: Service, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        assert service.proc.poll() is None, f"serve exited ({service.proc.returncode}) waiting for {what}\n" \
                                            f"{service.tail()}"
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}\n{service.tail()}")


def query(database_url: str, sql: str, *params):
    with psycopg.connect(database_url, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def test_serve_crawls_on_schedule_and_survives_restarts(database_url, tmp_path):
    site = next(s for s in build_demo_sites() if s.name == SITE)
    config, log, port = tmp_path / "sites.yaml", tmp_path / "serve.log", free_port()
    with ReplicaServer([site]) as replica:
        write_config(config, replica, port, "3s")
        total = len(site.crawlable_articles())
        service = Service(config, database_url, log)
        try:
            # A scheduled crawl, then ingest: every article becomes a report of the configured site.
            wait_for("the first crawl's reports", lambda: query(
                database_url, "SELECT count(*) FROM reports WHERE site = %s", SITE)[0][0] == total, service)
            assert query(database_url, "SELECT province, county FROM public_reports LIMIT 1") == [("浙江省", "衢江区")]
            wait_for("a scheduled ingest", lambda: query(
                database_url, "SELECT last_finished_at FROM service_jobs WHERE job = 'ingest'")[0][0], service)

            status, body = wait_for("/healthz", lambda: (lambda r: r if r[0] == 200 else None)(
                get(f"http://127.0.0.1:{port}/healthz")), service, timeout=10)
            health = json.loads(body)
            assert health["database"] == "ok" and health["scheduler"] == "running", health
            assert f"crawl:{SITE}" in health["next_runs"]
            # A run's pages are counted when the crawl process has ended (its stats row is final), which can
            # be after ingest has already stored them: the pages it stages are ingested as they arrive.
            fetched = f'gongkai_pages_fetched_total{{site="{SITE}"}} {float(total)}'

            def metrics_with_the_run() -> str | None:
                status, text = get(f"http://127.0.0.1:{port}/metrics")
                return text if status == 200 and fetched in text else None

            metrics = wait_for("the crawl's metrics", metrics_with_the_run, service)
            for name in ("gongkai_reports_ingested_total{outcome=\"new\"}", "gongkai_ingest_queue_lag_seconds",
                         f'gongkai_crawl_duration_seconds_count{{site="{SITE}"}}', "gongkai_scheduler_up 1.0"):
                assert name in metrics, name

            # One scheduler per database: a second service says so and exits.
            second = gongkai("serve", "--config", str(config), database_url=database_url, timeout=60)
            assert second.returncode == 4 and "already runs the scheduler" in second.stderr, second.stderr

            # A new article arrives with the next scheduled crawl, which fetches only it.
            column = site.columns[0]
            article = copy.deepcopy(max(column.articles, key=lambda a: a.pub_date))
            article.article_id += 7919
            article.pub_date = datetime(2026, 11, 2, 9, 30)
            article.title = "大洲镇2026年上半年工作总结和下半年工作计划"
            article.paragraphs = make_paragraphs(random.Random(7), "001", "大洲镇", 2026)
            replica.clear_requests()
            replica.add_article(SITE, column.column_id, article)
            new_url = replica.article_url(SITE, article, column.column_id)
            wait_for("the new article's report", lambda: query(
                database_url, "SELECT r.title FROM reports r JOIN report_urls u ON u.report_id = r.id WHERE u.url = %s",
                new_url) == [(article.title,)], service)
            fetched = {r.path for r in replica.requests if "/art/" in r.path}
            assert fetched == {article.url_path_for(column.column_id)}  # no full recrawl

            shown = gongkai("status", "--config", str(config), database_url=database_url, timeout=60)
            assert shown.returncode == 0, shown.stderr
            assert "service: running" in shown.stdout and f"{SITE}  " in shown.stdout, shown.stdout
        finally:
            if service.proc.poll() is None:
                code, took = service.stop()
        assert code == 0 and took < 30, service.tail()
        assert query(database_url, "SELECT count(*) FROM crawl_runs WHERE status = 'running'")[0][0] == 0
        assert query(database_url, "SELECT stopped_at IS NOT NULL FROM service_state")[0][0]

        # Down for "five hours" of a 1h schedule: on start the missed runs happen once, not five times.
        write_config(config, replica, port, "1h")
        query(database_url, "UPDATE crawl_runs SET status = 'ok' WHERE status = 'interrupted'")  # no resume run
        query(database_url, "UPDATE service_jobs SET last_started_at = now() - interval '5 hours' WHERE job = %s",
              f"crawl:{SITE}")
        before = query(database_url, "SELECT max(id) FROM crawl_runs")[0][0]
        service = Service(config, database_url, log)
        try:
            wait_for("the coalesced missed run", lambda: query(
                database_url, "SELECT count(*) FROM crawl_runs WHERE id > %s AND status = 'ok'", before)[0][0],
                service)
            time.sleep(3)
            assert query(database_url, "SELECT count(*) FROM crawl_runs WHERE id > %s", before)[0][0] == 1
            nxt = query(database_url, "SELECT next_run_at - now() FROM service_jobs WHERE job = %s",
                        f"crawl:{SITE}")[0][0]
            assert nxt.total_seconds() > 3000, nxt  # the schedule goes on from the run just made
        finally:
            code, _ = service.stop()
        assert code == 0, service.tail()

        # Restarted soon after: the schedule survived, so nothing runs now.
        before = query(database_url, "SELECT max(id) FROM crawl_runs")[0][0]
        service = Service(config, database_url, log)
        try:
            wait_for("/healthz", lambda: get(f"http://127.0.0.1:{port}/healthz")[0] == 200, service, timeout=20)
            time.sleep(3)
            assert query(database_url, "SELECT count(*) FROM crawl_runs WHERE id > %s", before)[0][0] == 0
        finally:
            code, _ = service.stop()
        assert code == 0, service.tail()

        # SIGTERM in the middle of a (slow, polite) crawl: it stops within the bound, what it fetched is
        # staged, and the run is recorded as interrupted, so the next start resumes it.
        for n in range(20):
            extra = copy.deepcopy(article)
            extra.article_id += 100 + n
            extra.pub_date = datetime(2026, 11, 3 + n, 9, 30)
            extra.title = f"峡川镇{2000 + n}年工作总结"
            extra.paragraphs = make_paragraphs(random.Random(100 + n), "001", "峡川镇", 2000 + n)
            replica.add_article(SITE, column.column_id, extra)
        write_config(config, replica, port, "1h", delay=0.4)
        query(database_url, "UPDATE service_jobs SET last_started_at = now() - interval '5 hours' WHERE job = %s",
              f"crawl:{SITE}")
        service = Service(config, database_url, log)
        try:
            run_id = wait_for("pages staged by a running crawl", lambda: query(
                database_url, "SELECT r.id FROM crawl_runs r JOIN staged_pages p ON p.crawl_run_id = r.id "
                              "WHERE r.id > %s AND r.status = 'running' LIMIT 1", before), service)[0][0]
        finally:
            code, took = service.stop()
        assert code == 0 and took < 30, service.tail()
        ((run_status, fetched, staged),) = query(
            database_url, "SELECT status, (stats->>'fetched')::int, (SELECT count(*) FROM staged_pages p "
                          "WHERE p.crawl_run_id = r.id) FROM crawl_runs r WHERE id = %s", run_id)
        # (Scrapy's graceful stop also completes requests already queued at the downloader, hence <= 20.)
        assert run_status == "interrupted" and 0 < fetched == staged <= 20, (run_status, fetched, staged)
    for line in log.read_text().splitlines():  # not a terminal: one JSON object per line, no password
        assert isinstance(json.loads(line), dict), line


def test_status_shows_last_failure_and_why(database_url, tmp_path):
    config = tmp_path / "sites.yaml"
    config.write_text("sites:\n  - name: a\n    listings: [http://127.0.0.1:9/col/col1/index.html]\n"
                      "  - name: b\n    listings: [http://127.0.0.1:9/col/col2/index.html]\n", encoding="utf-8")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (name, listings) VALUES ('a', ARRAY['http://127.0.0.1:9/col/col1/index.html'])")
        conn.execute("INSERT INTO crawl_runs (listing_urls, status, finished_at) "
                     "VALUES (ARRAY['http://127.0.0.1:9/col/col1/index.html'], 'ok', now() - interval '1 day')")
        conn.execute("INSERT INTO crawl_runs (listing_urls, status, finished_at, full_walk, revalidated) "
                     "VALUES (ARRAY['http://127.0.0.1:9/col/col1/index.html'], 'ok', now() - interval '3 days', "
                     "true, true)")
        conn.execute("INSERT INTO crawl_runs (listing_urls, status, finished_at, error) VALUES "
                     "(ARRAY['http://127.0.0.1:9/col/col1/index.html'], 'failed', now(), 'listing answered 503')")
        assert conn.execute("SELECT array_agg(DISTINCT site) FROM crawl_runs").fetchone()[0] == ["a"]  # trigger
    shown = gongkai("status", "--config", str(config), database_url=database_url, timeout=60)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "service: never started (run `gongkai serve`)"
    row_a = next(line for line in lines if line.startswith("a "))
    assert "(24h ago)" in row_a and "(3d ago)" in row_a and "(failed)" in row_a  # success, refresh, failure
    assert "LAST REFRESH" in lines[2]
    assert "  a: listing answered 503" in lines
    assert any(line.startswith("b ") for line in lines)


def test_kill_9_of_the_service_loses_nothing_and_the_next_start_resumes(database_url, tmp_path):
    """kill -9 of `gongkai serve` mid-crawl: its crawl notices, stops gracefully and stages what it
    fetched (run 'interrupted'); the next start resumes, and every article ends up staged once."""
    site = next(s for s in build_demo_sites() if s.name == SITE)
    config, log, port = tmp_path / "sites.yaml", tmp_path / "serve.log", free_port()
    with ReplicaServer([site]) as replica:
        write_config(config, replica, port, "1h", delay=0.5)  # slow and polite: the kill lands mid-crawl
        total = len(site.crawlable_articles())
        service = Service(config, database_url, log)
        try:
            run_id = wait_for("pages staged by a running crawl", lambda: query(
                database_url, "SELECT r.id FROM crawl_runs r JOIN staged_pages p ON p.crawl_run_id = r.id "
                              "WHERE r.status = 'running' LIMIT 1"), service)[0][0]
            service.proc.kill()
            service.proc.wait(timeout=10)
            deadline = time.monotonic() + 30
            while query(database_url, "SELECT status FROM crawl_runs WHERE id = %s", run_id)[0][0] == "running":
                assert time.monotonic() < deadline, "the orphaned crawl did not stop\n" + service.tail()
                time.sleep(0.3)
            ((status, fetched, staged),) = query(
                database_url, "SELECT status, (stats->>'fetched')::int, (SELECT count(*) FROM staged_pages p "
                              "WHERE p.crawl_run_id = r.id) FROM crawl_runs r WHERE id = %s", run_id)
            # (the graceful stop also completes requests already queued at the downloader, hence <=)
            assert status == "interrupted" and 0 < fetched == staged <= total, (status, fetched, staged)

            service = Service(config, database_url, log)  # an interrupted last run resumes at once
            wait_for("every report after the restart", lambda: query(
                database_url, "SELECT count(*) FROM reports WHERE site = %s", SITE)[0][0] == total, service,
                timeout=60)
        finally:
            if service.proc.poll() is None:
                code, _ = service.stop()
                assert code == 0, service.tail()
    ((rows, urls),) = query(database_url, "SELECT count(*), count(DISTINCT url) FROM staged_pages")
    assert rows == urls == total, (rows, urls, total)


def test_a_scheduled_crawl_is_a_refresh_when_the_site_is_due_one(database_url, tmp_path):
    """A routine crawl stops at the first known article: it never sees an edit, nor an article delisted
    below the first page. Every `refresh` period a scheduled crawl walks every page and re-checks every
    stored article instead (`--full --revalidate`); the crawls between stay routine."""
    site = next(s for s in build_demo_sites() if s.name == SITE)
    config, log, port = tmp_path / "sites.yaml", tmp_path / "serve.log", free_port()
    with ReplicaServer([site]) as replica:
        write_config(config, replica, port, "2s")
        config.write_text(config.read_text(encoding="utf-8").replace("    delay: 0\n", "    delay: 0\n    refresh: 1h\n"),
                          encoding="utf-8")
        total = len(site.crawlable_articles())
        column = site.columns[0]
        service = Service(config, database_url, log)
        try:
            wait_for("the first crawl's reports", lambda: query(
                database_url, "SELECT count(*) FROM reports WHERE site = %s", SITE)[0][0] == total, service)
            # Never refreshed: the first crawl was the refresh; the next ones are routine.
            wait_for("two routine crawls after it", lambda: query(
                database_url, "SELECT count(*) FROM crawl_runs WHERE status = 'ok' AND NOT full_walk")[0][0] >= 2,
                service)
            runs = query(database_url, "SELECT full_walk, revalidated FROM crawl_runs WHERE status = 'ok' ORDER BY id")
            assert runs[0] == (True, True) and set(runs[1:]) == {(False, False)}, runs
            kinds = [row[0] for row in query(database_url, "SELECT kind FROM crawl_history WHERE status = 'ok' ORDER BY id")]
            assert kinds[0] == "refresh" and set(kinds[1:]) == {"routine"}, kinds

            edited, delisted = column.articles[-1], column.articles[-2]  # the oldest two: deep in the listing
            edited_url = replica.article_url(SITE, edited, column.column_id)
            delisted_url = replica.article_url(SITE, delisted, column.column_id)
            replica.edit_article(SITE, edited.article_id, paragraphs=[*edited.paragraphs[:-1], "（本段已于2026年12月更正）"])
            with replica.lock:  # gone from the listing, the page itself still answers
                column.articles = [a for a in column.articles if a.article_id != delisted.article_id]
            time.sleep(5)  # two more routine crawls: neither notices
            assert query(database_url, "SELECT version FROM reports r JOIN report_urls u ON u.report_id = r.id "
                                       "WHERE u.url = %s", edited_url) == [(1,)]
            # The refresh is due (as if an hour had passed since the last one).
            replica.clear_requests()
            query(database_url, "UPDATE crawl_runs SET started_at = started_at - interval '2 hours' WHERE full_walk")
            wait_for("the edit caught and the delisted article withdrawn", lambda: query(
                database_url, "SELECT r.version, r.withdrawn_at IS NOT NULL FROM reports r "
                              "JOIN report_urls u ON u.report_id = r.id WHERE u.url = ANY(%s) ORDER BY u.url = %s",
                [edited_url, delisted_url], edited_url) == [(1, True), (2, False)], service)
            statuses = [r.status for r in replica.requests if "/art/" in r.path]
            assert statuses.count(304) >= total - 2, statuses  # re-checked cheaply
            assert "refresh: every listing page walked" in log.read_text(encoding="utf-8")
        finally:
            code, _ = service.stop()
        assert code == 0, service.tail()


def test_a_start_that_cannot_bind_its_port_changes_nothing(database_url, tmp_path):
    """A start that fails (port in use) must not touch the schedule: before, it first deleted the jobs of
    sites missing from the config it was given, so the next start crawled every site at once. A site dropped
    from the config keeps its history too (only its next run is cleared)."""
    with ReplicaServer(build_demo_sites()) as replica:
        config = tmp_path / "sites.yaml"
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            write_config(config, replica, port, "6h")
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute("""INSERT INTO service_jobs (job, site, schedule, next_run_at, last_started_at, last_status)
                                VALUES ('crawl:dropped', 'dropped', 'every 6h', now() + interval '1 hour',
                                        now() - interval '5 hours', 'ok')""")
                before = conn.execute("SELECT * FROM service_jobs ORDER BY job").fetchall()
            result = gongkai("serve", "--config", str(config), database_url=database_url, timeout=60)
            assert result.returncode != 0 and "cannot listen" in result.stderr, result.stderr
            with psycopg.connect(database_url) as conn:
                assert conn.execute("SELECT * FROM service_jobs ORDER BY job").fetchall() == before
        # It comes up on a free port: the dropped site keeps its history, with no next run.
        port = free_port()
        write_config(config, replica, port, "6h")
        service = Service(config, database_url, tmp_path / "serve.log")
        try:
            wait_for("the schedule registered", lambda: query(
                database_url, "SELECT count(*) FROM service_jobs WHERE job = %s", f"crawl:{SITE}")[0][0], service)
            # The readers' web app runs inside serve, next to /healthz, which says where.
            health = wait_for("healthz", lambda: json.loads(get(f"http://127.0.0.1:{port}/healthz")[1]), service)
            assert health["web"], health
            status, body = get(health["web"] + "api/reports?limit=1")
            assert status == 200 and "items" in json.loads(body)
        finally:
            service.stop()
        row = query(database_url, "SELECT last_started_at IS NOT NULL, last_status, next_run_at FROM service_jobs"
                                  " WHERE job = 'crawl:dropped'")
        assert row == [(True, "ok", None)]
