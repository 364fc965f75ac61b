"""HTTP and content faults at article pages: one fault site, one article per fault, one crawl; then the
portal heals and a second crawl must end with every article stored exactly once.

"heals": the fault answers only its first N requests, then the real page (the retry must get it).
"fails": the fault answers every request in the first crawl (the article must be left `failed` for the
next crawl, or not followed at all, and never become a report).
"""

from __future__ import annotations

import pytest

from gongkai_replica import faults as F
from tests.faults.helpers import check_invariants, crawl, frontier, reports_by_url, staged, staged_once

OUTSIDE_GBK = "𠀀㐀䶵𪚥"  # CJK ext B (4-byte in GB18030), ext A (4-byte too), ext A end, ext B


def _faults(server: F.FaultServer, sentinel: F.FaultServer) -> dict[str, tuple[str, F.Fault]]:
    """name -> (expected first-crawl outcome, fault). Outcomes: stored | refetch | failed | not_followed."""
    arts = server.column.articles
    gbk_page = server.real_page(arts[20]).replace("charset=utf-8", "charset=gb2312")
    gb18030_art = arts[21]
    return {
        "500 burst": ("stored", F.status(500, times=2)),
        "502 burst": ("stored", F.status(502, times=2)),
        "503 burst": ("stored", F.status(503, times=3)),
        "429 Retry-After": ("stored", F.status(429, times=1, retry_after="1")),
        "reset once": ("stored", F.Fault("reset", times=1)),
        "reset always": ("failed", F.Fault("reset")),
        "truncated once": ("stored", F.Fault("truncate", times=1)),
        "truncated always": ("failed", F.Fault("truncate")),
        "stall once": ("stored", F.Fault("stall", times=1, seconds=30)),
        "slow drip": ("stored", F.Fault("slow", times=1, seconds=1.5)),
        "empty 200": ("refetch", F.page(b"")),
        "challenge 200 (Ruishu $_ts)": ("refetch", F.page(F.CHALLENGE_SHELL)),
        "challenge 200 (SafeLine)": ("refetch", F.page(F.SAFELINE_SHELL)),
        "412 without a challenge": ("failed", F.status(412)),  # one page's error: the host stays open
        "gzip bomb": ("failed", F.Fault("gzip_bomb", size=64 << 20)),
        "50 MB page": ("failed", F.Fault("huge", size=50 << 20)),
        "redirect loop": ("failed", F.redirect(server.path(arts[16]))),
        "redirect off host": ("not_followed", F.redirect(sentinel.url(sentinel.column.articles[0]))),
        "redirect to private address": ("not_followed", F.redirect("http://169.254.169.254/latest/meta-data/")),
        "malformed HTML": ("stored_title", F.page(F.malformed(server.real_page(arts[19])))),
        "GBK labelled gb2312": ("stored", F.page(gbk_page.encode("gbk"), "text/html; charset=gb2312")),
        "GB18030 beyond GBK": ("stored", F.page(F.gb18030_page(server.real_page(gb18030_art)), "text/html")),
    }


@pytest.fixture(scope="module")
def sites():
    site = F.fault_site("http-faults", 22)
    site.columns[0].articles[21].paragraphs[0] += OUTSIDE_GBK
    sentinel_site = F.fault_site("sentinel", 1, skip=40)
    with F.FaultServer(site, F.fault_address(0)) as server, F.FaultServer(sentinel_site, F.fault_address(1)) as sentinel:
        table = _faults(server, sentinel)
        articles = dict(zip(table, server.column.articles, strict=True))
        for name, (_, fault) in table.items():
            server.set_fault(server.path(articles[name]), fault)
        yield server, sentinel, table, articles


@pytest.fixture(scope="module")
def first(sites, database_url_module):
    server, _, _, _ = sites
    result = crawl(server.listing_url, database_url=database_url_module, DOWNLOAD_TIMEOUT="2")
    return database_url_module, result


@pytest.fixture(scope="module")
def healed(sites, first):
    server, _, _, _ = sites
    database_url, _ = first
    server.heal()
    since = len(server.log)
    result = crawl(server.listing_url, database_url=database_url, DOWNLOAD_TIMEOUT="2")
    return database_url, result, since


def _names(table, outcome):
    return [name for name, (expected, _) in table.items() if expected == outcome]


