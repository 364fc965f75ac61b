"""Faults not tried before issue 24 (5): the database's disk fills up while staging, and a response with no
Content-Length grows past the 16 MB cap.

- Disk full (SQLSTATE 53100, raised here by a trigger on staged_pages as PostgreSQL raises it when it cannot
  extend a file): a clear error naming it, nothing marked done, nothing lost: the next crawl, with space
  again, stores every article exactly once.
- A body with no Content-Length (it ends when the server closes) is cut at DOWNLOAD_MAXSIZE (16 MB) as it
  streams, not buffered whole, not retried within the crawl, left `failed` for the next crawl.
"""

from __future__ import annotations

import psycopg
import pytest

from gongkai_replica import faults as F
from tests.faults.helpers import (
    check_invariants,
    crawl,
    frontier,
    gongkai_lines,
    reports_by_url,
    staged,
    staged_once,
)

DISK_FULL_TRIGGER = """
CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'could not extend file "base/16384/16999": No space left on device'
        USING ERRCODE = '53100', HINT = 'Check free disk space.';
END $$;
CREATE TRIGGER disk_full BEFORE INSERT ON staged_pages FOR EACH ROW EXECUTE FUNCTION disk_full();
"""


@pytest.fixture
def site():
    with F.FaultServer(F.fault_site("disk-full", 6, skip=40), F.fault_address(36)) as server:
        yield server


def test_a_full_disk_while_staging_is_a_clear_error_and_loses_nothing(site, database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(DISK_FULL_TRIGGER)
    full = crawl(site.listing_url, database_url=database_url, GONGKAI_DB_WAIT="2")
    assert full.returncode != 0, full.stderr
    assert "Traceback" not in full.stderr
    lines = gongkai_lines(full)
    assert len(lines) == 1 and "disk" in lines[0].lower() and "next crawl" in lines[0], full.stderr
    assert "went away" not in full.stderr  # the database was there all along: it said why it could not write
    assert staged(database_url) == [] and reports_by_url(database_url) == {}
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("SELECT status FROM crawl_runs").fetchall() == [("failed",)]
        conn.execute("DROP TRIGGER disk_full ON staged_pages")
    again = crawl(site.listing_url, database_url=database_url)
    assert again.returncode == 0, again.stderr
    urls = [site.url(a) for a in site.column.articles]
    staged_once(database_url, urls)
    assert set(urls) <= set(reports_by_url(database_url))
    check_invariants(database_url)


def test_a_body_without_content_length_is_cut_at_the_cap(database_url):
    site = F.fault_site("no-length", 3, skip=46)
    with F.FaultServer(site, F.fault_address(37)) as server:
        endless = server.column.articles[0]
        server.set_fault(server.path(endless), F.Fault("stream", size=200 << 20))
        result = crawl(server.listing_url, database_url=database_url)
        assert result.returncode == 0, result.stderr
        path = server.path(endless)
        assert len(server.requests_for(path)) == 1, server.requests_for(path)  # refused, not retried
        # cut as it streamed: the client stopped reading soon after 16 MB (socket buffers hold a few MB more)
        assert 16 << 20 < server.streamed[path] < 64 << 20, server.streamed[path]
        state, error = frontier(database_url)[server.url(endless)]
        assert state == "failed" and error, (state, error)
        reports = reports_by_url(database_url)
        assert server.url(endless) not in reports
        assert all(server.url(a) in reports for a in server.column.articles[1:])
        check_invariants(database_url)
