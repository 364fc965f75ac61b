"""The consumer side: NOTIFY per batch, the public view, CSV export, incremental sync, reingest."""

from __future__ import annotations

import csv
import io
import json

import psycopg
import pytest

from gongkai_replica.demo import build_demo_sites
from gongkai_replica.server import ReplicaServer
from tests.test_cli import gongkai


@pytest.fixture(scope="module")
def taishun_db(admin_url):
    """One crawl shared by the module (the reingest test, which changes things, runs last)."""
    import uuid

    from gongkai.db import connect, migrate
    from tests.conftest import _with_dbname

    name = f"gongkai_test_feed_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database_url = _with_dbname(admin_url, name)
    with connect(database_url) as conn:
        migrate(conn)
    site = next(s for s in build_demo_sites() if s.name == "wuyi")
    with ReplicaServer([site]) as server:
        listener = psycopg.connect(database_url, autocommit=True)
        listener.execute("LISTEN gongkai_reports")
        result = gongkai("crawl", *server.listing_urls("wuyi"), "--delay", "0", database_url=database_url)
        assert result.returncode == 0, result.stderr
        yield database_url, site, listener
        listener.close()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_notify_after_each_committed_batch(taishun_db):
    database_url, _, listener = taishun_db
    notes = list(listener.notifies(timeout=2, stop_after=1))
    assert notes and notes[0].channel == "gongkai_reports"
    with psycopg.connect(database_url) as conn:
        top = conn.execute("SELECT max(seq) FROM reports").fetchone()[0]
    assert int(notes[-1].payload) <= top


def test_public_view_and_incremental_sync(taishun_db):
    database_url, site, _ = taishun_db
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT title, period_year, period_half, kinds, town, urls FROM public_reports").fetchall()
        seqs = [r[0] for r in conn.execute("SELECT seq FROM reports ORDER BY seq")]
    assert len(rows) == len(site.crawlable_articles())
    for title, year, half, kinds, town, urls in rows:
        assert str(year) in title and half in ("H1", "H2", "year") and kinds and town and urls
    middle = seqs[len(seqs) // 2]
    later = [json.loads(line) for line in gongkai("export", "--since", str(middle),
                                                  database_url=database_url).stdout.splitlines()]
    assert [r["seq"] for r in later] == [s for s in seqs if s > middle]


def test_csv_export_round_trips(taishun_db):
    database_url, site, _ = taishun_db
    result = gongkai("export", "--format", "csv", database_url=database_url)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    jsonl = [json.loads(line) for line in gongkai("export", database_url=database_url).stdout.splitlines()]
    assert len(rows) == len(jsonl) == len(site.crawlable_articles())
    for row, obj in zip(rows, jsonl, strict=True):
        assert row["body"] == obj["body"] and json.loads(row["metadata"]) == obj["metadata"]
        assert json.loads(row["urls"]) == obj["urls"]


def test_reingest_repairs_reports_without_recrawling(taishun_db):
    database_url, _, _ = taishun_db
    before = {r["id"]: r for r in map(json.loads, gongkai("export", database_url=database_url).stdout.splitlines())}
    victim = min(before)
    with psycopg.connect(database_url) as conn:  # what an older, buggier extractor might have stored
        conn.execute("UPDATE reports SET body = 'broken', content_hash = '\\x00' WHERE id = %s", (victim,))
        staged = conn.execute("SELECT count(*) FROM staged_pages").fetchone()[0]
    result = gongkai("reingest", database_url=database_url)
    assert result.returncode == 0, result.stderr
    after = {r["id"]: r for r in map(json.loads, gongkai("export", database_url=database_url).stdout.splitlines())}
    assert after[victim]["body"] == before[victim]["body"] and after[victim]["version"] == 2
    unchanged = [i for i in before if i != victim]
    assert all(after[i]["version"] == 1 and after[i]["seq"] == before[i]["seq"] for i in unchanged)
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM staged_pages").fetchone()[0] == staged  # nothing refetched
    missing = gongkai("reingest", "--site", "nowhere", database_url=database_url)
    assert missing.returncode == 2 and "no staged pages for site 'nowhere'" in missing.stderr
