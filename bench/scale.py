"""Replica portals scaled up for benchmarks: demo sites cloned to N articles each, faults removed."""

from __future__ import annotations

import copy
from datetime import timedelta

from gongkai_replica.demo import build_demo_sites
from gongkai_replica.sites import ReplicaColumn, ReplicaSite


def scaled_sites(n_sites: int, articles_per_site: int) -> list[ReplicaSite]:
    templates = build_demo_sites()
    sites = []
    for i in range(n_sites):
        base = copy.deepcopy(templates[i % len(templates)])
        source = [a for a in base.crawlable_articles() if a.paragraphs]
        articles = []
        for n in range(articles_per_site):
            article = copy.deepcopy(source[n % len(source)])
            article.article_id = 7_000_000 + i * 100_000 + n
            article.pub_date = article.pub_date - timedelta(days=n)
            article.paragraphs = [f"（第{n}号）{article.paragraphs[0]}", *article.paragraphs[1:]]
            article.fail_first = article.too_many_first = 0
            article.withdrawn = article.private = False
            articles.append(article)
        column = ReplicaColumn(base.columns[0].column_id, "计划总结", [], parent=base.columns[0].parent)
        site = copy.copy(base)
        site.name = f"{base.name}{i}"
        site.columns = [column]
        site.robots_txt = "User-agent: *\nDisallow: /private/\n"
        site.address = None
        for article in articles:
            site.add_article(column.column_id, article)
        column.articles.sort(key=lambda a: a.pub_date, reverse=True)
        sites.append(site)
    return sites


def _stock_paragraphs() -> list[str]:
    """Every paragraph of the five seed reports: the pool bulk articles draw their bodies from."""
    from gongkai_replica.text import SEED_TOWNS, seed_paragraphs

    return [p for key in sorted(SEED_TOWNS) for p in seed_paragraphs(key)]


def bulk_sites(n_sites: int, per_site: int, *, columns: int = 1, seed: int = 7) -> list[ReplicaSite]:
    """`n_sites` demo portals with `per_site` articles each, spread over `columns` columns.

    Unlike scaled_sites, every article gets a body of its own (a seeded sample of the stock paragraphs),
    so ingest stores each as a new report instead of merging clones as reposts, as a real county's
    reports would be; and articles are shallow clones, since deep-copying one also copies the whole site
    it points to (scaled_sites needs minutes for 100,000 articles, this needs seconds).
    """
    import random

    templates = build_demo_sites()
    pool = _stock_paragraphs()
    sites = []
    for i in range(n_sites):
        base = templates[i % len(templates)]
        source = [a for a in base.crawlable_articles() if a.paragraphs and not a.attachments]
        first = base.columns[0].column_id
        cols = [ReplicaColumn(first + c, "计划总结", [], parent=base.columns[0].parent) for c in range(columns)]
        site = copy.copy(base)
        site.name = f"{base.name}{i}"
        site.columns = cols
        site.robots_txt = "User-agent: *\nDisallow: /private/\n"
        site.address = None
        site.base_url = ""
        rng = random.Random(f"{seed}/{i}")
        for n in range(per_site):
            article = copy.copy(source[n % len(source)])
            article.article_id = 7_000_000 + i * 1_000_000 + n
            article.pub_date = article.pub_date - timedelta(days=n // 3, minutes=n % 3)
            article.paragraphs = [f"（第{i}-{n}号）{article.paragraphs[0]}", *rng.sample(pool, rng.randint(5, 9))]
            article.attachments = []
            article.column_id = 0
            article.fail_first = article.too_many_first = 0
            article.withdrawn = article.private = False
            site.add_article(cols[n % columns].column_id, article)
        for column in cols:
            column.articles.sort(key=lambda a: a.pub_date, reverse=True)
        sites.append(site)
    return sites
