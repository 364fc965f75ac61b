"""Replica portals scaled up for benchmarks: demo sites cloned to N articles each, faults removed."""

from __future__ import annotations

import copy
from datetime import timedelta

from gongkai.replica.demo import build_demo_sites
from gongkai.replica.sites import ReplicaColumn, ReplicaSite


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
