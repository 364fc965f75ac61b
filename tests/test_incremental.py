"""Incremental crawling on a replica that adds, edits and delists articles.

A routine recrawl of N unchanged listings costs N requests (plus robots.txt); with K new articles,
N + K. Edits are caught by the revalidation pass with conditional requests (304s for the rest);
an article that vanished from its listing is marked withdrawn by a full walk.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime
from urllib.parse import urlsplit

import psycopg
import pytest

from bench.scale import bulk_sites
from gongkai_replica.demo import build_demo_sites
from gongkai_replica.server import ReplicaServer
from tests.test_cli import gongkai
from tests.test_distributed import REDIS_URL, _redis_up, drop_redis_prefix, run


@pytest.fixture
def xianju():
    site = next(s for s in build_demo_sites() if s.name == "xianju")
    with ReplicaServer([site]) as server:
        yield server


def crawl(server: ReplicaServer, database_url: str, *flags: str) -> list:
    server.clear_requests()
    result = gongkai("crawl", *server.listing_urls("xianju"), "--delay", "0", *flags, database_url=database_url,
                     timeout=300)
    assert result.returncode == 0, result.stderr
    return [r for r in server.requests if r.path != "/robots.txt"]


def reports(database_url: str) -> dict[str, dict]:
    result = gongkai("export", database_url=database_url)
    assert result.returncode == 0, result.stderr
    out = {}
    for line in result.stdout.splitlines():
        row = json.loads(line)
        for url in row["urls"]:
            out[url] = row
    return out


def test_routine_recrawl_costs_listings_plus_new_articles(xianju, database_url):
    listings = xianju.listing_urls("xianju")
    first = crawl(xianju, database_url)
    assert len(first) > 60  # everything, with dataproxy paging
    stored = reports(database_url)

    unchanged = crawl(xianju, database_url)
    assert len(unchanged) == len(listings), [r.path for r in unchanged]

    site = xianju.site("xianju")
    county = next(c for c in site.columns if len(c.articles) > 45)
    template = county.articles[0]
    edited = min(county.articles, key=lambda a: a.pub_date)  # deep in the listing: a routine crawl never sees it
    added = []
    for n in range(2):
        article = copy.deepcopy(template)
        article.article_id = 4900000 + n
        article.pub_date = datetime(2026, 11, 1 + n, 9, 30)
        article.title = f"新增镇2026年{'上' if n == 0 else '下'}半年工作总结"
        article.paragraphs = [f"新增测试段落{n}：完成投资{n + 1}2.5万元，同比增长{n}7%。"] + template.paragraphs[1:]
        article.fail_first = article.too_many_first = 0
        added.append(xianju.add_article("xianju", county.column_id, article))
    xianju.edit_article("xianju", edited.article_id, paragraphs=edited.paragraphs[:-1] + ["（此段已于2026年更正）"])

    with_new = crawl(xianju, database_url)
    assert len(with_new) == len(listings) + len(added), [r.path for r in with_new]
    assert len(with_new) / (len(listings) + len(added)) <= 1.05
    after = reports(database_url)
    for article in added:
        assert after[xianju.article_url("xianju", article, county.column_id)]["title"] == article.title
    edited_url = xianju.article_url("xianju", edited, county.column_id)
    assert after[edited_url]["version"] == 1  # not caught yet: that is the revalidation pass's job

    revalidated = crawl(xianju, database_url, "--revalidate")
    statuses = [r.status for r in revalidated if r.path.startswith("/art/")]
    assert statuses.count(200) == 1 and statuses.count(304) == len(statuses) - 1
    final = reports(database_url)
    assert final[edited_url]["version"] == 2
    assert final[edited_url]["body"].endswith("（此段已于2026年更正）")
    with psycopg.connect(database_url) as conn:
        old = conn.execute("SELECT body FROM report_versions WHERE version = 1").fetchall()
    assert [row[0] for row in old] == [stored[edited_url]["body"]]


def test_full_walk_withdraws_articles_gone_from_the_listing(xianju, database_url):
    crawl(xianju, database_url)
    site = xianju.site("xianju")
    county = next(c for c in site.columns if len(c.articles) > 45)
    victim = county.articles[20]
    url = xianju.article_url("xianju", victim, county.column_id)
    xianju.withdraw_article("xianju", victim.article_id, delist=True)
    crawl(xianju, database_url)  # routine: stops at the known first page, cannot tell
    assert reports(database_url)[url]["withdrawn_at"] is None
    crawl(xianju, database_url, "--full")
    after = reports(database_url)
    assert after[url]["withdrawn_at"] is not None
    assert sum(1 for r in {r["id"]: r for r in after.values()}.values() if r["withdrawn_at"]) == 1


def test_a_soft_404_twice_in_a_row_withdraws_the_report(xianju, database_url):
    """A portal answering a withdrawn article with its 页面不存在 page and status 200 (anatomy 7.5): the first
    such answer is refetched by the next crawl (a passing glitch would be), the second withdraws the report
    and the URL counts as gone (no more refetches). Before, it was refetched every crawl, the report kept."""
    site = xianju.site("xianju")
    site.options["soft_404"] = True
    crawl(xianju, database_url)
    county = next(c for c in site.columns if len(c.articles) > 45)
    victim, glitch = county.articles[20], county.articles[21]
    url, glitch_url = (xianju.article_url("xianju", a, county.column_id) for a in (victim, glitch))
    xianju.withdraw_article("xianju", victim.article_id)  # still listed, the page says 页面不存在
    xianju.withdraw_article("xianju", glitch.article_id)

    first = crawl(xianju, database_url, "--revalidate")
    assert [r.status for r in first if r.path in (urlsplit(url).path, urlsplit(glitch_url).path)] == [200, 200]
    assert reports(database_url)[url]["withdrawn_at"] is None  # once may be a glitch
    with psycopg.connect(database_url) as conn:
        states = dict(conn.execute("SELECT url, state FROM crawl_urls WHERE url = ANY(%s)", ([url, glitch_url],)))
    assert states == {url: "failed", glitch_url: "failed"}

    xianju.mutate(lambda: setattr(glitch, "withdrawn", False))  # the glitch has passed
    second = crawl(xianju, database_url)  # failed articles are fetched again first
    assert sorted(r.path for r in second if r.path.startswith("/art/")) == sorted(
        urlsplit(u).path for u in (url, glitch_url))
    after = reports(database_url)
    assert after[url]["withdrawn_at"] is not None
    assert after[glitch_url]["withdrawn_at"] is None and after[glitch_url]["version"] == 1
    with psycopg.connect(database_url) as conn:
        states = dict(conn.execute("SELECT url, state FROM crawl_urls WHERE url = ANY(%s)", ([url, glitch_url],)))
    assert states == {url: "gone", glitch_url: "fetched"}

    third = crawl(xianju, database_url)
    assert not [r for r in third if r.path.startswith("/art/")]  # gone: not asked for again


@pytest.fixture
def deep_column():
    """One jcms portal whose single column is 400 articles deep: nine listing requests to its end."""
    with ReplicaServer(bulk_sites(1, 400)) as server:
        yield server


@pytest.mark.parametrize("mode", ["single", "distributed"])
def test_full_walk_with_revalidation_reaches_the_end_of_the_listing(deep_column, database_url, mode, request):
    """`--full --revalidate` walks every listing page and re-checks each stored article once.

    The revalidation seeds ask for every stored URL before any listing page is parsed; the listing pages
    show the same URLs. That must not read as "pages repeating what was already listed" (the guard
    against paging in circles), or the walk stops after three pages and a delisted article deep in the
    column is never noticed.
    """
    env: dict[str, str] = {}
    if mode == "distributed":
        if not _redis_up():
            pytest.skip(f"no Redis at {REDIS_URL}")
        env = {"REDIS_URL": REDIS_URL, "GONGKAI_REDIS_PREFIX": f"gongkai_test_{uuid.uuid4().hex[:10]}"}
        request.addfinalizer(lambda: drop_redis_prefix(env["GONGKAI_REDIS_PREFIX"]))
    site = next(iter(deep_column.sites.values()))
    column = site.columns[0]
    urls = deep_column.listing_urls(site.name)

    def crawl_deep(*flags: str) -> list:
        deep_column.clear_requests()
        result = run("crawl", *urls, "--delay", "0", *flags, database_url=database_url, env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        return [r for r in deep_column.requests if r.path != "/robots.txt"]

    first = crawl_deep()
    first_listing = [r for r in first if not r.path.startswith("/art/")]
    assert len(first) - len(first_listing) == 400 and len(first_listing) >= 6
    victim = column.articles[370]  # on the last listing page but one
    victim_url = deep_column.article_url(site.name, victim, column.column_id)
    deep_column.withdraw_article(site.name, victim.article_id, delist=True)

    requests = crawl_deep("--full", "--revalidate")
    listing = [r for r in requests if not r.path.startswith("/art/")]
    articles = [r for r in requests if r.path.startswith("/art/")]
    assert len(listing) == len(first_listing), [r.path for r in listing]
    assert len(articles) == len({r.path for r in articles}) == 400  # each stored article re-checked once
    assert sorted(r.status for r in articles) == [304] * 399 + [404]
    withdrawn = [row for row in reports(database_url).values() if row["withdrawn_at"]]
    assert [row["title"] for row in withdrawn] == [victim.title]
    assert victim_url in withdrawn[0]["urls"]