def test_first_crawl_finishes_cleanly(first):
    _, result = first
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize("outcome", ["stored", "stored_title"])
def test_recovered_faults_store_the_exact_report(sites, first, outcome):
    server, _, table, articles = sites
    database_url, _ = first
    reports = reports_by_url(database_url)
    for name in _names(table, outcome):
        article = articles[name]
        report = reports.get(server.url(article))
        assert report is not None, f"{name}: no report"
        assert report["title"] == article.expected.title, name
        if outcome == "stored":
            assert report["body"] == article.expected.body, name
        else:  # malformed markup may move line breaks, never lose the text
            assert "".join(report["body"].split()) == "".join(article.expected.body.split()), name


def test_retries_honour_retry_after(sites, first):
    server, _, _, articles = sites
    times = server.times_for(server.path(articles["429 Retry-After"]))
    assert len(times) == 2 and times[1] - times[0] >= 1.0, times


def test_gb18030_characters_outside_gbk_survive(sites, first):
    server, _, _, articles = sites
    report = reports_by_url(first[0])[server.url(articles["GB18030 beyond GBK"])]
    assert OUTSIDE_GBK in report["body"]


def test_failed_articles_are_left_for_the_next_crawl(sites, first):
    server, _, table, articles = sites
    database_url, result = first
    states = frontier(database_url)
    reports = reports_by_url(database_url)
    for name in _names(table, "failed") + _names(table, "refetch"):
        url = server.url(articles[name])
        state, error = states[url]
        assert state == "failed" and error, f"{name}: {state} {error}"
        assert url not in reports, f"{name} became a report"
    staged_notes = {url: note for url, _, _, note, _ in staged(database_url)}
    for name in _names(table, "refetch"):
        note = staged_notes[server.url(articles[name])]
        assert note.startswith("refetch:"), (name, note)
    assert "challenge page" in staged_notes[server.url(articles["challenge 200 (Ruishu $_ts)"])]
    # a clear log line for each give-up
    for name in _names(table, "failed"):
        assert f"could not fetch {server.url(articles[name])}" in result.stderr, name
    assert "is not an article" in result.stderr


def test_large_bodies_are_refused_not_buffered(sites, first):
    server, _, _, articles = sites
    states = frontier(first[0])
    for name in ("gzip bomb", "50 MB page"):
        state, error = states[server.url(articles[name])]
        assert "max" in error.lower() or "size" in error.lower() or "cancel" in error.lower(), (name, error)
        # refused once, not fetched again and again within the crawl
        assert len(server.requests_for(server.path(articles[name]))) <= 2, name


def test_redirects_never_leave_the_listing_host(sites, first):
    server, sentinel, table, articles = sites
    database_url, result = first
    assert not [r for r in sentinel.log if r[1] != "/robots.txt"], "followed a redirect to another host"
    states = frontier(database_url)
    for name in _names(table, "not_followed"):
        state, error = states[server.url(articles[name])]
        assert state in ("failed", "blocked") and "host" in error, (name, state, error)
    assert "not following" in result.stderr


def test_redirect_loop_is_bounded(sites, first):
    server, _, _, articles = sites
    hits = len(server.requests_for(server.path(articles["redirect loop"])))
    assert hits <= 4 * 6, hits  # at most (retries+1) x (REDIRECT_MAX_TIMES+1)


def test_after_healing_every_article_is_stored_exactly_once(sites, healed):
    server, _, table, articles = sites
    database_url, result, since = healed
    assert result.returncode == 0, result.stderr
    # A failed article is both a retry seed and a row of the listing page: one request, not two.
    requested = [path for _, path, _, _ in server.log[since:]]
    for name in _names(table, "failed") + _names(table, "refetch") + _names(table, "not_followed"):
        assert requested.count(server.path(articles[name])) == 1, name
    reports = reports_by_url(database_url)
    for name, article in articles.items():
        report = reports.get(server.url(article))
        assert report is not None, f"{name}: lost after healing"
        assert report["title"] == article.expected.title, name
    assert len({r["id"] for r in reports.values()}) == len(articles)
    staged_once(database_url, [server.url(a) for name, a in articles.items()
                               if table[name][0] in ("stored", "stored_title", "failed", "not_followed")])
    check_invariants(database_url)
