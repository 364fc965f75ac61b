"""Recrawl: requests of a routine recrawl vs what it cannot do without (issue 7: target <= 1.05).

Portals of every platform on one replica: jcms portals of several columns (dataproxy paging), the TRS
portal (static index_N pages), the generic list (下一页 paging), the jpaas portal (JSON gateway behind
a JS shell) and the xxgk 信息公开目录 (search.jsp pages of a whole category, every column's rows mixed). On
one replica and one database, one after another:

1. a first crawl: every article;
2. a routine crawl with nothing new: the least it can do is read each column's first listing page;
3. K new articles at the top of every column (K = 1, 2, 3, 4 in turn, fewer than a listing page holds):
   the least is each column's first listing page plus the K new articles;
4. as many new articles per column as its first listing request holds (45 on a jcms column: 3 pages of
   15 a request), so the first request holds nothing known: the least is two listing requests per
   column (the second shows where the known articles begin) plus the new articles.

A first listing page is one request on jcms (index.html carries the first records), TRS and generic
lists, and two on jpaas: the column page, then the gateway call that holds the rows. On xxgk it is the
column page and the search.jsp pages up to the one holding the column's first known row
(least_listing_requests). Working jpaas
crawlers prime cookies on the column page and strict deployments refuse the gateway to a client that
has not visited it (docs/portal-anatomy.md, 2.2 and 7.5), and a crawl is a new process with
no cookies, so the column page is part of the least a jpaas listing costs.

Requests are counted in the replica's own log (what the portals served, retries included), split into
robots.txt (one per host per crawl, counted apart), listing requests (listing pages, dataproxy windows,
the jpaas shell and its gateway calls) and article pages. `ratio` = (listing + article requests) / (the
least listing requests + new articles), in all and per platform; `ratio_with_robots` adds robots.txt to
ours. Every new article must be staged.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import sys
from collections.abc import Collection
from urllib.parse import urlsplit

import psycopg

from bench.__main__ import drop_database, scratch_database
from bench.distributed import _timed
from bench.memory import _env

_NEW_IDS = itertools.count(90_000_000)  # above every replica article id
# Requests that read a column's first listing page, per platform (see above); 1 where not named.
FIRST_PAGE_REQUESTS = {"jpaas": 2}


def records_per_request(site) -> int:
    """Listing records one listing request returns: a jcms request (index.html or a dataproxy window) holds
    a group of pages; the others one page."""
    return site.per_page * site.group_size if site.platform == "jcms" else site.per_page


def _sites(quick: bool) -> list:
    from bench.scale import bulk_sites
    from gongkai_replica import generic, jpaas, trs, xxgk

    jcms = bulk_sites(2 if quick else 10, 40 if quick else 120, columns=2 if quick else 3)
    return [*jcms, trs.build_site(), generic.build_site(), jpaas.build_site(), xxgk.build_site()]


def least_listing_requests(site, column, k: int, new_ids: Collection[int]) -> int:
    """The listing requests a routine recrawl of `column` cannot do without, with k new articles at its top.

    On xxgk the column page, then search.jsp pages up to the one holding the column's first known row:
    search.jsp answers the category for every column of the area, newest first, so a town's rows may
    begin pages deep (the replica's first three pages hold only the 区发改局's)."""
    if site.platform == "xxgk":
        from gongkai_replica.xxgk import category_rows

        rows = category_rows(site)
        position = next((n for n, (c, a) in enumerate(rows) if c is column and a.article_id not in new_ids), len(rows))
        return 1 + position // int(site.options.get("per_page", 10)) + 1
    return FIRST_PAGE_REQUESTS.get(site.platform, 1) + k // records_per_request(site)


def _count(server, sites: list) -> dict:
    """The replica's log since it was last cleared: requests by kind, per platform and in all."""
    articles = {urlsplit(server.article_url(s.name, a, c.column_id)).path
                for s in sites for c in s.columns for a in c.articles}
    platform = {s.name: s.platform for s in sites}
    counts: dict = {}
    for entry in server.requests:
        kind = "robots" if entry.path == "/robots.txt" else "articles" if entry.path in articles else "listings"
        for key in ("all", platform[entry.site]):
            row = counts.setdefault(key, {"robots": 0, "listings": 0, "articles": 0, "statuses": {}})
            row[kind] += 1
            row["statuses"][str(entry.status)] = row["statuses"].get(str(entry.status), 0) + 1
    return counts


def _crawl(server, listings: list[str], env: dict) -> None:
    server.clear_requests()
    _timed([sys.executable, "-m", "gongkai", "crawl", *listings, "--delay", "0", "--no-ingest"], env)


