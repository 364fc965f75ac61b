"""The Hanweb 信息公开目录 (xxgk) platform: its parser on saved pages, and `gongkai crawl` of a replica.

search.jsp answers a category for the whole area, every department's and town's rows mixed; a town's
column must get its own rows, all of them, and nothing of the others'. The replica's first three pages
hold only the 区发改局's rows, so a crawl that took a page without its column's rows for a repeat, or
one that trusted search.jsp to filter, fails here.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from gongkai.crawler.platforms import UnsupportedListing, detect_platform, platform_by_name, xxgk
from gongkai_replica import xxgk as replica_xxgk
from gongkai_replica.server import ReplicaServer
from tests.test_cli import gongkai
from tests.test_crawl_jcms import FIELDS, first_difference
from tests.test_platforms_e2e import export, listed

FIXTURES = Path(__file__).parent / "fixtures" / "xxgk"
COLUMN_URL = "http://xxgk.shangyu.gov.cn/col/col1229423101/index.html"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


# -- the parser, on saved pages -------------------------------------------------------------------------

def test_column_page_is_detected_and_gives_the_forms_post():
    html = fixture("column.html")
    assert detect_platform(html) is xxgk
    page = xxgk.parse_listing_page(html, COLUMN_URL)
    assert page.records == []
    request = page.next
    assert request.method == "POST" and request.url == "http://xxgk.shangyu.gov.cn/module/xxgk/search.jsp"
    assert request.formdata == {
        "infotypeId": "B001A011", "jdid": "2328", "area": "002590173", "divid": "div1229423101", "vc_title": "",
        "vc_number": "", "sortfield": ",createdatetime:0,orderid:0", "currpage": "1", "vc_filenumber": "",
        "vc_all": "", "texttype": "0", "fbtime": "-1", "standardXxgk": "1", "isAllList": "1"}
    assert request.headers == {"Referer": COLUMN_URL, "X-Requested-With": "XMLHttpRequest"}


def test_a_script_posting_a_data_object_is_read_like_the_form():
    url = "http://www.hangzhou.gov.cn/col/col1256283/index.html"
    html = fixture("column_script.html")
    assert detect_platform(html) is xxgk
    request = xxgk.parse_listing_page(html, url).next
    assert request.url == ("http://www.hangzhou.gov.cn/module/xxgk/search.jsp"
                           "?standardXxgk=1&isAllList=1&texttype=0&fbtime=-1")
    form = request.formdata
    assert (form["infotypeId"], form["jdid"], form["area"], form["divid"], form["currpage"]) == (
        "H0100004", "149", "", "div1256283", "1")
    assert "texttype" not in form and "fbtime" not in form  # in the query string already: said once
    assert request.state["columns"] == ["1256283"]


def test_a_search_page_keeps_this_columns_rows_with_full_titles_and_asks_for_the_next():
    state = xxgk.parse_listing_page(fixture("column.html"), COLUMN_URL).next.state
    state = {**state, "page_no": 4}
    page = xxgk.parse_continuation(fixture("search_page4.html"), "http://xxgk.shangyu.gov.cn/module/xxgk/search.jsp",
                                   state)
    assert [(r.url, r.title, r.date) for r in page.records] == [
        ("http://xxgk.shangyu.gov.cn/art/2021/4/6/art_1229423101_5543299.html",
         "百官街道2020年工作总结和2021年工作计划", "2021-04-06"),  # shown text cut with …: title= is whole
        ("http://xxgk.shangyu.gov.cn/art/2020/7/5/art_1229423101_5540738.html",  # a relative link
         "百官街道2020年上半年工作总结和下半年工作思路", "2020-07-05"),
        ("http://xxgk.shangyu.gov.cn/art/2020/4/20/art_1229423101_5537182.html",
         "百官街道2019年工作总结和2020年工作计划", "2020-04-20")]
    # the 区发改局's and 丰惠镇's rows on the page are other columns'; 共9页: page 5 is next
    assert page.next.formdata["currpage"] == "5" and page.next.formdata["divid"] == "div1229423101"
    last = xxgk.parse_continuation(fixture("search_page4.html"), "", {**state, "page_no": 9})
    assert last.next is None and len(last.records) == 3


def test_past_the_last_page_or_a_repeated_page_ends_the_list():
    state = xxgk.parse_listing_page(fixture("column.html"), COLUMN_URL).next.state
    empty = xxgk.parse_continuation(fixture("search_past_end.html"), "", {**state, "page_no": 10})
    assert empty.records == [] and empty.next is None
    page4 = fixture("search_page4.html")
    walked = xxgk.parse_continuation(page4, "", {**state, "page_no": 4}).next.state
    # past 共9页, the last page again: the end (some servers answer so)
    again = xxgk.parse_continuation(page4, "", {**walked, "page_no": 10})
    assert again.records == [] and again.next is None


def test_a_page_short_of_the_pager_count_that_is_empty_repeated_or_no_table_is_an_error():
    """Ending the walk there would count the column as completely walked: a --full crawl would delist and
    withdraw every report not yet seen (22 of 22 in the audit's run against a server ignoring currpage)."""
    state = xxgk.parse_listing_page(fixture("column.html"), COLUMN_URL).next.state
    page4 = fixture("search_page4.html")
    walked = xxgk.parse_continuation(page4, "", {**state, "page_no": 4}).next.state
    with pytest.raises(UnsupportedListing, match="page 5 of 9 with the same rows as page 4"):
        xxgk.parse_continuation(page4, "", walked)  # a server ignoring currpage
    empty = fixture("search_past_end.html").replace("共9页", "")  # an empty table, no pager of its own
    with pytest.raises(UnsupportedListing, match="page 5 of 9 with empty"):
        xxgk.parse_continuation(empty, "", walked)
    busy = "<html><body><h2>对不起，系统繁忙，请稍后再试！</h2></body></html>"
    with pytest.raises(UnsupportedListing, match="without a result table"):
        xxgk.parse_continuation(busy, "", walked)
    with pytest.raises(UnsupportedListing, match="more than 500 pages"):
        xxgk.parse_continuation(page4.replace("共9页", "共99999页"), "", {**walked, "page_no": 500, "previous_first": None})


def test_a_walk_that_keeps_none_of_its_rows_says_which_columns_they_link():
    state = xxgk.parse_listing_page(fixture("column.html"), "http://xxgk.shangyu.gov.cn/col/col1229000000/index.html")
    state = {**state.next.state, "columns": ["1229000000"], "page_no": 9}
    with pytest.raises(UnsupportedListing, match=r"none of the 5 rows .* link columns 1229423101 \(3\), "):
        xxgk.parse_continuation(fixture("search_page4.html"), "", state)


def test_a_search_url_is_a_listing_of_its_own():
    url = ("http://xxgk.shangyu.gov.cn/module/xxgk/search.jsp?infotypeId=B001A011&jdid=2328&area=002590173"
           "&divid=div1229423101&sortfield=,createdatetime:0,orderid:0")
    page = xxgk.parse_listing_page(fixture("search_page4.html"), url)  # what a GET of it answered: page 1
    assert len(page.records) == 3 and page.next.method == "POST"
    assert page.next.url == "http://xxgk.shangyu.gov.cn/module/xxgk/search.jsp"
    assert page.next.formdata["currpage"] == "2" and page.next.formdata["infotypeId"] == "B001A011"
    # a URL naming another page: the walk starts at page 1 all the same (from page 4 to the end, it would
    # count as a complete walk, and a --full crawl delist pages 1-3's rows)
    later = xxgk.parse_listing_page(fixture("search_page4.html"), url + "&currpage=4")
    assert later.records == [] and later.next.formdata["currpage"] == "1"
    with pytest.raises(UnsupportedListing, match="names no list"):
        xxgk.parse_listing_page(fixture("search_page4.html"), "http://xxgk.shangyu.gov.cn/module/xxgk/search.jsp")


def test_a_form_that_names_no_list_is_a_clear_error():
    emptied = fixture("column.html")
    for value in ("B001A011", "2328", "002590173", "div1229423101"):
        emptied = emptied.replace(f'value="{value}"', 'value=""')
    with pytest.raises(UnsupportedListing, match="names no list"):
        xxgk.parse_listing_page(emptied, COLUMN_URL)


def test_other_platforms_pages_are_not_taken_for_xxgk():
    root = Path(__file__).parent / "fixtures"
    pages = sorted(p for platform in ("jcms", "jpaas", "trs", "generic", "layouts")
                   for p in (root / platform).rglob("*.htm*"))
    assert len(pages) > 20
    for page in pages:
        assert not xxgk.detect(page.read_text(encoding="utf-8", errors="replace")), page


# -- the replica ----------------------------------------------------------------------------------------

def test_replica_search_is_not_filtered_by_column():
    site = replica_xxgk.build_site()
    params = {"infotypeId": "B001A011", "divid": "div1229423101", "currpage": "1"}
    page1 = replica_xxgk.search_html(site, params, "h")
    assert page1.count("tr_main_value_") == 5 and "art_1229423140_" in page1 and "art_1229423101_" not in page1
    assert "共9页" in page1
    assert replica_xxgk.search_html(site, {**params, "infotypeId": "A0212"}, "h").count("tr_main_value_") == 0


# -- gongkai crawl of the replica ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def replica():
    with ReplicaServer([replica_xxgk.build_site()]) as server:
        yield server


TOWNS = (1229423101, 1229423117)  # 百官街道, 丰惠镇; not the 区发改局 (1229423140)


def town_listings(server: ReplicaServer) -> list[str]:
    return [u for u in server.listing_urls("shangyu") if any(f"col{c}/" in u for c in TOWNS)]


@pytest.fixture(scope="module")
def crawled(replica, admin_url):
    from tests.test_platforms_e2e import _drop, _fresh_db

    name, url = _fresh_db(admin_url)
    replica.clear_requests()
    result = gongkai("crawl", *town_listings(replica), "--delay", "0", database_url=url, timeout=300)
    yield url, result, list(replica.requests)
    _drop(admin_url, name)


def test_crawl_fetches_every_row_of_the_towns_columns_and_nothing_else(replica, crawled):
    database_url, result, requests = crawled
    assert result.returncode == 0, result.stderr
    with psycopg.connect(database_url) as conn:
        states = dict(conn.execute("SELECT url, state FROM crawl_urls").fetchall())
    expected = {u for _, article, u in listed(replica) if article.column_id in TOWNS}
    assert len(expected) == 22 + 6
    assert states == dict.fromkeys(expected, "fetched")
    assert not [r for r in requests if "art_1229423140_" in r.path], "fetched another column's article"
    assert not [r for r in requests if r.status >= 400 and r.path != "/robots.txt"]


def test_every_article_is_a_report_with_exact_fields(replica, crawled):
    database_url, _, _ = crawled
    by_url = {url: report for report in export(database_url) for url in report["urls"]}
    mismatches = []
    for _, article, url in listed(replica):
        if article.column_id not in TOWNS:
            continue
        report = by_url[url]
        for name in FIELDS:
            if report[name] != getattr(article.expected, name):
                mismatches.append(f"{url} {name}: {first_difference(report[name], getattr(article.expected, name))}")
    assert not mismatches, "\n".join(mismatches[:10])


def test_the_search_requests_were_the_browsers(replica, crawled):
    _, _, requests = crawled
    pages: dict[str, list[int]] = defaultdict(list)
    for r in requests:
        if r.path == replica_xxgk.SEARCH_PATH:
            assert r.method == "POST" and r.status == 200
            form = dict(r.form)
            assert (form["infotypeId"], form["jdid"], form["area"]) == ("B001A011", "2328", "002590173")
            pages[form["divid"]].append(int(form["currpage"]))
    # 44 rows of the category, 5 a page: both walks read all 9 pages, each once, though pages 1-3
    # hold neither town's rows
    assert {d: sorted(p) for d, p in pages.items()} == {f"div{c}": list(range(1, 10)) for c in TOWNS}


def test_routine_recrawl_stops_at_known_rows(replica, crawled):
    database_url, _, _ = crawled
    before = export(database_url)
    replica.clear_requests()
    again = gongkai("crawl", *town_listings(replica), "--delay", "0", database_url=database_url, timeout=300)
    assert again.returncode == 0, again.stderr
    searched = sorted((dict(r.form)["divid"], int(dict(r.form)["currpage"])) for r in replica.requests
                      if r.path == replica_xxgk.SEARCH_PATH)
    # the first page holding a town's rows (page 4 for both) is all known: the walk stops there
    assert searched == [(f"div{c}", p) for c in TOWNS for p in (1, 2, 3, 4)]
    assert not [r for r in replica.requests if r.path.startswith("/art/")]
    assert export(database_url) == before


def test_platform_is_named_xxgk_for_config():
    assert platform_by_name("xxgk") is xxgk
    # an action's own query string stays; currpage goes in the form only
    request = xxgk.search_request(COLUMN_URL, "/module/xxgk/search.jsp?a=1&currpage=3", {"divid": "div1"}, 2,
                                  frozenset())
    assert urlsplit(request.url).query == "a=1" and request.formdata["currpage"] == "2"


def test_script_objects_are_read_whole_and_first_whatever_their_quoting():
    url = "http://www.hangzhou.gov.cn/col/col1256283/index.html"
    base = fixture("column_script.html")
    unquoted = base.replace('"jdid": "149"', '"jdid": 149').replace('"infotypeId": "H0100004"', "infotypeId: 'H0100004'")
    form = xxgk.parse_listing_page(unquoted, url).next.formdata
    assert (form["jdid"], form["infotypeId"], form["divid"]) == ("149", "H0100004", "div1256283")
    # the tree's call, later on the page, names another div: the list's object is the one posted
    later = base.replace("loadList(currpage);", "loadList(currpage);\n$.get('/module/xxgk/tree.jsp', "
                                                "{ divid: 'div1229063382', area: '' });")
    request = xxgk.parse_listing_page(later, url).next
    assert request.formdata["divid"] == "div1256283" and request.state["columns"] == ["1256283"]
    serialized = base.replace(base[base.index("data: {"):base.index("success:")],
                              'data: "infotypeId=H0100004&jdid=149&area=&divid=div1256283&currpage=" + page,\n        ')
    form = xxgk.parse_listing_page(serialized, url).next.formdata
    assert (form["infotypeId"], form["divid"], form["currpage"]) == ("H0100004", "div1256283", "1")


def test_the_form_naming_the_list_is_used_whatever_its_action_and_a_search_box_is_not():
    column = fixture("column.html")
    box = ('<form action="/module/xxgk/search.jsp" method="post"><input name="vc_title" value=""/>'
           '<input type="submit" value="搜索"/></form>')
    page = xxgk.parse_listing_page(column.replace("<body>", "<body>" + box, 1), COLUMN_URL)
    assert page.next.formdata["infotypeId"] == "B001A011"
    # the list form posted by script ($('#searchform').serialize() to search.jsp), its action empty
    scripted = column.replace('action="/module/xxgk/search.jsp"', 'action=""')
    assert xxgk.detect(scripted)
    request = xxgk.parse_listing_page(scripted, COLUMN_URL).next
    assert request.url == "http://xxgk.shangyu.gov.cn/module/xxgk/search.jsp"
    assert request.formdata["divid"] == "div1229423101"


def test_markup_in_a_rows_title_attribute_is_not_the_title():
    page = fixture("search_page4.html").replace('title="百官街道2019年工作总结和2020年工作计划"',
                                                'title="&lt;font color=red&gt;百官街道2019年工作总结和2020年工作计划&lt;/font&gt;"')
    state = {**xxgk.parse_listing_page(fixture("column.html"), COLUMN_URL).next.state, "page_no": 4}
    titles = [r.title for r in xxgk.parse_continuation(page, "", state).records]
    assert titles[-1] == "百官街道2019年工作总结和2020年工作计划"


# -- what a review found (tests/…: each failed before its fix) --------------------------------------------

SEARCH_BOX = ('<form action="/module/xxgk/search.jsp" method="post" target="_blank"><input type="hidden" name="jdid" '
              'value="2328"><input type="hidden" name="area" value="002590173"><input type="text" name="vc_all" '
              'value=""><input type="submit" value="检索"></form>')


def test_a_site_search_box_posting_to_search_jsp_neither_makes_a_page_xxgk_nor_names_its_list():
    root = Path(__file__).parent / "fixtures"
    quick = '<form action="/module/xxgk/search.jsp"><input type="text" name="vc_all" value=""></form>'
    for platform, name in (("generic", "list_table.html"), ("trs", "index.html")):
        page = (root / platform / name).read_text(encoding="utf-8", errors="replace")
        assert detect_platform(page.replace("<body>", "<body>" + quick, 1)).NAME == platform
    # a header box carrying the site's jdid and area, before the column's own form: the column's is used
    page = fixture("column.html").replace("<body>", "<body>" + SEARCH_BOX, 1)
    form = xxgk.parse_listing_page(page, COLUMN_URL).next.formdata
    assert (form["infotypeId"], form["divid"]) == ("B001A011", "div1229423101")


def test_a_list_whose_ids_a_script_computes_is_a_clear_error_not_an_empty_column():
    url = "http://www.hangzhou.gov.cn/col/col1256283/index.html"
    base = fixture("column_script.html")
    for computed in ('infotypeId: infotypeId', '"infotypeId": $("#infotypeId").val()'):
        page = base.replace('"infotypeId": "H0100004"', computed)
        with pytest.raises(UnsupportedListing, match="infotypeId is computed by the page's script"):
            xxgk.parse_listing_page(page, url)


def test_an_xxgk_column_page_with_a_jpage_box_is_read_as_xxgk():
    """A 最新信息 box of another column beside the list (a jpage widget): detected with the column's URL, the
    page is the xxgk list's; the visit counter's i_columnid does not make the box the column's."""
    rows = "".join(f"<record><![CDATA[<li><a href='/art/2024/1/{i}/art_1229000001_{i}.html' title='区政府最新信息第{i}条'>"
                   f"x</a><span>2024-01-0{i}</span></li>]]></record>" for i in range(1, 6))
    box = (f"<div class='side'><div id='4467411'><script type='text/xml'><datastore><recordset>{rows}</recordset>"
           "</datastore></script></div><script>$('#4467411').jpage({totalRecord:5,perPage:5,groupSize:1,"
           "ajaxParam:{col:1,webid:2328,columnid:1229000001,unitid:'4467411'}});</script></div>")
    page = fixture("column.html").replace("</body>", box + "</body>")
    assert detect_platform(page).NAME == "jcms"  # without the URL, the first platform that takes it
    assert detect_platform(page, COLUMN_URL) is xxgk
    jcms_page = (Path(__file__).parent / "fixtures" / "jcms" / "listings" / "zjxj_col1229311252.html").read_text("utf-8")
    assert detect_platform(jcms_page, "http://www.zjxj.gov.cn/col/col1229311252/index.html").NAME == "jcms"
