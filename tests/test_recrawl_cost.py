"""Issue 20, problem 5: a routine recrawl of N listings with K new articles costs exactly N + K requests.

Counted at the replica server, on every platform it serves (jcms, TRS, generic, jpaas, xxgk), after a
change that tempts an extra fetch: new articles at the top of a column, one of them listed under two
columns (two URLs of one article where the URL names the article, art_<col>_<id>: one fetch, the other URL
an alias that finds the same report), one linking its report file (+1: the file; the download gateway's redirect is the portal's hop),
a known article pinned (置顶) on top out of date order, known articles linked in another spelling of their
URL (https://, `%5f` for `_`, a `./` segment, a `#` fragment), a known article re-dated, and a new
article back-dated deep into the listing (the routine walk stops at the first known page, so it is the
next full walk's, which fetches it and nothing else).
"""

from __future__ import annotations

import copy
import posixpath
import random
import uuid
from collections import Counter
from datetime import timedelta
from urllib.parse import unquote, urlsplit

import psycopg
import pytest

from bench.recrawl import least_listing_requests
from bench.scale import bulk_sites
from gongkai.urls import wire_url
from gongkai_replica import generic, jpaas, trs, xxgk
from gongkai_replica.demo import _docx
from gongkai_replica.server import ReplicaServer
from gongkai_replica.sites import ReplicaArticle, ReplicaColumn, ReplicaSite
from tests.test_distributed import REDIS_URL, _redis_up, drop_redis_prefix, run

FORMS = ("https", "escaped", "dotted", "fragment")
# Where an article's URL names its column and its article id (art_<col>_<id>.html: jcms, and Hanweb's xxgk module):
# one article listed under two columns is two URLs of one article, fetched once.
NAMES_ARTICLE = ("jcms", "xxgk")


def _with_two_columns(site: ReplicaSite) -> ReplicaSite:
    """A second column (of four articles copied from the first, with ids of their own) where there is one."""
    if len(site.columns) > 1:
        return site
    first = site.columns[0]
    column = ReplicaColumn(first.column_id + 1, first.name, [], parent=first.parent)
    site.columns.append(column)
    for n, source in enumerate(first.articles[:4]):
        article = copy.copy(source)
        article.article_id, article.column_id, article.attachments = source.article_id + 900_000 + n, 0, []
        site.add_article(column.column_id, article)
    return site


def build(platform: str) -> ReplicaSite:
    if platform == "jcms":
        site = bulk_sites(1, 120, columns=2)[0]  # 60 rows a column: two listing requests of 45 to the end
    else:
        site = {"trs": trs.build_site, "generic": generic.build_site, "jpaas": jpaas.build_site,
                "xxgk": xxgk.build_site}[platform]()
    for article in site.articles():
        article.fail_first = article.too_many_first = 0
    return _with_two_columns(site)


def _new(site: ReplicaSite, template: ReplicaArticle, n: int, when) -> ReplicaArticle:
    article = copy.copy(template)
    article.article_id = 95_000_000 + n
    article.pub_date = when
    article.title = f"{template.town}2026年第{n}次新增工作总结"
    article.paragraphs = [f"新增第{n}篇：{p}" for p in template.paragraphs]
    article.attachments, article.column_id = [], 0
    article.withdrawn = article.private = article.file_row = False
    return article


