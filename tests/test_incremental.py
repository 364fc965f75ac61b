"""Incremental crawling on a replica that adds, edits and delists articles.

A routine recrawl of N unchanged listings costs N requests (plus robots.txt); with K new articles,
N + K. Edits are caught by the revalidation pass with conditional requests (304s for the rest);
an article that vanished from its listing is marked withdrawn by a full walk.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime

import psycopg
import pytest

from gongkai.replica.demo import build_demo_sites
from gongkai.replica.server import ReplicaServer
from tests.test_cli import gongkai


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