def _add_new_articles(server, sites: list, new: dict[str, int], round_no: int) -> tuple[list[str], set[int]]:
    """new[site name] new articles at the top of each of its columns (published after everything listed);
    their URLs and ids."""
    urls, ids = [], set()
    for site in sites:
        k = new[site.name]
        for column in site.columns:
            newest = max(column.articles, key=lambda a: a.pub_date)
            for n in range(k):
                article = copy.copy(newest)
                article.article_id = next(_NEW_IDS)
                article.pub_date = newest.pub_date + dt.timedelta(days=1 + n)
                article.title = f"{newest.title}（第{round_no}轮新增{n}）"
                article.paragraphs = [f"新增第{round_no}-{n}篇：{p}" for p in newest.paragraphs]
                article.fail_first = article.too_many_first = 0
                article.withdrawn = article.private = False
                article.column_id = 0
                urls.append(server.article_url(site.name, server.add_article(site.name, column.column_id, article),
                                               column.column_id))
                ids.add(article.article_id)
    return urls, ids


def _row(counts: dict, sites: list, new: dict[str, int], new_ids: Collection[int] = ()) -> dict:
    """Ours against the least: each column's first listing page, the listing requests it takes to reach the
    first known article past the new[site name] new ones, and the new articles."""
    least: dict[str, dict[str, int]] = {}
    for site in sites:
        k = new[site.name]
        row = least.setdefault(site.platform, {"columns": 0, "listings": 0, "new_articles": 0})
        row["columns"] += len(site.columns)
        row["listings"] += sum(least_listing_requests(site, column, k, new_ids) for column in site.columns)
        row["new_articles"] += len(site.columns) * k
    by_platform = {}
    for name, row in least.items():
        got = counts.get(name, {"robots": 0, "listings": 0, "articles": 0})
        needed = row["listings"] + row["new_articles"]
        by_platform[name] = {**row, "needed": needed, "requests": {k: got[k] for k in ("listings", "articles", "robots")},
                             "ratio": round((got["listings"] + got["articles"]) / needed, 3)}
    total = counts.get("all", {"robots": 0, "listings": 0, "articles": 0, "statuses": {}})
    needed = sum(row["needed"] for row in by_platform.values())
    ours = total["listings"] + total["articles"]
    return {
        "columns": sum(row["columns"] for row in least.values()),
        "new_articles": sum(row["new_articles"] for row in least.values()),
        "needed": needed,
        "requests": {"listings": total["listings"], "articles": total["articles"], "robots": total["robots"]},
        "statuses": total["statuses"],
        "ratio": round(ours / needed, 3), "ratio_with_robots": round((ours + total["robots"]) / needed, 3),
        "by_platform": by_platform,
    }


def run(results: dict, quick: bool) -> None:
    from gongkai_replica.server import ReplicaServer

    sites = _sites(quick)
    database_url = scratch_database()
    env = _env(database_url)
    rows = []
    try:
        with ReplicaServer(sites) as server:
            listings = [u for s in sites for u in server.listing_urls(s.name)]
            columns = len(listings)
            print(f"bench: recrawl: first crawl of {len(sites)} portals, {columns} columns ...", file=sys.stderr,
                  flush=True)
            _crawl(server, listings, env)
            first = _count(server, sites)["all"]
            _crawl(server, listings, env)
            rows.append(_row(_count(server, sites), sites, {s.name: 0 for s in sites}))
            rounds = [{s.name: k for s in sites} for k in ((1, 2) if quick else (1, 2, 3, 4))]
            rounds.append({s.name: records_per_request(s) for s in sites})  # a whole first request of new ones
            for round_no, new in enumerate(rounds, 1):
                new_urls, new_ids = _add_new_articles(server, sites, new, round_no)
                _crawl(server, listings, env)
                rows.append(_row(_count(server, sites), sites, new, new_ids))
                with psycopg.connect(database_url) as conn:
                    staged = conn.execute("SELECT count(DISTINCT url) FROM staged_pages WHERE url = ANY(%s)",
                                          (new_urls,)).fetchone()[0]
                rows[-1]["new_articles_staged"] = staged
                if staged != len(new_urls):
                    raise RuntimeError(f"bench recrawl: {len(new_urls) - staged} of {len(new_urls)} new articles "
                                       "were not staged")
                print(f"bench: recrawl: {rows[-1]['new_articles']} new articles: ratio {rows[-1]['ratio']}",
                      file=sys.stderr, flush=True)
    finally:
        drop_database(database_url)
    results["recrawl"] = {
        "date": dt.date.today().isoformat(),  # the results block's other sections may be older
        "portals": {s.platform: sum(1 for x in sites if x.platform == s.platform) for s in sites},
        "columns": columns, "first_crawl_requests": {k: first[k] for k in ("listings", "articles", "robots")},
        "runs": rows, "worst_ratio": max(r["ratio"] for r in rows),
    }