class Replica:
    """The server, its site, and the requests of the last crawl sorted by kind."""

    def __init__(self, server: ReplicaServer, site: ReplicaSite, database_url: str, env: dict[str, str]) -> None:
        self.server, self.site, self.database_url, self.env = server, site, database_url, env

    def url(self, article: ReplicaArticle, column: ReplicaColumn) -> str:
        return self.server.article_url(self.site.name, article, column.column_id)

    def article_paths(self) -> set[str]:
        return {urlsplit(self.url(a, c)).path for c in self.site.columns for a in c.articles}

    def crawl(self, *flags: str) -> dict[str, list[str]]:
        self.server.clear_requests()
        result = run("crawl", *self.server.listing_urls(self.site.name), "--delay", "0", *flags,
                     database_url=self.database_url, env=self.env, timeout=300)
        assert result.returncode == 0, result.stderr
        articles = self.article_paths()
        kinds: dict[str, list[str]] = {"robots": [], "listings": [], "articles": [], "files": []}
        for entry in self.server.requests:
            path = posixpath.normpath(unquote(entry.path))  # as the portal reads it
            kind = ("robots" if path == "/robots.txt" else "articles" if path in articles
                    else "files" if path.startswith(("/module/download/", "/attach/")) else "listings")
            kinds[kind].append(entry.path)
        return kinds


@pytest.mark.parametrize(("platform", "mode"), [(p, "single") for p in ("jcms", "trs", "generic", "jpaas", "xxgk")]
                         + [("jcms", "distributed"), ("xxgk", "distributed")])
def test_routine_recrawl_costs_listings_plus_new_articles_exactly(platform, mode, database_url, request):
    env: dict[str, str] = {}
    if mode == "distributed":  # N workers sharing one frontier in Redis: the same cost
        if not _redis_up():
            pytest.skip(f"no Redis at {REDIS_URL}")
        env = {"REDIS_URL": REDIS_URL, "GONGKAI_REDIS_PREFIX": f"gongkai_test_{uuid.uuid4().hex[:10]}"}
        request.addfinalizer(lambda: drop_redis_prefix(env["GONGKAI_REDIS_PREFIX"]))
    site = build(platform)
    with ReplicaServer([site]) as server:
        replica = Replica(server, site, database_url, env)
        first = replica.crawl()
        assert len(first["articles"]) == len(replica.article_paths())
        unchanged = replica.crawl()
        assert unchanged["articles"] == unchanged["files"] == []
        baseline = len(unchanged["listings"])

        column, other = site.columns[0], site.columns[1]
        shown = column.records()[: min(site.per_page, 8)]  # on the first listing page
        newest, oldest = shown[0], min(column.articles, key=lambda a: a.pub_date)
        rng = random.Random(20)
        new = [_new(site, newest, n, newest.pub_date + timedelta(days=1 + n)) for n in range(4)]
        _docx(rng, new[1])  # links its report file
        backdated = _new(site, newest, 9, oldest.pub_date - timedelta(days=30))
        for article in new[:3] + [backdated]:
            server.add_article(site.name, column.column_id, article)
        shared = new[3]  # under both columns
        server.add_article(site.name, column.column_id, shared)
        server.mutate(lambda: other.articles.append(shared))
        known = [a for a in shown if a is not None]
        if platform != "xxgk":  # search.jsp lists by date: nothing is pinned there
            server.mutate(lambda: setattr(column, "pinned", (oldest.article_id,)))
        site.options["link_forms"] = dict(zip((a.article_id for a in known[1:5]), FORMS, strict=True))
        redated = known[5]
        before = replica.url(redated, column)
        server.edit_article(site.name, redated.article_id, pub_date=redated.pub_date + timedelta(hours=1))
        assert replica.url(redated, column) == before or platform in ("jcms", "trs", "xxgk")
        if replica.url(redated, column) != before:  # the date is in the URL: re-dating makes another page
            server.edit_article(site.name, redated.article_id, pub_date=redated.pub_date - timedelta(hours=1))

        routine = replica.crawl()
        # each new URL once: the article under two columns is one URL on generic, two where the URL names its column;
        # where the URL names the article too (NAMES_ARTICLE), one of the two: the other is its alias
        paths = {a.article_id: {urlsplit(replica.url(a, c)).path for c in (column, other) if a in c.articles} for a in new}
        if platform in NAMES_ARTICLE:
            assert len(paths[shared.article_id]) == 2 and len(routine["articles"]) == len(new), routine["articles"]
            assert all(len(paths[a.article_id] & set(routine["articles"])) == 1 for a in new), routine["articles"]
        else:
            expected = Counter(set().union(*paths.values()))
            assert Counter(routine["articles"]) == expected, routine["articles"]
        assert len(routine["files"]) == 2 and sum(p.startswith("/attach/") for p in routine["files"]) == 1
        new_ids = {a.article_id for a in new}
        least = sum(least_listing_requests(site, c, sum(a in c.articles for a in new), new_ids)
                    for c in site.columns)
        assert len(routine["listings"]) == least, routine["listings"]
        if platform != "xxgk":  # the new rows fit on the first page: no listing request more than before
            assert len(routine["listings"]) == baseline, routine["listings"]

        again = replica.crawl()
        assert again["articles"] == again["files"] == []

        full = replica.crawl("--full")
        assert full["articles"] == [urlsplit(replica.url(backdated, column)).path]
        assert full["files"] == []

    with psycopg.connect(database_url) as conn:
        states = Counter(state for (state,) in conn.execute("SELECT state FROM crawl_urls"))
        forms = [url for (url,) in conn.execute("SELECT url FROM crawl_urls WHERE url ~ '#|%5f|/\\./|https:'")]
        shared_urls = [replica.url(shared, c) for c in (column, other)]
        owners = conn.execute("SELECT url, report_id, relation FROM report_urls WHERE url = ANY(%s) ORDER BY relation",
                              (shared_urls,)).fetchall()
    assert forms == []
    assert states == (Counter(fetched=states["fetched"], alias=1) if platform in NAMES_ARTICLE
                      else Counter(fetched=states["fetched"]))
    if platform in NAMES_ARTICLE:  # both URLs of the article find its one report: the one fetched, and its alias
        assert len(owners) == 2 and owners[0][1] == owners[1][1], owners
        # (the fetched one is a repost here: the new articles' bodies differ in one number)
        assert {url: relation for url, _, relation in owners if relation == "column"} == {
            url: "column" for url in shared_urls if urlsplit(url).path not in routine["articles"]}, owners


