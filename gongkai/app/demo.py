"""`gongkai demo`: the main job, offline. Serve the bundled replica portals on loopback addresses,
crawl every column politely, ingest, and show what was stored."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table


def run_demo(delay: float = 0.2) -> int:
    from gongkai.app.crawl import crawl_and_ingest
    from gongkai.db import open_database
    from gongkai_replica.demo import build_demo_sites
    from gongkai_replica.server import ReplicaServer

    console = Console(stderr=False, width=max(120, Console().width))
    sites = build_demo_sites()
    with ReplicaServer(sites) as server:
        urls = [url for site in sites for url in server.listing_urls(site.name)]
        names = {url: site.name for site in sites for url in server.listing_urls(site.name)}
        console.print(f"[bold]demo:[/] {len(sites)} replica portals, {len(urls)} columns on loopback:")
        for site in sites:
            console.print(f"  {site.name:<10} {server.base_url(site.name)}")
        code = crawl_and_ingest(urls, delay=delay, sites=names)
    _, conn = open_database()
    with conn:
        show_reports(conn, console)
    return code


def show_reports(conn, console: Console) -> None:
    rows = conn.execute(
        """SELECT r.site, count(*), count(*) FILTER (WHERE r.withdrawn_at IS NOT NULL),
                  sum(length(r.body)), min(r.published_date), max(r.published_date),
                  sum((SELECT count(*) FROM report_urls u WHERE u.report_id = r.id))
           FROM reports r GROUP BY r.site ORDER BY r.site""").fetchall()
    table = Table(title="reports stored")
    for name in ("site", "reports", "withdrawn", "body chars", "published from", "to", "urls"):
        table.add_column(name, justify="left" if name == "site" else "right")
    for site, count, withdrawn, chars, first, last, urls in rows:
        table.add_row(site, str(count), str(withdrawn), f"{chars:,}", str(first), str(last), str(urls))
    console.print(table)
    latest = conn.execute(
        "SELECT title, publisher, published_date, index_no FROM reports ORDER BY published_date DESC, id LIMIT 5"
    ).fetchall()
    sample = Table(title="latest reports")
    for name in ("title", "publisher", "published", "索引号"):
        sample.add_column(name)
    for title, publisher, published, index_no in latest:
        sample.add_row(title, publisher or "", str(published or ""), index_no or "")
    console.print(sample)
    if not rows:
        print("no reports stored", file=sys.stderr)
