"""`gongkai discover URL`: from a county's home page to every township report column, on every platform.

Run end to end against the replica counties of gongkai_replica/navigation.py (their whole 政务公开 tree),
through the command (`python -m gongkai.app.discover`, what `gongkai discover` runs once cli.py wires it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from gongkai.config import load_config
from gongkai.crawler import discovery as nav
from gongkai_replica.navigation import build_counties, build_county, expected, home_url
from gongkai_replica.server import ReplicaServer

PLATFORMS = ("jcms", "jpaas", "trs", "xxgk")


def discover_cmd(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gongkai.app.discover", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=dict(os.environ))


def gongkai_lines(result: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("gongkai:")]


@pytest.fixture(scope="module")
def replica():
    with ReplicaServer(build_counties()) as server:
        yield server


@pytest.fixture(scope="module")
def found(replica):
    """Each county discovered once through the command, --json."""
    out = {}
    for site in replica.sites.values():
        result = discover_cmd(home_url(site), "--delay", "0", "--json")
        assert result.returncode == 0, result.stderr
        out[site.platform] = ([json.loads(line) for line in result.stdout.splitlines()], result.stderr)
    return out


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_report_column_and_no_decoy(replica, found, platform):
    site = replica.site(f"nav-{platform}")
    truth = expected(site)
    reports = {nav.column_key(site.base_url + e.path): e for e in truth if e.kind == "report"}
    others = {nav.column_key(site.base_url + e.path): e for e in truth if e.kind != "report"}
    columns, _ = found[platform]
    got = {nav.column_key(c["url"]): c for c in columns}
    assert len(got) == len(columns)  # no column twice
    missing = sorted(f"{e.town} {e.name}" for k, e in reports.items() if k not in got)
    assert not missing, missing  # 100 % of the report columns
    assert not [c for k, c in got.items() if k in others]  # 0 decoys (政策文件, 政府工作报告, 年报, 财政预决算 …)
    assert set(got) == set(reports)
    for key, column in got.items():
        assert column["town"] == reports[key].town and column["platform"] == platform
        assert set(column) == {"town", "name", "url", "platform", "rows", "newest"}
    assert any(e.kind == "decoy" for e in truth) and len({e.town for e in reports.values()}) < len(
        {e.town for e in truth})  # the county has decoys and towns without a report column


@pytest.mark.parametrize("platform", PLATFORMS)
def test_rows_and_newest_date(replica, found, platform):
    site = replica.site(f"nav-{platform}")
    truth = {nav.column_key(site.base_url + e.path): e for e in expected(site) if e.kind == "report"}
    wrong = []
    for column in found[platform][0]:
        e = truth[nav.column_key(column["url"])]
        if (column["rows"], column["newest"]) != (e.rows, e.newest):
            wrong.append((e.town, e.name, column["rows"], e.rows, column["newest"], e.newest))
    assert not wrong, wrong


def test_names_recognised_and_rows_recognised(replica, found):
    columns = [c for platform in PLATFORMS for c in found[platform][0]]
    names = {c["name"] for c in columns}
    assert {"计划总结", "工作计划", "工作总结", "计划与总结", "工作计划总结"} <= names  # by name
    assert {"其他文件", "规划计划"} <= names  # by their rows: the name says nothing


def test_moved_column_is_listed_at_its_new_address(replica, found):
    for platform in PLATFORMS:
        site = replica.site(f"nav-{platform}")
        moved = site.options["navigation"].moved
        assert moved
        urls = {nav.column_key(c["url"]) for c in found[platform][0]}
        stderr = found[platform][1]
        for old, new in moved.items():
            assert any(str(new) in u for u in urls) and not any(str(old) in u for u in urls)
            assert "has moved to" in stderr


def test_table_output(replica):
    site = replica.site("nav-jcms")
    result = discover_cmd(home_url(site), "--delay", "0")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["TOWN", "COLUMN", "ROWS", "NEWEST", "PLATFORM", "URL"]
    assert "report columns in" in result.stderr and "no report column:" in result.stderr


def test_add_twice_keeps_comments_and_adds_no_duplicate(replica, tmp_path):
    config = tmp_path / "sites.yaml"
    config.write_text("# my sites: keep this comment\ningest_interval: 5m\nsites:\n"
                      "  - name: other   # another county\n    listings:\n"
                      "      - http://www.zjxj.gov.cn/col/col1229311252/index.html   # 朱溪镇\n", encoding="utf-8")
    site = replica.site("nav-jcms")
    first = discover_cmd(home_url(site), "--delay", "0", "--add", "--config", str(config))
    assert first.returncode == 0, first.stderr
    after_first = config.read_text(encoding="utf-8")
    second = discover_cmd(home_url(site), "--delay", "0", "--add", "--config", str(config))
    assert second.returncode == 0, second.stderr
    assert "0 listings added" in second.stderr
    text = config.read_text(encoding="utf-8")
    assert text == after_first
    assert text.startswith("# my sites: keep this comment\n") and "# another county" in text and "# 朱溪镇" in text
    sites = load_config(config).sites
    listings = [u for s in sites for u in s.listings]
    assert len(listings) == len(set(listings))
    truth = [e for e in expected(site) if e.kind == "report"]
    assert len(listings) == 1 + len(truth)
    added = next(s for s in sites if s.name != "other")
    assert added.platform == "jcms" and added.region.county == "临海市"


def test_add_merges_into_the_site_of_the_same_host(replica, tmp_path):
    site = replica.site("nav-xxgk")
    truth = [e for e in expected(site) if e.kind == "report"]
    first = site.base_url + truth[0].path
    config = tmp_path / "sites.yaml"
    config.write_text(f"sites:\n  - name: xianju\n    platform: xxgk\n    listings:\n      - {first}   # by hand\n"
                      "  - name: later\n    listings: [http://www.zjwy.gov.cn/col/col1229423772/index.html]\n",
                      encoding="utf-8")
    result = discover_cmd(home_url(site), "--delay", "0", "--add", "--config", str(config))
    assert result.returncode == 0, result.stderr
    sites = {s.name: s for s in load_config(config).sites}
    assert set(sites) == {"xianju", "later"}
    assert len(sites["xianju"].listings) == len(truth) and sites["xianju"].listings[0] == first
    assert "# by hand" in config.read_text(encoding="utf-8")


def county_sites_file(tmp_path, site, *, listings="    listings: []   # none known yet: gongkai discover HOME\n",
                      platform="unknown"):
    """A sites file as shipped: the replica county a home-only site among others, with comments."""
    config = tmp_path / "sites.yaml"
    config.write_text(
        "# sites: keep this comment\nsites:\n"
        "  # -- 台州市\n"
        f"  - name: linhai   # the county of the replica\n    region: {{province: 浙江省, city: 台州市, county: 临海市}}\n"
        f"    home: {home_url(site)}   # where it was confirmed\n    platform: {platform}   # not seen\n{listings}"
        "  - name: xianju\n    region: {province: 浙江省, city: 台州市, county: 仙居县}\n"
        "    home: http://www.zjxj.gov.cn/\n    platform: jcms\n    listings:\n"
        "      - http://www.zjxj.gov.cn/col/col1229311252/index.html   # 朱溪镇\n", encoding="utf-8")
    return config


def test_add_fills_the_home_site_of_the_portal_and_is_idempotent(replica, tmp_path):
    from gongkai.app.discover import discover_site

    site = replica.site("nav-jcms")
    truth = [site.base_url + e.path for e in expected(site) if e.kind == "report"]
    config = county_sites_file(tmp_path, site)
    before = config.read_text(encoding="utf-8")
    merged = discover_site(config, "linhai", delay=0)  # by the site's name: its home is walked
    assert (merged.site, merged.new_site, merged.vanished, merged.platform_set) == ("linhai", False, [], "jcms")
    assert {nav.column_key(c.url) for c in merged.added} == {nav.column_key(u) for u in truth}
    sites = {s.name: s for s in load_config(config).sites}
    assert set(sites) == {"linhai", "xianju"}  # no new site
    assert sites["linhai"].platform == "jcms" and sites["linhai"].home == home_url(site)
    assert {nav.column_key(u) for u in sites["linhai"].listings} == {nav.column_key(u) for u in truth}
    assert sites["xianju"].listings == ("http://www.zjxj.gov.cn/col/col1229311252/index.html",)
    text = config.read_text(encoding="utf-8")
    for kept in ("# sites: keep this comment", "# -- 台州市", "# the county of the replica", "# where it was confirmed",
                 "# 朱溪镇"):
        assert kept in text
    assert "none known yet" not in text  # the stale note went with the empty list
    assert text.startswith(before.split("    platform:")[0])  # nothing above the edit moved
    again = discover_site(config, home_url(site), delay=0)  # by its home URL: the same site
    assert again.added == [] and again.site == "linhai" and again.vanished == []
    assert config.read_text(encoding="utf-8") == text


def test_add_to_a_site_without_a_listings_key_and_vanished_and_moved_listings(replica, tmp_path):
    from gongkai.app.discover import discover_site

    site = replica.site("nav-jcms")
    moved_old, moved_new = next(iter(site.options["navigation"].moved.items()))
    gone = f"{site.base_url}/col/col1229999999/index.html"
    old = f"{site.base_url}/col/col{moved_old}/index.html"
    config = county_sites_file(tmp_path, site, listings=f"    listings:\n      - {gone}   # by hand\n      - {old}\n",
                               platform="jcms")
    merged = discover_site(config, "linhai", delay=0)
    assert merged.vanished == [gone]  # the walk went to its end and never met it
    assert merged.moved == {old: f"{site.base_url}/col/col{moved_new}/index.html"}
    assert merged.platform_set is None  # a known platform stays
    linhai = load_config(config).site("linhai")
    assert linhai.listings[:2] == (gone, old) and len(linhai.listings) == 2 + len(merged.added)
    # a home-only site with no listings key at all gets one
    bare = tmp_path / "bare.yaml"
    bare.write_text(f"sites:\n  - name: linhai\n    home: {home_url(site)}\n  - name: other\n"
                    "    home: http://www.zjxj.gov.cn/\n", encoding="utf-8")
    merged = discover_site(bare, home_url(site), delay=0)
    assert merged.site == "linhai" and merged.added and merged.platform_set == "jcms"
    sites = load_config(bare).sites
    assert [s.name for s in sites] == ["linhai", "other"] and len(sites[0].listings) == len(merged.added)
    assert sites[1].listings == ()


def test_add_to_a_site_whose_platform_was_wrong_detects_per_page(replica, tmp_path):
    from gongkai.app.discover import discover_site

    site = replica.site("nav-jcms")
    config = county_sites_file(tmp_path, site, platform="trs")
    merged = discover_site(config, "linhai", delay=0)
    assert merged.platform_set == "" and merged.added
    assert load_config(config).site("linhai").platform is None
    assert "# platform: detected per page (it said trs; gongkai discover found jcms columns)" in config.read_text(encoding="utf-8")


def test_add_through_the_command_names_the_site_and_counties_option_is_gone(replica, tmp_path):
    site = replica.site("nav-xxgk")
    config = county_sites_file(tmp_path, site)
    result = discover_cmd("linhai", "--delay", "0", "--add", "--config", str(config))
    assert result.returncode == 0, result.stderr
    truth = [e for e in expected(site) if e.kind == "report"]
    assert f"discover: {len(truth)} listings added to site linhai in {config}; platform: xxgk" in result.stderr
    gone = discover_cmd(home_url(site), "--counties", "config/counties.yaml", "--config", str(config))
    assert gone.returncode == 2 and len(gongkai_lines(gone)) == 1 and "--counties is gone" in gone.stderr
    homeless = tmp_path / "homeless.yaml"
    homeless.write_text("sites:\n  - name: a\n    listings: [http://www.zjxj.gov.cn/col/col1/index.html]\n",
                        encoding="utf-8")
    nohome = discover_cmd("a", "--config", str(homeless))
    assert nohome.returncode == 2 and "site 'a' has no home" in gongkai_lines(nohome)[0]


def test_unreadable_portal_is_one_line_and_exit_1(replica):
    refused = discover_cmd("http://127.0.0.1:9/index.html", "--delay", "0")
    assert refused.returncode == 1
    assert len(gongkai_lines(refused)) == 1 and "cannot reach" in refused.stderr
    site = replica.site("nav-jcms")
    missing = discover_cmd(site.base_url + "/no/such/page.html", "--delay", "0")
    assert missing.returncode == 1
    assert gongkai_lines(missing) == [f"gongkai: {site.base_url}/no/such/page.html: HTTP 404: not a portal page we can read"]
    nothing = discover_cmd(site.base_url + "/module/jslib/jquery/jquery.js", "--delay", "0")
    assert nothing.returncode == 1 and "no disclosure navigation found" in gongkai_lines(nothing)[0]
    barred = discover_cmd(site.base_url + "/module/visitcount/visit.jsp?type=1", "--delay", "0")
    assert barred.returncode == 1 and "robots.txt" in gongkai_lines(barred)[0]


def test_robots_txt_is_obeyed():
    site = build_county("jcms")
    nav_data = site.options["navigation"]
    barred = nav_data.towns[0]
    site.robots_txt = f"User-agent: *\nDisallow: /col/col{barred.page_id}/\nCrawl-delay: 0.05\n"
    with ReplicaServer([site]) as server:
        result = discover_cmd(home_url(site), "--delay", "0", "--json")
        assert result.returncode == 0, result.stderr
        paths = [r.path for r in server.requests]
    assert paths[0] == "/robots.txt" and paths.count("/robots.txt") == 1
    assert f"/col/col{barred.page_id}/index.html" not in paths
    towns = {json.loads(line)["town"] for line in result.stdout.splitlines()}
    assert barred.name not in towns and len(towns) > 10


def test_crawl_delay_spaces_requests():
    site = build_county("trs")
    site.robots_txt = "User-agent: *\nCrawl-delay: 0.1\n"
    with ReplicaServer([site]) as server:
        result = discover_cmd(home_url(site), "--delay", "0", "--max-pages", "12")
        times = [r.time for r in server.requests]
    assert result.returncode == 1  # stopped at the bound: said so
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # The replica stamps a request when it handles it: on a loaded machine one handled late shortens the
    # gap after it, but never the whole span (13 requests spaced by the robots.txt delay of 0.1 s).
    assert len(times) == 13 and times[-1] - times[0] >= 12 * 0.1 * 0.95 and min(gaps) >= 0.03, gaps


def test_pages_are_bounded(replica):
    site = replica.site("nav-jpaas")
    replica.clear_requests()
    result = discover_cmd(home_url(site), "--delay", "0", "--max-pages", "15")
    requests = [r for r in replica.requests if r.site == site.name]
    assert result.returncode == 1
    lines = gongkai_lines(result)
    assert len(lines) == 1 and "--max-pages 15" in lines[0]
    assert len([r for r in requests if r.path != "/robots.txt"]) == 15


def test_default_delay_is_kept_between_requests(replica):
    site = replica.site("nav-xxgk")
    replica.clear_requests()
    started = time.monotonic()
    result = discover_cmd(home_url(site), "--delay", "0.2", "--max-pages", "4")
    assert result.returncode == 1
    times = [r.time for r in replica.requests if r.site == site.name and r.time >= started]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # The replica times the gaps: on a loaded machine a request handled late shortens the gap after it, so
    # each gap gets 50 ms of slack and their mean must still be the delay (no delay at all fails both).
    assert len(times) == 5 and min(gaps) >= 0.15 and sum(gaps) / len(gaps) >= 0.19, gaps


# -- the pure parsers ----------------------------------------------------------------------------------

def test_column_kinds():
    assert nav.column_kind("计划总结") == "report" and nav.column_kind("工作计划") == "report"
    assert nav.column_kind(" 工作 总结 ") == "report"
    for decoy in ("政策文件", "政府工作报告", "年报", "政府信息公开年报", "财政预决算", "其他政策文件"):
        assert nav.column_kind(decoy) == "decoy", decoy
    assert nav.column_kind("规划计划") == "container" and nav.column_kind("法定主动公开内容") == "container"
    assert nav.column_kind("机构概况") == "other" and nav.column_kind("其他文件") == "unknown"


def test_towns():
    assert nav.town_of("朱溪镇") == "朱溪镇" and nav.town_of("竹里畲族乡") == "竹里畲族乡"
    assert nav.town_of("柳城畲族镇人民政府") == "柳城畲族镇" and nav.town_of("下沙街道办事处") == "下沙街道"
    assert nav.town_of("城南新区(三江街道)") is None or nav.town_of("城南新区(三江街道)")
    for not_a_town in ("乡镇", "乡镇（街道）", "各镇、街道", "政务公开", "计划总结", "市财政局"):
        assert nav.town_of(not_a_town) is None, not_a_town


def test_rows_look_like_reports():
    assert nav.rows_look_like_reports(["朱溪镇2024年工作总结和2025年工作计划", "朱溪镇2023年上半年工作总结及下半年工作思路"])
    assert not nav.rows_look_like_reports(["2024年朱溪镇政府工作报告", "朱溪镇召开2024年安全生产工作会议"])
    assert not nav.rows_look_like_reports([])


def test_jpaas_widgets_are_read_from_the_page():
    page = ('<script src="/AuthorizedRead/unitbuild.js" url="/api-gateway/jpaas-publish-server/front/page/build/unit" '
            'queryData="{\'webId\':\'3549\',\'tplSetId\':\'abc\',\'pageType\':\'column\',\'tagId\':\'栏目导航\','
            '\'pageId\':\'1229\'}"></script><script src="/AuthorizedRead/unitbuild.js" url="/api" '
            'querydata="{\'webId\':\'1\',\'tagId\':\'分页列表\',\'pageId\':\'2\'}"></script>')
    widgets = nav.jpaas_widgets(page, "http://h/col/col1229/index.html")
    assert [w.tag for w in widgets] == ["栏目导航"]
    assert "parseType=bulidstatic" in widgets[0].url and dict(widgets[0].headers)["X-Requested-With"] == "XMLHttpRequest"
    assert nav.jpaas_widget_html('{"success":true,"data":{"html":"<a href=\\"/x\\">x</a>"}}') == '<a href="/x">x</a>'
    assert nav.jpaas_widget_html('{"success":false}') is None and nav.jpaas_widget_html("<html>") is None


def test_moved_notice_and_column_keys():
    page = '<html><body><p>本栏目已迁移至新栏目，请访问：<a href="/col/col2/index.html">计划总结</a></p></body></html>'
    assert nav.moved_to(page, "http://h/col/col1/index.html") == "http://h/col/col2/index.html"
    assert nav.moved_to('<meta http-equiv="refresh" content="0; url=/x/">', "http://h/a/") == "http://h/x/"
    assert nav.column_key("http://www.h.cn/col/col1/index.html?uid=5&pageNum=2") == nav.column_key("https://h.cn/col/col1/")


def test_fetcher_follows_a_same_host_robots_txt_redirect():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from gongkai.crawler.polite import PoliteFetcher

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - stdlib naming
            if self.path == "/robots.txt":
                self.send_response(301)
                self.send_header("Location", "/robots-moved.txt")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b"User-agent: *\nDisallow: /private/\n" if self.path == "/robots-moved.txt" else b"<html></html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        fetcher = PoliteFetcher(delay=0)
        assert not fetcher.allowed(base + "/private/page.html") and fetcher.allowed(base + "/index.html")
        assert fetcher.robots_requests == 2 and fetcher.get(base + "/index.html").status == 200
    finally:
        server.shutdown()
        server.server_close()