@pytest.mark.parametrize("spelt", [
    "http://h.gov.cn/art/2024/8/5/art_1_2.html#zw", "http://h.gov.cn/art/2024/8/5/art%5f1_2.html",
    "http://h.gov.cn/art/2024/8/5/./art_1_2.html", "http://h.gov.cn/art/2024/9/../8/5/art_1_2.html",
    "http://h.gov.cn:80/art/2024/8/5/art_1_2.html", "HTTP://H.gov.cn/art/2024/8/5/art_1_2.html",
])
def test_spellings_of_one_url_have_one_wire_form(spelt):
    assert wire_url(spelt) == "http://h.gov.cn/art/2024/8/5/art_1_2.html"


def test_wire_form_escapes_are_upper_case_and_reserved_ones_stay():
    assert wire_url("http://h.gov.cn/a/%e5%b9%b4.docx?n=%e5%b9%b4&p=%2f") == \
        "http://h.gov.cn/a/%E5%B9%B4.docx?n=%E5%B9%B4&p=%2F"
    assert wire_url("http://h.gov.cn/a/年.docx") == wire_url("http://h.gov.cn/a/%e5%b9%b4.docx")
    assert wire_url("https://h.gov.cn:8443/a/b/") == "https://h.gov.cn:8443/a/b/"


