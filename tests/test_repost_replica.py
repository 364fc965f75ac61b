"""Issue 20, problem 3 on a replica: a county portal reposts its towns' reports the day they publish them.

The report is the town's (its 索引号 and 发布机构, its URL as the report's), whichever page the crawl meets
first; the county office's copy is an alias of it (relation 'repost'), never a report of its own and never
the source of the stored fields. Both column orders, and reposts published before and after the original.
"""

from __future__ import annotations

import psycopg
import pytest

from gongkai_replica.reposts import COUNTY_OFFICE, repost_pairs, repost_site
from gongkai_replica.server import ReplicaServer
from tests.test_cli import gongkai


@pytest.mark.parametrize("county_first", [True, False], ids=["county-column-first", "town-column-first"])
def test_a_same_day_repost_is_an_alias_of_the_towns_report(database_url, county_first):
    site = repost_site(county_first=county_first)
    with ReplicaServer([site]) as server:
        listings = server.listing_urls(site.name)  # in the site's column order
        result = gongkai("crawl", *listings, "--delay", "0", database_url=database_url, timeout=300)
        assert result.returncode == 0, result.stderr
        served = {a.article_id: a for a in site.articles()}  # the site's own (adopted by their columns)
        urls = {(p.original.article_id, p.repost.article_id):
                (server.article_url(site.name, served[p.original.article_id]),
                 server.article_url(site.name, served[p.repost.article_id])) for p in repost_pairs()}
    with psycopg.connect(database_url) as conn:
        for pair in repost_pairs():
            original_url, repost_url = urls[(pair.original.article_id, pair.repost.article_id)]
            rows = conn.execute(
                """SELECT u.url, u.relation, r.id, r.url, r.publisher, r.index_no FROM report_urls u
                   JOIN reports r ON r.id = u.report_id WHERE u.url = ANY(%s)""",
                ([original_url, repost_url],)).fetchall()
            by_url = {row[0]: row[1:] for row in rows}
            assert set(by_url) == {original_url, repost_url}, rows
            (report,) = {row[2:] for row in rows}  # one report for both pages
            report_id, canonical, publisher, index_no = report
            assert (canonical, publisher, index_no) == (original_url, pair.original.town, pair.original.index_no)
            assert by_url[original_url][0] == "primary" and by_url[repost_url][0] == "repost"
        # Every report the site holds: the two towns' and the county office's own, no report of a repost.
        publishers = sorted(p for (p,) in conn.execute("SELECT publisher FROM reports WHERE withdrawn_at IS NULL"))
    assert publishers == sorted([COUNTY_OFFICE, "下各镇", "朱溪镇"])
