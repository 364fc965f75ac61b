"""Lock order between ingest and the end of a full crawl: marking articles delisted (the crawler's frontier)
never takes the feed_counter lock, and withdrawing their reports (ingest's store) takes it before anything
else, as an ingest batch does; so a `crawl --full` finishing while an ingest batch stores cannot deadlock
(when both were one transaction taking crawl_urls rows first, PostgreSQL aborted one with a deadlock error)."""

from __future__ import annotations

import threading

import psycopg

from gongkai.crawler.run import mark_delisted
from gongkai.ingest.store import withdraw_reports_of

COLUMN = "http://127.0.0.9/col/col1/index.html"


def test_delisting_and_withdrawal_cannot_deadlock_with_an_ingest_batch(database_url):
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
    try:
        # Delisting locks crawl_urls rows only: it does not wait for the ingest batch's feed lock.
        delisting: list = []
        thread = threading.Thread(target=lambda: delisting.append(mark_delisted(database_url, run_id, [COLUMN])))
        thread.start()
        thread.join(timeout=10)
        assert delisting == [["http://127.0.0.9/art/1.html"]], "mark_delisted waited for the feed lock"
        outcome: list = []

        def withdraw() -> None:
            with psycopg.connect(database_url) as conn:
                outcome.append(withdraw_reports_of(conn, delisting[0]))

        withdrawal = threading.Thread(target=withdraw)
        withdrawal.start()
        withdrawal.join(timeout=1.5)
        assert withdrawal.is_alive(), "withdraw_reports_of did not wait for the feed lock"
        ingest.execute("SET lock_timeout = '5s'")
        ingest.execute("UPDATE crawl_urls SET last_error = 'x' WHERE url = 'http://127.0.0.9/art/1.html'")
        ingest.commit()
    finally:
        ingest.close()
    withdrawal.join(timeout=10)
    assert outcome == [1]
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT delisted_at IS NOT NULL, last_error FROM crawl_urls").fetchone()
        withdrawn = conn.execute("SELECT withdrawn_at IS NOT NULL, seq FROM reports").fetchone()
    assert row == (True, "x")
    assert withdrawn == (True, 2)


def test_a_crawl_that_died_between_delisting_and_withdrawal_is_finished_by_the_next_sweep(database_url):
    """Delisting (crawler) and withdrawal (ingest) are two transactions: a delisted URL whose report is still
    live is withdrawn by the next full crawl's sweep (withdraw_reports_of(conn, None)); a report with another
    URL still listed is not."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for n, delisted in ((1, True), (2, True), (3, False)):
            conn.execute("INSERT INTO crawl_urls (url, site, column_url, state, delisted_at) VALUES (%s, 's', %s,"
                         " 'fetched', CASE WHEN %s THEN now() END)", (f"http://127.0.0.9/art/{n}.html", COLUMN, delisted))
        ids = []
        for n in (1, 2):
            ids.append(conn.execute(
                "INSERT INTO reports (seq, url, site, title, body, body_hash, content_hash)"
                " VALUES (%s, %s, 's', 't', 'b', '\\x00', '\\x00') RETURNING id",
                (n, f"http://127.0.0.9/art/{n}.html")).fetchone()[0])
            conn.execute("INSERT INTO report_urls (url, report_id, relation) VALUES (%s, %s, 'primary')",
                         (f"http://127.0.0.9/art/{n}.html", ids[-1]))
        # Report 2 is also found at art/3.html, which is still listed: it stays.
        conn.execute("INSERT INTO report_urls (url, report_id, relation) VALUES ('http://127.0.0.9/art/3.html', %s,"
                     " 'column')", (ids[1],))
        conn.execute("UPDATE feed_counter SET seq = 2")
        assert withdraw_reports_of(conn, None) == 1
        rows = conn.execute("SELECT id, withdrawn_at IS NOT NULL FROM reports ORDER BY id").fetchall()
    assert rows == [(ids[0], True), (ids[1], False)]