def test_rows_stored_in_a_form_now_normalized_settle(db):
    """A frontier row recorded under a spelling wire_url now normalizes (a fragment, %5f, ./, :80) is renamed to
    the wire form, or merged into it, at the start of a crawl: else the listing's row looks new and is fetched."""
    from gongkai.crawler.frontier import known_urls, settle_url_forms

    db.autocommit = True
    canonical = "http://h.gov.cn/art/2024/8/5/art_1_2.html"
    rows = [("http://h.gov.cn/art/2024/8/5/art_1_2.html#zw", "fetched"), ("http://h.gov.cn/art/2024/8/5/art%5f1_3.html",
            "fetched"), ("http://h.gov.cn/art/2024/8/5/./art_1_4.html", "gone"), (canonical.replace("_2", "_5"), "fetched"),
            ("http://h.gov.cn:80/art/2024/8/5/art_1_6.html", "pending"), ("http://h.gov.cn/a/%E5%B9%B4.html", "fetched")]
    for url, state in rows:
        db.execute("INSERT INTO crawl_urls (url, site, column_url, state) VALUES (%s, 's', 'c', %s)", (url, state))
    assert settle_url_forms(db, ["s"]) == 4
    assert dict(db.execute("SELECT url, state FROM crawl_urls").fetchall()) == {wire_url(u): s for u, s in rows}
    assert canonical in set(known_urls(db, ["s"]))
    assert settle_url_forms(db, ["s"]) == 0


@pytest.mark.parametrize("mode", ["single", "distributed"])
def test_article_under_two_columns_whose_fetch_fails_is_fetched_by_the_next_crawl(mode, database_url, request):
    """The URL fetched for an article listed under two columns answers 503 (every retry): its other URL, an
    alias, is not lost: the next crawl fetches the article (once), and both URLs find its report."""
    env: dict[str, str] = {}
    if mode == "distributed":
        if not _redis_up():
            pytest.skip(f"no Redis at {REDIS_URL}")
        env = {"REDIS_URL": REDIS_URL, "GONGKAI_REDIS_PREFIX": f"gongkai_test_{uuid.uuid4().hex[:10]}"}
        request.addfinalizer(lambda: drop_redis_prefix(env["GONGKAI_REDIS_PREFIX"]))
    site = bulk_sites(1, 20, columns=2)[0]
    column, other = site.columns
    with ReplicaServer([site]) as server:
        replica = Replica(server, site, database_url, env)
        assert len(replica.crawl()["articles"]) == 20
        shared = _new(site, column.articles[0], 1, column.articles[0].pub_date + timedelta(days=1))
        shared.fail_first = 1000  # 503, however often it is asked
        server.add_article(site.name, column.column_id, shared)
        server.mutate(lambda: other.articles.insert(0, shared))
        both = {urlsplit(replica.url(shared, c)).path for c in (column, other)}

        failing = replica.crawl()
        assert failing["articles"] and set(failing["articles"]) < both, failing["articles"]  # one URL, retried
        with psycopg.connect(database_url) as conn:
            states = dict(conn.execute("SELECT url, state FROM crawl_urls WHERE url = ANY(%s)",
                                       ([replica.url(shared, c) for c in (column, other)],)).fetchall())
        assert sorted(states.values()) == ["alias", "failed"], states

        server.mutate(lambda: setattr(shared, "fail_first", 0))
        recovered = replica.crawl()
        assert recovered["articles"] == failing["articles"][:1], recovered["articles"]
        assert replica.crawl()["articles"] == []

        stored = column.articles[1]  # an article stored by the first crawl, now listed under the other column too
        server.mutate(lambda: other.articles.insert(0, stored))
        assert replica.crawl()["articles"] == []

    with psycopg.connect(database_url) as conn:
        def owners(article):
            return conn.execute("SELECT url, report_id, relation FROM report_urls WHERE url = ANY(%s)",
                                ([replica.url(article, c) for c in (column, other)],)).fetchall()
        states = Counter(state for (state,) in conn.execute("SELECT state FROM crawl_urls"))
        found = {article.article_id: owners(article) for article in (shared, stored)}
    for rows in found.values():  # both URLs of each find its one report
        assert len(rows) == 2 and rows[0][1] == rows[1][1], found
        assert sorted(relation for _, _, relation in rows) == ["column", "primary"], found
    assert states == Counter(fetched=21, alias=2), states
