"""Nothing wrong stored as done (issue 24, 1): a page whose labels lie is read right; a page whose bytes cannot
be read is stored flagged (`reports.extraction`, shown in `public_reports`, counted by the health alarms), never
as a clean report."""

from __future__ import annotations

import psycopg
import pytest

from gongkai.app.health import extraction_alarms, read_site_extraction
from gongkai_replica import faults as F
from tests.faults.helpers import check_invariants, crawl


def lying_labels(page_html: str) -> bytes:
    """GBK bytes under a `<meta charset=iso-8859-1>` (the header will say UTF-8): three declarations, two lies."""
    text = page_html.replace('content="text/html; charset=utf-8"', 'content="text/html; charset=iso-8859-1"')
    assert text != page_html
    return text.encode("gbk")


def unreadable(page_html: str) -> bytes:
    """UTF-8 whose multi-byte sequences a broken CMS cut (every third byte of them dropped): no encoding reads it."""
    raw = page_html.encode("utf-8")
    return bytes(b for i, b in enumerate(raw) if b < 0x80 or i % 3)


@pytest.fixture(scope="module")
def crawled(database_url_module):
    site = F.fault_site("charset-status", 10, skip=60)
    with F.FaultServer(site, F.fault_address(30)) as server:
        arts = server.column.articles
        server.set_fault(server.path(arts[0]), F.page(lying_labels(server.real_page(arts[0]))))
        for art in arts[1:4]:
            server.set_fault(server.path(art), F.page(unreadable(server.real_page(art))))
        result = crawl(server.listing_url, database_url=database_url_module)
        yield server, result, database_url_module


def _reports(database_url: str) -> dict[str, tuple]:
    with psycopg.connect(database_url) as conn:
        return {url: rest for url, *rest in conn.execute(
            "SELECT url, title, body, extraction FROM public_reports")}


def test_lying_labels_are_read_right_and_stored_clean(crawled):
    server, result, database_url = crawled
    assert result.returncode == 0, result.stderr
    article = server.column.articles[0]
    title, body, extraction = _reports(database_url)[server.url(article)]
    assert (title, body, extraction) == (article.expected.title, article.expected.body, None)


def test_unreadable_bytes_are_stored_flagged_never_clean(crawled):
    server, _, database_url = crawled
    reports = _reports(database_url)
    for article in server.column.articles[1:4]:
        url = server.url(article)
        assert url in reports, "an unreadable page must still be kept (flagged), not lost"
        extraction = reports[url][2]
        assert extraction and "undecodable" in extraction, (url, extraction)
    clean = [reports[server.url(a)][2] for a in server.column.articles[4:]]
    assert clean == [None] * len(clean)
    check_invariants(database_url)


def test_flagged_reports_raise_a_health_alarm(crawled):
    _, _, database_url = crawled
    with psycopg.connect(database_url) as conn:
        alarms = extraction_alarms(read_site_extraction(conn))
    flagged = [a for a in alarms if a.check == "extraction"]
    assert len(flagged) == 1 and "3 of its latest 10 reports stored flagged" in flagged[0].message, alarms
    assert "undecodable" in flagged[0].message
