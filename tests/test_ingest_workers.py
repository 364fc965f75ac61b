"""Several ingest workers over the same staged pages: exactly the reports one worker makes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg

from gongkai_replica.demo import build_demo_sites
from gongkai_replica.server import ReplicaServer
from tests.test_cli import gongkai


def test_two_concurrent_ingest_workers(database_url):
    sites = [s for s in build_demo_sites() if s.name in ("xianju", "panan")]
    with ReplicaServer(sites) as server:
        urls = [u for s in sites for u in server.listing_urls(s.name)]
        crawled = gongkai("crawl", *urls, "--delay", "0", "--no-ingest", database_url=database_url, timeout=300)
        assert crawled.returncode == 0, crawled.stderr
        expected = {(s.name, a.article_id): {server.article_url(s.name, a, c.column_id)
                                             for c in s.columns for b in c.articles if b is a}
                    for s in sites for a in s.crawlable_articles()}
    with psycopg.connect(database_url) as conn:
        staged = conn.execute("SELECT count(*) FROM staged_pages").fetchone()[0]
        # Stage every page twice more, as repeated crawls would: more contention, same reports.
        conn.execute("""INSERT INTO staged_pages (url, final_url, site, column_url, listing_title, listing_date, status,
                            headers, body, body_sha256, fetched_at)
                        SELECT url, final_url, site, column_url, listing_title, listing_date, status, headers, body,
                               body_sha256, fetched_at FROM staged_pages, generate_series(1, 2)""")
    env = {**os.environ, "DATABASE_URL": database_url}
    workers = [subprocess.Popen([sys.executable, "-m", "gongkai", "ingest"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert all("new" in err or "unchanged" in err for _, err in outputs), outputs

    with psycopg.connect(database_url) as conn:
        states = dict(conn.execute("SELECT ingest_state, count(*) FROM staged_pages GROUP BY 1").fetchall())
        seqs = [row[0] for row in conn.execute("SELECT seq FROM reports ORDER BY seq")]
    assert states == {"done": staged * 3}, states
    assert len(seqs) == len(set(seqs))
    result = gongkai("export", database_url=database_url)
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(reports) == len(expected)
    got = sorted(sorted(r["urls"]) for r in reports)
    assert got == sorted(sorted(urls) for urls in expected.values())
    assert all(r["version"] == 1 for r in reports)
