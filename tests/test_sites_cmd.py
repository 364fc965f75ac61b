"""`gongkai sites add URL`: a user pastes a listing URL, the config gains a validated entry."""

from __future__ import annotations

import json

import psycopg
import pytest

from gongkai.app.crawl_result import read_result
from gongkai.app.sites_cmd import describe_listing
from gongkai.config import load_config
from gongkai_replica.demo import build_demo_sites
from gongkai_replica.server import ReplicaServer
from tests.test_cli import gongkai, one_line_error


@pytest.fixture(scope="module")
def replica():
    with ReplicaServer([s for s in build_demo_sites() if s.name in ("xianju", "wuyi")]) as server:
        yield server


def test_describe_listing_reads_the_page():
    html = ('<html><head><meta name="SiteName" content="仙居县人民政府"><title>朱溪镇计划总结 - 仙居县人民政府</title>'
            '</head><body><div>当前位置：<a>首页</a> &gt; <a>政务公开</a> &gt; <a>朱溪镇</a> &gt; <a>规划计划</a> &gt; '
            '计划总结</div><div id="1"><script type="text/xml"><datastore><recordset></recordset></datastore>'
            '</script></div></body></html>')
    d = describe_listing(html, "http://www.zjxj.gov.cn/col/col1229311252/index.html")
    assert (d.platform, d.site_name, d.county, d.town) == ("jcms", "仙居县人民政府", "仙居县", "朱溪镇")


def test_add_list_and_crawl_by_name(replica, tmp_path, database_url):
    config = tmp_path / "sites.yaml"
    config.write_text("# my sites\ningest_interval: 5m\nsites: []\n", encoding="utf-8")
    town_column, county_column = sorted(replica.listing_urls("xianju"), reverse=True)
    added = gongkai("sites", "add", town_column, "--config", str(config))
    assert added.returncode == 0, added.stderr
    again = gongkai("sites", "add", county_column, "--config", str(config))
    assert again.returncode == 0, again.stderr
    sites = load_config(config).sites
    assert [s.platform for s in sites] == ["jcms", "jcms"]
    assert sites[0].region.county == "仙居县" and sites[0].region.town == "朱溪镇"
    assert sites[0].name != sites[1].name and sites[1].listings == (county_column,)
    assert config.read_text(encoding="utf-8").startswith("# my sites\n")  # comments survive

    duplicate = gongkai("sites", "add", town_column, "--config", str(config))
    assert duplicate.returncode == 2 and "already a listing of site" in duplicate.stderr

    listed = gongkai("sites", "list", "--config", str(config))
    assert listed.returncode == 0 and sites[0].name in listed.stdout and town_column in listed.stdout

    result_file = tmp_path / "result.json"  # how `serve` learns what the crawl it started did
    crawled = gongkai("crawl", "--site", sites[0].name, "--config", str(config), "--delay", "0",
                      "--result-file", str(result_file), database_url=database_url)
    assert crawled.returncode == 0, crawled.stderr
    result = read_result(result_file)
    with psycopg.connect(database_url) as conn:
        run_id, status, fetched = conn.execute(
            "SELECT id, status, (stats->>'fetched')::int FROM crawl_runs ORDER BY id DESC LIMIT 1").fetchone()
    assert result is not None and (result.run_id, result.status, result.problems) == (run_id, status, [])
    assert status == "ok" and result.counts["fetched"] == fetched > 0
    reports = [json.loads(line) for line in gongkai("export", database_url=database_url).stdout.splitlines()]
    column = next(c for c in replica.site("xianju").columns if town_column.endswith(f"col{c.column_id}/index.html"))
    assert len(reports) == len(column.articles) and {r["site"] for r in reports} == {sites[0].name}


