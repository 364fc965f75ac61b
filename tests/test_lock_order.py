"""Lock order between ingest and the end of a full crawl: both take the feed_counter row lock before any
crawl_urls row, so a `crawl --full` marking articles delisted while an ingest batch stores cannot deadlock
(in the reverse order PostgreSQL aborted one of them with a deadlock error)."""

from __future__ import annotations

import threading

import psycopg

from gongkai.crawler.run import mark_delisted

COLUMN = "http://127.0.0.9/col/col1/index.html"


def test_delisting_waits_for_the_feed_lock_before_touching_crawl_urls(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO crawl_urls (url, site, column_url, state, last_listed_at)"
                     " VALUES ('http://127.0.0.9/art/1.html', 's', %s, 'fetched', now() - interval '1 day')",
                     (COLUMN,))
        report_id = conn.execute(
            "INSERT INTO reports (seq, url, site, title, body, body_hash, content_hash)"
            " VALUES (1, 'http://127.0.0.9/art/1.html', 's', 't', 'b', '\\x00', '\\x00') RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO report_urls (url, report_id, relation) VALUES ('http://127.0.0.9/art/1.html', %s,"
                     " 'primary')", (report_id,))
        conn.execute("UPDATE feed_counter SET seq = 1")
        run_id = conn.execute("INSERT INTO crawl_runs (listing_urls) VALUES (%s) RETURNING id",
                              ([COLUMN],)).fetchone()[0]
    ingest = psycopg.connect(database_url)  # plays an ingest batch: feed lock, then its frontier update
    ingest.execute("SELECT seq FROM feed_counter WHERE id FOR UPDATE")
    outcome: list = []
    delisting = threading.Thread(target=lambda: outcome.append(mark_delisted(database_url, run_id, [COLUMN])))
    delisting.start()
    delisting.join(timeout=1.5)  # with the old order it has now locked the crawl_urls row
    assert delisting.is_alive(), "mark_delisted did not wait for the feed lock"
    try:
        ingest.execute("SET lock_timeout = '5s'")
        ingest.execute("UPDATE crawl_urls SET last_error = 'x' WHERE url = 'http://127.0.0.9/art/1.html'")
        ingest.commit()
    finally:
        ingest.close()
    delisting.join(timeout=10)
    assert outcome == [1]
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT delisted_at IS NOT NULL, last_error FROM crawl_urls").fetchone()
        withdrawn = conn.execute("SELECT withdrawn_at IS NOT NULL, seq FROM reports").fetchone()
    assert row == (True, "x")
    assert withdrawn == (True, 2)
