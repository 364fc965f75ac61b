"""`gongkai demo`: the main job, offline. Serve the bundled replica portals on loopback addresses,
crawl every column politely, ingest, and show what was stored."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

# The demo portals' addresses are the same on every run (127.0.0.10-15, this port): a second demo sees the
# same URLs, so it makes no new versions and no new URLs (an ephemeral port made every run a new site).
DEMO_PORT = 18080
# Where the demo's replica counties are (the replica knows the county; a report is placed by all three).
_PREFECTURES = {"仙居县": "台州市", "衢江区": "衢州市", "武义县": "金华市", "磐安县": "金华市", "泰顺县": "温州市",
                "松阳县": "丽水市"}


def run_demo(delay: float = 0.2) -> int:
    from gongkai.app.crawl import crawl_and_ingest
    from gongkai.app.sites import sync_sites
    from gongkai.config import Region, SiteConfig
    from gongkai.db import open_database
    from gongkai_replica.attached import jcms_site
    from gongkai_replica.demo import build_demo_sites
    console = Console(stderr=False, width=max(120, Console().width))
    # The five seed-layout portals, and one whose reports are Word 97 / WPS / Excel attachments (no scans:
    # OCR would take the demo's minute).
    sites = [*build_demo_sites(), jcms_site(broken=False)]
    server = _start_replica(sites, console)
    with server:
        _, conn = open_database()
        with conn:  # the demo sites with their region, so every report is placed (county, city)
            sync_sites(conn, [SiteConfig(name=s.name, listings=tuple(server.listing_urls(s.name)),
                                         region=Region(province="浙江省", city=_PREFECTURES.get(s.region or ""),
                                                       county=s.region or None))
                              for s in sites])
        urls = [url for site in sites for url in server.listing_urls(site.name)]
        names = {url: site.name for site in sites for url in server.listing_urls(site.name)}
        console.print(f"[bold]demo:[/] {len(sites)} replica portals, {len(urls)} columns on loopback:")
        for site in sites:
            console.print(f"  {site.name:<10} {server.base_url(site.name)}")
        code = crawl_and_ingest(urls, delay=delay, sites=names)
    _, conn = open_database()
    with conn:
        show_reports(conn, console)
    console.print("[bold]read them:[/] `gongkai web`, then open http://127.0.0.1:8090/ (search, reports, "
                  "versions, the JSON API at /api/reports); `gongkai export --format csv|jsonl|parquet`")
    return code


def _start_replica(sites: list, console: Console):
    """The replica on the demo's fixed port; on ephemeral ports (with a note) if another program holds it."""
    from gongkai_replica.server import ReplicaServer

    for site in sites:
        site.port = DEMO_PORT
    try:
        return ReplicaServer(sites).start()
    except OSError as exc:
        console.print(f"[yellow]demo:[/] port {DEMO_PORT} is taken ({exc.strerror}); using other ports, so this "
                      "run's URLs differ from earlier runs'")
        for site in sites:
            site.port = 0
        return ReplicaServer(sites).start()


def show_reports(conn, console: Console) -> None:
    rows = conn.execute(
        """SELECT r.site, concat_ws(' ', s.city, s.county), count(*),
                  count(*) FILTER (WHERE r.withdrawn_at IS NOT NULL),
                  sum(length(r.body)), min(r.published_date), max(r.published_date),
                  sum((SELECT count(*) FROM report_urls u WHERE u.report_id = r.id))
           FROM reports r LEFT JOIN sites s ON s.name = r.site GROUP BY r.site, s.city, s.county
           ORDER BY r.site""").fetchall()
    table = Table(title="reports stored")
    for name in ("site", "where", "reports", "withdrawn", "body chars", "published from", "to", "urls"):
        table.add_column(name, justify="left" if name in ("site", "where") else "right")
    for site, where, count, withdrawn, chars, first, last, urls in rows:
        table.add_row(site, where, str(count), str(withdrawn), f"{chars:,}", str(first), str(last), str(urls))
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