def test_add_rejects_what_is_not_a_listing(replica, tmp_path):
    config = tmp_path / "sites.yaml"
    article = replica.article_url("xianju", replica.site("xianju").columns[0].articles[0],
                                  replica.site("xianju").columns[0].column_id)
    result = gongkai("sites", "add", article, "--config", str(config))
    # The same words and exit code (1) as `crawl` gives the same failure.
    assert result.returncode == 1
    assert "not a column listing page" in result.stderr and "jcms" in result.stderr
    assert not config.exists()
    unreachable = gongkai("sites", "add", "http://127.0.0.1:9/col/col1/index.html", "--config", str(config))
    assert unreachable.returncode == 1 and "127.0.0.1:9 refuses connections" in unreachable.stderr



def test_network_failures_are_said_in_the_same_words_by_crawl_and_sites_add():
    """A name that does not resolve, as urllib (`sites add`) and Scrapy (`crawl`) report it: one wording, and
    the crawl does not retry it. (No real DNS lookup: tests never leave loopback.)"""
    import socket
    import urllib.error

    from gongkai.crawler.failures import failure_in_words, is_name_not_found, network_failure_in_words

    class CannotResolveHostError(Exception):  # the class name Scrapy reports a DNS failure by
        pass

    said = network_failure_in_words(urllib.error.URLError(socket.gaierror(-2, "Name or service not known")),
                                    "nonexistent.invalid")
    assert said == failure_in_words(CannotResolveHostError(), "nonexistent.invalid")
    assert said == "the host name nonexistent.invalid does not resolve (DNS)"
    assert is_name_not_found(CannotResolveHostError()) and not is_name_not_found(TimeoutError())
    assert network_failure_in_words(urllib.error.URLError(ConnectionRefusedError()), "127.0.0.1:9") \
        == "127.0.0.1:9 refuses connections"


def test_add_reads_robots_txt_with_a_timeout_and_a_size_bound():
    """`sites add` reads robots.txt as the crawl does: a portal that never answers it, or sends 40 MB, costs
    a bounded wait and read (RobotFileParser.read() blocked forever and buffered all of it)."""
    import time

    from gongkai.app.sites_cmd import fetch_listing
    from gongkai.errors import PortalUnreadable
    from gongkai_replica import faults as F

    site = F.fault_site("sites-add-robots", 2, skip=70)
    with F.FaultServer(site, F.fault_address(74)) as server:
        server.set_fault("/robots.txt", F.Fault("stall", seconds=60))
        started = time.monotonic()
        with pytest.raises(PortalUnreadable, match="does not answer|cannot reach"):
            fetch_listing(server.listing_url, timeout=1)
        assert time.monotonic() - started < 10
        server.set_fault("/robots.txt", F.Fault("huge", size=40 << 20))
        assert "datastore" in fetch_listing(server.listing_url, timeout=10)  # first 512 KB read: no rules
        server.set_fault("/robots.txt", F.status(503))
        with pytest.raises(PortalUnreadable, match="HTTP 503"):
            fetch_listing(server.listing_url, timeout=5)



def _listing_html(town: str) -> str:
    return ('<html><head><meta name="SiteName" content="仙居县人民政府"><title>计划总结 - 仙居县人民政府</title></head>'
            f'<body><div>当前位置：<a>首页</a> &gt; <a>政务公开</a> &gt; <a>{town}</a> &gt; <a>规划计划</a> &gt; 计划总结'
            '</div><div id="1"><script type="text/xml"><datastore><recordset></recordset></datastore></script></div>'
            '</body></html>')


def test_a_second_column_of_the_same_town_is_another_listing_and_addresses_name_whole(tmp_path):
    """`sites add` named replica sites `127`, `127-2` (the address's first part) and made every further column
    of a host a new site. An address names a site whole; a column of the same host and town joins its site;
    a column of another town on the host is a site of its own (its region says the town)."""
    from gongkai.app.sites_cmd import add_site, default_name

    assert default_name("http://127.0.0.10:8080/col/col1/index.html", set()) == "127-0-0-10"
    assert default_name("http://www.zjxj.gov.cn/col/col1/index.html", set()) == "zjxj"
    config = tmp_path / "sites.yaml"
    config.write_text("# mine\nsites:\n", encoding="utf-8")
    base = "http://127.0.0.10:8080/col/col{}/index.html"
    add_site(config, base.format(1), _listing_html("朱溪镇"))
    add_site(config, base.format(2), _listing_html("朱溪镇"))
    add_site(config, base.format(3), _listing_html("白塔镇"))
    sites = load_config(config).sites
    assert [(s.name, s.region.town, s.listings) for s in sites] == [
        ("127-0-0-10", "朱溪镇", (base.format(1), base.format(2))),
        ("127-0-0-10-3", "白塔镇", (base.format(3),)),
    ]
    assert config.read_text(encoding="utf-8").startswith("# mine\n")


