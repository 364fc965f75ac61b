"""`gongkai demo`, the README's first command after set-up: it crawls the bundled replica, places every
report (city, county), reads an attachment-only report's Word 97 file, and is repeatable: a second run finds
nothing new, makes no new version and no new URL (the replica's addresses do not change between runs)."""

from __future__ import annotations

import psycopg

from gongkai_replica import attached
from gongkai_replica.files import expected_text
from tests.test_cli import gongkai


def test_the_demo_places_every_report_and_a_second_run_changes_nothing(database_url):
    first = gongkai("demo", "--delay", "0", database_url=database_url, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "reports stored" in first.stdout and "台州市 仙居县" in first.stdout
    with psycopg.connect(database_url) as conn:
        before = conn.execute("SELECT count(*), count(*) FILTER (WHERE county IS NULL OR city IS NULL),"
                              " max(seq), sum(version) FROM public_reports").fetchone()
        urls = conn.execute("SELECT count(*) FROM report_urls").fetchone()[0]
        withdrawn = conn.execute("SELECT count(*) FROM reports WHERE withdrawn_at IS NOT NULL").fetchone()[0]
        # The attachment portal: a report published only as a Word 97 .DOC is stored with the file's text.
        doc_body = conn.execute("SELECT body FROM public_reports WHERE title = '柳溪镇2023年工作总结'"
                                " AND county = '松阳县'").fetchone()[0]
    reports, unplaced, last_seq, versions = before
    assert doc_body.splitlines() == expected_text(attached.DOC)[1:]
    assert reports > 100 and unplaced == 0
    # The ingest line and the table agree: nothing is said withdrawn that the table does not show.
    assert (" withdrawn" in first.stderr) == (withdrawn > 0), first.stderr
    second = gongkai("demo", "--delay", "0", database_url=database_url, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "0 pages staged" in second.stderr, second.stderr
    with psycopg.connect(database_url) as conn:
        after = conn.execute("SELECT count(*), count(*) FILTER (WHERE county IS NULL OR city IS NULL),"
                             " max(seq), sum(version) FROM public_reports").fetchone()
        assert conn.execute("SELECT count(*) FROM report_urls").fetchone()[0] == urls
    assert after == before
