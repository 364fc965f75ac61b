"""SQL and input: hostile text is stored and read back exactly (every query is parameterised), and bad
URLs / options get one clear line (exit 2) before anything runs."""

from __future__ import annotations

import pytest

from gongkai_replica import faults as F
from tests.faults.helpers import check_invariants, crawl, frontier, gongkai_lines, reports_by_url, run

HOSTILE = [
    "'; DROP TABLE reports; --",
    "Robert'); DELETE FROM staged_pages WHERE ('1'='1",
    "back\\slash \\' \\\\ \\x00 $$ $1 %s %(title)s {0} E'\\n' /* */ -- ",
    'quote " double "" and \' single \'\' ; COMMIT; ROLLBACK;',
    "NUL\x00byte",
]


@pytest.fixture
def server():
    site = F.fault_site("sql", 3, skip=100)
    for n, article in enumerate(site.columns[0].articles):
        article.title = f"乡镇{HOSTILE[n]}2024年工作总结"
        article.paragraphs = [*article.paragraphs[:1], *HOSTILE, *article.paragraphs[1:]]
    with F.FaultServer(site, F.fault_address(50)) as srv:
        yield srv


def test_quotes_backslashes_nul_and_sql_fragments_round_trip(server, database_url):
    result = crawl(server.listing_url, database_url=database_url)
    assert result.returncode == 0, result.stderr
    reports = reports_by_url(database_url)
    for article in server.column.articles:
        report = reports[server.url(article)]
        # NUL cannot be in PostgreSQL text; like every HTML parser we read it as U+FFFD. The rest is exact.
        assert report["title"] == article.expected.title.replace("\x00", "\ufffd")
        assert report["body"] == article.expected.body.replace("\x00", "\ufffd")
    titles = {url: state for url, state in frontier(database_url).items()}
    assert len(titles) == 3
    check_invariants(database_url)


@pytest.mark.parametrize(("args", "needle"), [
    (("crawl", "http://127.0.0.1:99999/col/col1/index.html"), "bad port"),
    (("crawl", "ftp://127.0.0.1/col/col1/index.html"), "not an http(s) URL"),
    (("crawl", "http:///col/col1/index.html"), "not an http(s) URL"),
    (("crawl", "http://127.0.0.1/col/col1/index.html", "--concurrency", "0"), "--concurrency"),
    (("export", "--format", "xml"), "--format"),
    (("export", "--since", "-3"), "--since"),
])
def test_bad_urls_and_options_are_one_clear_line(args, needle, database_url):
    result = run(*args, database_url=database_url, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = gongkai_lines(result) + [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and needle in errors[0], result.stderr
