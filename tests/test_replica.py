"""The replica portals must behave like jcms (listing, dataproxy, faults, encodings, robots) and their
ground truth must match what the pages really show."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime

import lxml.etree
import lxml.html
import pytest

from gongkai_replica import LAYOUTS, ReplicaArticle, ReplicaServer, build_demo_sites
from gongkai_replica.sites import L002, L003, ReplicaSite

PROXY = "/module/jpage/dataproxy.jsp"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, data: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) without raising on 4xx/5xx and without following redirects."""
    try:
        with _opener.open(url, data, timeout=10) as r:
            return r.status, dict(r.headers.items()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


def proxy_form(site: ReplicaSite, column_id: int, **over: object) -> bytes:
    form = {
        "col": 1, "appid": 1, "webid": site.webid, "path": "/", "columnid": column_id,
        "sourceContentType": 1, "unitid": site.unitid, "webname": site.webname, "permissiontype": 0,
    }
    form.update(over)
    return urllib.parse.urlencode(form).encode()


def post_window(srv: ReplicaServer, site: ReplicaSite, column_id: int, s: int, e: int, perpage: int = 15,
                **over: object) -> lxml.etree._Element:
    url = f"{srv.base_url(site.name)}{PROXY}?startrecord={s}&endrecord={e}&perpage={perpage}"
    status, headers, body = fetch(url, proxy_form(site, column_id, **over))
    assert status == 200
    assert headers["Content-Type"] == "text/xml; charset=UTF-8"
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return lxml.etree.fromstring(body)


def record_hrefs(records: list[str]) -> list[str | None]:
    out: list[str | None] = []
    for rec in records:
        m = re.search(r"""href=['"]([^'"]+)['"]""", rec)
        out.append(m.group(1) if m else None)
    return out


def datastore_of(page: str, unitid: int) -> lxml.etree._Element:
    m = re.search(rf'<div id="{unitid}"><script type="text/xml">(.*?)</script>', page, re.S)
    assert m, "no datastore"
    return lxml.etree.fromstring(m.group(1).encode())


@pytest.fixture(scope="module")
def srv() -> Iterator[ReplicaServer]:
    with ReplicaServer(build_demo_sites()) as s:
        yield s


@pytest.fixture
def fresh() -> Iterator[ReplicaServer]:
    """A private server for tests that mutate sites or consume fault counters."""
    with ReplicaServer(build_demo_sites()) as s:
        yield s


# --------------------------------------------------------------------------------------------- demo

def test_demo_shape() -> None:
    sites = build_demo_sites()
    assert len(sites) >= 3
    layouts = {a.effective_layout for s in sites for a in s.articles()}
    assert layouts == set(LAYOUTS)
    assert [s.name for s in sites if s.charset != "utf-8"] == ["qujiang"]
    total = sum(len(s.articles()) for s in sites)
    assert 60 <= total <= 120
    assert any(len(c.records()) > 45 for s in sites for c in s.columns)
    # same article id listed under two columns of one site, deliberately
    xianju = sites[0]
    ids = [set(a.article_id for a in c.articles) for c in xianju.columns]
    assert ids[0] & ids[1]
    # deterministic
    again = build_demo_sites()
    assert [a.expected.body for s in again for a in s.articles()] == [a.expected.body for s in sites for a in s.articles()]
    flat = [a for s in sites for a in s.articles()]
    assert sum(a.fail_first for a in flat) >= 2
    assert [a.retry_after for a in flat if a.too_many_first] == [1]
    assert sum(a.withdrawn for a in flat) == 1 and sum(a.private for a in flat) == 1


def test_url_path_not_zero_padded() -> None:
    a = ReplicaArticle(3942862, datetime(2024, 8, 5, 9, 3), "t", ["p"], "朱溪镇", column_id=1229311252)
    assert a.url_path == "/art/2024/8/5/art_1229311252_3942862.html"


def test_each_site_own_address(srv: ReplicaServer) -> None:
    hosts = {urllib.parse.urlsplit(srv.base_url(n)).hostname for n in srv.sites}
    assert len(hosts) == len(srv.sites)
    assert all(h and h.startswith("127.0.0.") for h in hosts)


# ------------------------------------------------------------------------------------------ listing

def test_listing_holds_first_group_only(srv: ReplicaServer) -> None:
    site = srv.site("xianju")
    col = site.columns[0]
    status, headers, body = fetch(srv.listing_urls("xianju")[0])
    assert status == 200 and headers["Content-Type"] == "text/html; charset=UTF-8"
    page = body.decode("utf-8")
    ds = datastore_of(page, site.unitid)
    records = [r.text for r in ds.iter("record")]
    assert len(records) == 45
    want = [a.url_path_for(col.column_id) for a in col.records()]
    assert record_hrefs(records) == want[:45]
    assert "page=4&appid=1&webid=3114" in ds.findtext("nextgroup")
    assert re.search(r"totalRecord:52\b", page)
    assert "perPage:15" in page and "groupSize:3" in page
    assert "webname:' 仙居县人民政府'" in page  # verbatim, leading space included
    # single-quoted attrs, full title in title=, shown text truncated
    assert re.search(r"<a href='/art/[^']+' title='[^']+' target=\"_blank\">[^<]+…</a>", records[0])
    # ?uid=&pageNum= is client-side only: the server answers page 1
    _, _, again = fetch(srv.listing_urls("xianju")[0] + "?uid=6390858&pageNum=3")
    assert again == body


def test_listing_markup_variants(srv: ReplicaServer) -> None:
    pages = {n: fetch(srv.listing_urls(n)[0])[2] for n in srv.sites}
    assert re.search(rb"<span>\[\d{4}-\d\d-\d\d\]</span>", pages["qujiang"])
    wuyi = pages["wuyi"].decode()
    assert f'<a href="{srv.base_url("wuyi")}/art/' in wuyi and re.search(r"<i>\d{4}-\d\d-\d\d</i></a>", wuyi)
    panan = pages["panan"].decode()
    assert "<font> · </font>" in panan
    assert re.search(r"var param_6166867 = \{.*?\};", panan) and "totalRecord:22" in panan
    taishun = pages["taishun"].decode()
    recs = [r.text for r in datastore_of(taishun, 7048171).iter("record")]
    assert None in record_hrefs(recs)  # junk row without a link
    assert re.search(r"ajaxParam:\{.*?\},proxyUrl", taishun)  # key order B


def test_unknown_column_404(srv: ReplicaServer) -> None:
    status, _, body = fetch(srv.base_url("xianju") + "/col/col1/index.html")
    assert status == 404 and "页面不存在" in body.decode()


# ---------------------------------------------------------------------------------------- dataproxy

def test_dataproxy_windows(srv: ReplicaServer) -> None:
    site = srv.site("xianju")
    col = site.columns[0]
    want = [a.url_path_for(col.column_id) for a in col.records()]
    ds1 = post_window(srv, site, col.column_id, 1, 45)
    ds2 = post_window(srv, site, col.column_id, 46, 90)
    for ds in (ds1, ds2):
        assert ds.findtext("totalrecord") == "52" and ds.findtext("totalpage") == "4"
    r1 = record_hrefs([r.text for r in ds1.iter("record")])
    r2 = record_hrefs([r.text for r in ds2.iter("record")])
    assert len(r1) == 45 and len(r2) == 7
    assert r1 + r2 == want
    assert "page=4" in ds1.findtext("nextgroup") and ds2.findtext("nextgroup") == ""
    # arbitrary (enlarged) windows are honoured
    big = post_window(srv, site, col.column_id, 1, 120, perpage=40)
    assert len(list(big.iter("record"))) == 52 and big.findtext("totalpage") == "2"


def test_dataproxy_wrong_ids_and_past_end(srv: ReplicaServer) -> None:
    site = srv.site("xianju")
    col = site.columns[0]
    for over in ({"webid": 9999}, {"unitid": 1}, {"columnid": 1229000000}):
        ds = post_window(srv, site, col.column_id, 1, 45, **over)
        assert ds.findtext("totalrecord") == "0" and not list(ds.iter("record"))
    past = post_window(srv, site, col.column_id, 91, 135)
    assert past.findtext("totalrecord") == "52" and not list(past.iter("record"))


def test_dataproxy_get_is_405(srv: ReplicaServer) -> None:
    site = srv.site("xianju")
    q = proxy_form(site, site.columns[0].column_id).decode()
    status, headers, _ = fetch(f"{srv.base_url('xianju')}{PROXY}?startrecord=1&endrecord=45&perpage=15&{q}")
    assert status == 405 and headers["Allow"] == "POST"


def test_dataproxy_lookahead_duplicate(srv: ReplicaServer) -> None:
    site = srv.site("panan")  # perPage 10, groupSize 2, lookahead quirk
    col = site.columns[0]
    want = [a.url_path_for(col.column_id) for a in col.records()]
    first = record_hrefs([r.text for r in post_window(srv, site, col.column_id, 1, 20, 10).iter("record")])
    second = record_hrefs([r.text for r in post_window(srv, site, col.column_id, 21, 40, 10).iter("record")])
    assert first == want[:20]
    assert second == want[19:]  # repeats the previous group's last row
    assert list(dict.fromkeys(first + second)) == want


# ------------------------------------------------------------------------------------------- faults

def _find(site: ReplicaSite, pred) -> ReplicaArticle:  # type: ignore[no-untyped-def]
    return next(a for a in site.articles() if pred(a))


def test_fail_first_then_ok(fresh: ReplicaServer) -> None:
    art = _find(fresh.site("xianju"), lambda a: a.fail_first)
    assert fetch(art.url)[0] == 503
    assert fetch(art.url)[0] == 200
    assert fetch(art.url)[0] == 200
    fresh.reset_faults()
    assert fetch(art.url)[0] == 503


def test_fault_counters_are_per_server_instance() -> None:
    for _ in range(2):
        with ReplicaServer(build_demo_sites()) as s:
            art = _find(s.site("xianju"), lambda a: a.fail_first)
            assert fetch(art.url)[0] == 503


def test_429_with_retry_after(fresh: ReplicaServer) -> None:
    art = _find(fresh.site("panan"), lambda a: a.too_many_first)
    status, headers, _ = fetch(art.url)
    assert status == 429 and headers["Retry-After"] == "1"
    assert fetch(art.url)[0] == 200


def test_withdrawn_is_404(srv: ReplicaServer) -> None:
    site = srv.site("taishun")
    art = _find(site, lambda a: a.withdrawn)
    listed = any(a is art for c in site.columns for a in c.records())
    assert listed
    status, _, body = fetch(art.url)
    assert status == 404 and "页面不存在" in body.decode()


def test_wrong_date_in_path_is_404(srv: ReplicaServer) -> None:
    art = srv.site("xianju").articles()[0]
    bad = art.url.replace(f"/{art.pub_date.day}/art_", f"/{art.pub_date.day % 28 + 1}/art_")
    assert fetch(bad)[0] == 404


# -------------------------------------------------------------------------------- encodings, robots

def test_gbk_site(srv: ReplicaServer) -> None:
    site = srv.site("qujiang")
    art = site.articles()[1]
    status, headers, body = fetch(art.url)
    assert status == 200 and headers["Content-Type"] == "text/html"
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    with pytest.raises(UnicodeDecodeError):
        body.decode("gb2312")
    text = body.decode("gb18030")
    assert 'content="text/html; charset=gb2312"' in text
    visible = lxml.html.fromstring(text).text_content()
    for s in ("镕", "喆", "堃", "昇", "龙之梦·六春湖"):
        assert s in visible
    listing = fetch(srv.listing_urls("qujiang")[0])[2]
    assert art.title in listing.decode("gb18030")
    # dataproxy XML stays UTF-8 even on the GBK site
    col = site.columns[0]
    ds = post_window(srv, site, col.column_id, 1, 45)
    assert int(ds.findtext("totalrecord")) == len(col.records())


def test_robots_variants(srv: ReplicaServer) -> None:
    assert fetch(srv.base_url("xianju") + "/robots.txt")[0] == 404
    status, _, body = fetch(srv.base_url("qujiang") + "/robots.txt")
    assert status == 200 and body == b"User-agent: *\nDisallow:\n"
    status, _, body = fetch(srv.base_url("wuyi") + "/robots.txt")
    assert b"Disallow: /private/" in body
    assert b"Crawl-delay: 1" in fetch(srv.base_url("taishun") + "/robots.txt")[2]
    # wuyi lists one record under the disallowed path, and that page exists (so a leak would show)
    wuyi = srv.site("wuyi")
    private = _find(wuyi, lambda a: a.private)
    assert private.url_path.startswith("/private/art/")
    assert f"{wuyi.base_url}{private.url_path}" in fetch(srv.listing_urls("wuyi")[0])[2].decode()
    assert fetch(private.url)[0] == 200
    assert private not in wuyi.crawlable_articles()


def test_attachment_download(srv: ReplicaServer) -> None:
    art = _find(srv.site("wuyi"), lambda a: a.attachments)
    att = art.expected.attachments[0]
    assert att.url.startswith(srv.base_url("wuyi") + "/module/download/downfile.jsp?classid=0&filename=")
    status, headers, _ = fetch(att.url)
    assert status == 302 and re.search(r"/attach/0/[0-9a-f]{32}\.docx$", headers["Location"])
    status, headers, data = fetch(headers["Location"])
    assert status == 200 and data.startswith(b"PK") and "filename*=UTF-8''" in headers["Content-Disposition"]
    assert fetch(srv.base_url("wuyi") + "/module/visitcount/visit.jsp?type=3&i_webid=3558")[0] == 200


# ------------------------------------------------------------------------------------- request log

def test_request_log(fresh: ReplicaServer) -> None:
    site = fresh.site("xianju")
    fetch(fresh.base_url("xianju") + "/robots.txt")
    post_window(fresh, site, site.columns[0].column_id, 46, 90)
    log = fresh.requests
    assert [(e.site, e.method, e.path, e.status) for e in log] == [
        ("xianju", "GET", "/robots.txt", 404),
        ("xianju", "POST", PROXY, 200),
    ]
    assert log[1].query == "startrecord=46&endrecord=90&perpage=15"
    assert dict(log[1].form)["webname"] == " 仙居县人民政府"
    assert log[0].time <= log[1].time
    fresh.clear_requests()
    assert fresh.requests == []


# ---------------------------------------------------------------------------------------- mutation

def test_add_edit_withdraw_while_running(fresh: ReplicaServer) -> None:
    site = fresh.site("taishun")
    col = site.columns[0]
    before = len(col.records())
    new = ReplicaArticle(4399999, datetime(2025, 1, 20, 9, 30), "三魁镇2024年工作总结及2025年工作思路",
                         ["2024年，三魁镇全镇上下……", "一、2024年工作情况"], "三魁镇",
                         index_no="001008003011056/2025-01234")
    fresh.add_article("taishun", col.column_id, new)
    page = fetch(fresh.listing_urls("taishun")[0])[2].decode()
    assert f"totalRecord:{before + 1}" in page
    assert record_hrefs([r.text for r in datastore_of(page, site.unitid).iter("record")])[0] == new.url_path
    status, _, body = fetch(new.url)
    assert status == 200 and new.title in body.decode()

    fresh.edit_article("taishun", new.article_id, paragraphs=["改写后的正文。"])
    assert "改写后的正文" in fetch(new.url)[2].decode() and new.expected.body == "改写后的正文。"

    fresh.withdraw_article("taishun", new.article_id)
    assert fetch(new.url)[0] == 404
    fresh.withdraw_article("taishun", new.article_id, delist=True)
    ds = post_window(fresh, site, col.column_id, 1, 45)
    assert ds.findtext("totalrecord") == str(before)


# --------------------------------------------------------------------------- ground truth vs pages

def _visible_body(page: str, layout: str, title: str) -> list[str]:
    m = re.search(r"<!--ZJEG_RSS\.content\.begin-->(.*?)<!--ZJEG_RSS\.content\.end-->", page, re.S)
    if layout == L002:
        assert m is None  # this layout has no markers: the container must be used
        root = lxml.html.fromstring(page)
        (box,) = root.xpath('//div[@class="con_wen"]')
    else:
        assert m is not None
        box = lxml.html.fragment_fromstring(m.group(1), create_parent="div")
    lines = [p.text_content().strip() for p in box.iter("p")]
    lines = [ln for ln in lines if ln]
    if layout == L003:
        assert lines[0] == title
        lines = lines[1:]
    return lines


def test_expected_matches_rendered_pages(srv: ReplicaServer) -> None:
    for site in srv.sites.values():
        for art in site.crawlable_articles():
            status, _, body = fetch(art.url)
            if status != 200:  # demo faults: retry once past them
                status, _, body = fetch(art.url)
            assert status == 200, art.url
            page = body.decode("gb18030" if site.charset == "gbk" else "utf-8")
            exp = art.expected_on_page
            lay = art.effective_layout
            assert "\n".join(_visible_body(page, lay, art.title)) == exp.body, art.url
            root = lxml.html.fromstring(page)
            assert root.xpath('string(//meta[@name="ArticleTitle"]/@content)') == exp.title
            assert root.xpath("string(//title)") == f"{exp.title} - 计划总结 - {site.site_name}"
            visible = re.sub(r"\s+", " ", root.text_content())
            for key, value in exp.metadata.items():
                assert value in visible, (art.url, key, value)
            assert exp.index_no and exp.index_no in visible
            assert exp.publisher == art.town
            assert exp.published_date == art.pub_date.strftime("%Y-%m-%d")
            if lay == L003:
                assert exp.metadata["来源"] == site.site_name and exp.written_date
            if lay == L002:
                assert exp.written_date is None and exp.category is None
                hrefs = [urllib.parse.urljoin(art.url, h) for h in root.xpath('//div[@class="con_wen"]//a/@href')]
                assert hrefs == [a.url for a in exp.attachments]
            for token in ("Produced By 大汉网络 大汉版通发布系统", "http://www.hanweb.com",
                          f"/module/visitcount/visit.jsp?type=3&i_webid={site.webid}"):
                assert token in page


def test_replica_command_serves_every_platform_on_request():
    """`python -m gongkai_replica --every-platform --json`: one JSON line of listing URLs, each platform's
    detected as such from its own page."""
    import json as json_lib
    import signal
    import subprocess
    import sys
    import urllib.request

    from gongkai.crawler.platforms import detect_platform

    proc = subprocess.Popen([sys.executable, "-m", "gongkai_replica", "--every-platform", "--json"],
                            stdout=subprocess.PIPE, text=True)
    try:
        urls = json_lib.loads(proc.stdout.readline())
        detected = {}
        for site in ("xianju", "kaihua", "dongyang", "yiwu", "shangyu"):
            with urllib.request.urlopen(urls[site][0], timeout=10) as response:
                page = response.read().decode("gbk" if site == "kaihua" else "utf-8")
            detected[site] = detect_platform(page).NAME
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert detected == {"xianju": "jcms", "kaihua": "trs", "dongyang": "generic", "yiwu": "jpaas", "shangyu": "xxgk"}