def test_crawl_of_a_configured_listing_url_files_its_reports_under_the_site(replica, tmp_path, database_url):
    """`gongkai crawl URL` of a listing the sites file names: the reports are that site's, with its region,
    not a host:port nobody can place."""
    url = sorted(replica.listing_urls("wuyi"))[0]
    # First crawled as a bare URL, before anyone configured it: filed under its host, unplaced.
    bare = gongkai("crawl", url, "--delay", "0", "--config", str(tmp_path / "none.yaml"), database_url=database_url)
    assert bare.returncode == 2  # a named sites file must exist
    bare = gongkai("crawl", url, "--delay", "0", database_url=database_url)
    assert bare.returncode == 0, bare.stderr
    with psycopg.connect(database_url) as conn:
        assert {r[0] for r in conn.execute("SELECT site FROM reports")} == {url.split("/")[2]}
        before = conn.execute("SELECT count(*), max(seq) FROM reports").fetchone()
    config = tmp_path / "sites.yaml"
    config.write_text(f"sites:\n  - name: liucheng\n    region: {{province: 浙江省, city: 金华市, county: 武义县}}\n"
                      f"    listings:\n      - {url}\n", encoding="utf-8")
    crawled = gongkai("crawl", url, "--config", str(config), "--delay", "0", database_url=database_url)
    assert crawled.returncode == 0, crawled.stderr
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT DISTINCT site, city, county FROM public_reports").fetchall()
        after = conn.execute("SELECT count(*), min(seq) FROM reports").fetchone()
        assert {r[0] for r in conn.execute("SELECT site FROM crawl_urls")} == {"liucheng"}
    # The earlier reports are the site's now (placed), with new seqs for consumers; none was made twice.
    assert rows == [("liucheng", "金华市", "武义县")]
    assert after[0] == before[0] and after[1] > before[1]


def test_sites_with_no_column_yet_are_listed_skipped_by_crawl_and_take_their_first_listing(replica, tmp_path,
                                                                                            database_url):
    """A county known only by its home page: `sites list` says so, `crawl --site` says how to find its columns
    (one line, no crawl), `crawl --all` skips it with a count and crawls the rest, and `sites add` of a column
    on its portal makes it that site's first listing (not a new site)."""
    wuyi = replica.site("wuyi")
    home = replica.base_url("wuyi") + "/"
    column = sorted(replica.listing_urls("wuyi"))[0]
    xianju = sorted(replica.listing_urls("xianju"))[0]
    config = tmp_path / "sites.yaml"
    config.write_text("sites:\n"
                      f"  - name: wuyi\n    region: {{province: 浙江省, city: 金华市, county: 武义县}}\n"
                      f"    home: {home}   # where it was confirmed\n    platform: unknown   # not seen\n"
                      f"    listings: []   # none known yet: gongkai discover {home}\n"
                      f"  - name: xianju\n    home: {replica.base_url('xianju')}/\n    listings:\n      - {xianju}\n",
                      encoding="utf-8")
    listed = gongkai("sites", "list", "--config", str(config))
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split("\t")[-2:] == ["no column yet", home]
    assert "1 of 2 sites have no report column yet" in listed.stderr

    alone = gongkai("crawl", "--site", "wuyi", "--config", str(config), database_url=database_url)
    assert alone.returncode == 2
    assert one_line_error(alone) == f"gongkai: site wuyi has no report column yet: run gongkai discover {home} --add"
    every = gongkai("crawl", "--all", "--config", str(config), "--delay", "0", database_url=database_url)
    assert every.returncode == 0, every.stderr
    assert "crawl: 1 of 2 sites have no report column yet (skipped" in every.stderr
    with psycopg.connect(database_url) as conn:
        assert {r[0] for r in conn.execute("SELECT site FROM reports")} == {"xianju"}

    added = gongkai("sites", "add", column, "--config", str(config))
    assert added.returncode == 0, added.stderr
    assert "(site wuyi, another listing)" in added.stdout
    sites = {s.name: s for s in load_config(config).sites}
    assert set(sites) == {"wuyi", "xianju"} and sites["wuyi"].listings == (column,)
    text = config.read_text(encoding="utf-8")
    assert "# where it was confirmed" in text and "none known yet" not in text
    crawled = gongkai("crawl", "--site", "wuyi", "--config", str(config), "--delay", "0", database_url=database_url)
    assert crawled.returncode == 0, crawled.stderr
    with psycopg.connect(database_url) as conn:
        articles = next(c for c in wuyi.columns if column.endswith(f"col{c.column_id}/index.html")).articles
        allowed = [a for a in articles if not a.private and not a.withdrawn]  # robots.txt keeps the private one out
        assert conn.execute("SELECT count(*) FROM reports WHERE site = 'wuyi'").fetchone()[0] == len(allowed) > 0


