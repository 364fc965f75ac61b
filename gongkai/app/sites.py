"""The `sites` table: the configured sites as the database knows them (their region for public_reports).

Application layer: config.py parses the sites file; this module is the one writer of `sites`, called
when a crawl of configured sites or the service starts.
"""

from __future__ import annotations

import psycopg

from gongkai.config import SiteConfig


def sync_sites(conn: psycopg.Connection, sites: list[SiteConfig] | tuple[SiteConfig, ...]) -> None:
    """Upsert configured sites into `sites`, so reports carry their region (public_reports view)."""
    with conn.transaction():
        for s in sites:
            conn.execute(
                """INSERT INTO sites (name, province, city, county, town, platform, listings, updated_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, now())
                   ON CONFLICT (name) DO UPDATE SET province = EXCLUDED.province, city = EXCLUDED.city,
                       county = EXCLUDED.county, town = EXCLUDED.town, platform = EXCLUDED.platform,
                       listings = EXCLUDED.listings, updated_at = now()
                   WHERE (sites.province, sites.city, sites.county, sites.town, sites.platform, sites.listings)
                         IS DISTINCT FROM (EXCLUDED.province, EXCLUDED.city, EXCLUDED.county, EXCLUDED.town,
                                           EXCLUDED.platform, EXCLUDED.listings)""",
                (s.name, s.region.province, s.region.city, s.region.county, s.region.town, s.platform,
                 list(s.listings)))
    adopt_earlier_crawls(conn, sites)


def adopt_earlier_crawls(conn: psycopg.Connection, sites: list[SiteConfig] | tuple[SiteConfig, ...]) -> int:
    """A listing crawled as a bare URL before it was configured had its articles, pages and reports filed under
    its host name (www.zjxj.gov.cn, 127.0.0.10:18080): they become the configured site's, so its reports are
    placed too. Returns how many reports moved."""
    from gongkai.crawler import frontier, staging
    from gongkai.ingest.store import relabel_reports
    from gongkai.urls import host_key

    moved = 0
    for site in sites:
        defaults = sorted({host_key(url) for url in site.listings} - {site.name})
        if not defaults:
            continue
        urls = frontier.relabel_listings(conn, site.listings, site.name, defaults)
        if urls:
            staging.relabel_pages(conn, urls, site.name, defaults)
            moved += relabel_reports(conn, urls, site.name, defaults)
    return moved