def test_sync_sites_keeps_sites_with_no_column_yet(db):
    from gongkai.app.sites import sync_sites
    from gongkai.config import Region, SiteConfig

    sites = [SiteConfig(name="gongshu", listings=(), home="https://www.gongshu.gov.cn/",
                        region=Region(province="浙江省", city="杭州市", county="拱墅区")),
             SiteConfig(name="xianju", listings=("http://www.zjxj.gov.cn/col/col1229311252/index.html",))]
    sync_sites(db, sites)
    sync_sites(db, sites)  # unchanged: no update
    rows = db.execute("SELECT name, county, listings FROM sites ORDER BY name").fetchall()
    assert rows == [("gongshu", "拱墅区", []), ("xianju", None, ["http://www.zjxj.gov.cn/col/col1229311252/index.html"])]


def test_a_listing_joins_a_site_in_whatever_form_its_listings_were_written(tmp_path):
    """`listings: []` with a stale note, no `listings` key, a one-line flow list, listings as the entry's first
    key: each becomes a block list holding the old and the new, comments elsewhere kept."""
    from gongkai.app.sites_file import with_listings

    config = tmp_path / "sites.yaml"
    text = ("sites:   # mine\n"
            "  - listings: []   # none known yet\n    platform: unknown\n    name: a\n    home: http://a.gov.cn/\n"
            "  - name: b   # b's note\n    home: http://b.gov.cn/\n"
            "  - name: c\n    listings: [http://c.gov.cn/col/col1/index.html]   # by hand\n")
    config.write_text(text, encoding="utf-8")
    for name, url, lines in (("a", "http://a.gov.cn/col/col2/index.html", {"platform": "platform: jcms"}),
                             ("b", "http://b.gov.cn/col/col3/index.html", {}),
                             ("c", "http://c.gov.cn/col/col4/index.html", {})):
        site = load_config(config).site(name)
        text = with_listings(text, config, site, [f"{url}   # {name}'s column"], lines)
        config.write_text(text, encoding="utf-8")
    sites = {s.name: s for s in load_config(config).sites}
    assert (sites["a"].listings, sites["a"].platform) == (("http://a.gov.cn/col/col2/index.html",), "jcms")
    assert sites["b"].listings == ("http://b.gov.cn/col/col3/index.html",) and sites["b"].home == "http://b.gov.cn/"
    assert sites["c"].listings == ("http://c.gov.cn/col/col1/index.html", "http://c.gov.cn/col/col4/index.html")
    for kept in ("# mine", "# b's note", "# by hand", "# a's column", "# c's column"):
        assert kept in text
    assert "none known yet" not in text
