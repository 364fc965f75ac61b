"""Listing parsers for TRS, generic lists and jpaas on realistic pages; detection and its errors.

Pages are decoded the way the spider's responses are (w3lib: BOM, header, <meta>), so the GBK TRS
pages, whose header carries no charset, are read through their <meta charset=gb2312>.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from w3lib.encoding import html_to_unicode

from gongkai.crawler.platforms import (
    Platform,
    UnsupportedListing,
    all_platforms,
    detect_platform,
    generic,
    jcms,
    jpaas,
    platform_by_name,
    trs,
)
from gongkai.models import ListingRecord

FIXTURES = Path(__file__).parent / "fixtures"


def read(path: str, content_type: str = "text/html") -> str:
    return html_to_unicode(content_type, (FIXTURES / path).read_bytes())[1]


# -- TRS -----------------------------------------------------------------------------------------------

TRS_URL = "http://www.kaihua.gov.cn/zwgk/ghjh/jhzj/index.html"


def test_trs_first_page_gbk_relative_links_and_next_page():
    page = trs.parse_listing_page(read("trs/index.html"), TRS_URL)
    assert page.records == [
        ListingRecord("http://www.kaihua.gov.cn/zwgk/ghjh/jhzj/202403/t20240318_5346734.html",
                      "华埠镇2023年工作总结及2024年工作思路", "2024-03-18"),
        # shown text cut with ..., title= whole
        ListingRecord("http://www.kaihua.gov.cn/zwgk/ghjh/jhzj/202308/t20230821_5301122.html",
                      "华埠镇2023年上半年工作总结及下半年工作计划", "2023-08-21"),
        # (the empty <li> is skipped) empty title=: the shown text; 镕 is GBK but not GB2312; [date]
        ListingRecord("http://www.kaihua.gov.cn/zwgk/ghjh/jhzj/202302/t20230209_5267001.html",
                      "华埠镇镕城社区2022年度工作总结", "2023-02-09"),
        # an absolute link of the old jcms site and an attachment are rows like any other
        ListingRecord("http://www.kaihua.gov.cn/art/2022/8/4/art_1229000201_4012345.html",
                      "华埠镇2022年上半年工作总结及下半年工作计划", "2022-08-04"),
        ListingRecord("http://www.kaihua.gov.cn/zwgk/ghjh/jhzj/P020220315512345678901.pdf",
                      "华埠镇2021年工作总结和2022年工作思路（扫描件）", "2022-03-15"),
    ]
    # not the 最新文件 sidebar (TRS-shaped links, no dates); the function definition is not the call
    assert page.next is not None and page.next.method == "GET"
    assert page.next.url == "http://www.kaihua.gov.cn/zwgk/ghjh/jhzj/index_1.html"
    assert page.next.state["count"] == 3 and page.next.state["index"] == 1


def test_trs_continuation_and_last_page():
    first = trs.parse_listing_page(read("trs/index.html"), TRS_URL)
    second = trs.parse_continuation(read("trs/index.html"), first.next.url, first.next.state)
    assert second.next.url == "http://www.kaihua.gov.cn/zwgk/ghjh/jhzj/index_2.html"
    # relative links resolve against the page they are on
    assert second.records[0].url == "http://www.kaihua.gov.cn/zwgk/ghjh/jhzj/202403/t20240318_5346734.html"
    last = trs.parse_continuation(read("trs/index_2.html"), second.next.url, second.next.state)
    assert last.records == [
        ListingRecord("http://www.kaihua.gov.cn/zwgk/ghjh/jhzj/201702/t20170210_2101888.html",
                      "华埠镇2016年工作总结和2017年工作思路", "2017-02-10"),
        ListingRecord("http://www.kaihua.gov.cn/zwgk/ghjh/jhzj/201608/t20160801_2050777.html",
                      "华埠镇2016年上半年工作总结", "2016-08-01"),
    ]
    assert last.next is None


def test_trs_pager_with_container_and_one_based_index_and_table_rows():
    url = "http://www.zjcs.gov.cn/zwgk/ghjh/index_1.shtml"
    page = trs.parse_listing_page(read("trs/container_variant.html"), url)
    assert [r.url for r in page.records] == [
        "http://www.zjcs.gov.cn/zwgk/ghjh/202501/t20250106_6012345.shtml",
        "http://www.zjcs.gov.cn/zwgk/ghjh/202407/t20240715_5991234.shtml",
        "http://www.zjcs.gov.cn/zwgk/ghjh/202401/t20240122_5978001.shtml",
    ]
    assert page.records[0] == ListingRecord("http://www.zjcs.gov.cn/zwgk/ghjh/202501/t20250106_6012345.shtml",
                                            "球川镇2024年工作总结和2025年工作思路", "2025-01-06")
    # createPageHTML('page_div', 4, 2, 'index', 'shtml', 57): page 2 of 4 -> index_2.shtml is the third
    assert page.next.url == "http://www.zjcs.gov.cn/zwgk/ghjh/index_2.shtml"


@pytest.mark.parametrize(("fixture", "url"), [
    ("trs/empty.html", TRS_URL),
    ("trs/container_empty.html", "http://www.zjcs.gov.cn/zwgk/ghjh/jhzj/index.shtml"),
])
def test_trs_empty_column_has_no_rows_not_its_sidebar(fixture, url):
    # Two templates' empty columns: the list the pager belongs to is empty; the 最新文件/热点信息 sidebar of
    # other columns' TRS-shaped links (undated) is no row of this column.
    page = trs.parse_listing_page(read(fixture), url)
    assert page.records == [] and page.next is None
    assert trs.parse_continuation(read(fixture), url, {"count": 1, "index": 0, "prefix": "index", "ext": "html"}
                                  ).records == []


def test_trs_rows_are_the_list_the_pager_belongs_to():
    # the normal pages of both templates, each with a sidebar of TRS links before the list
    assert len(trs.parse_listing_page(read("trs/index.html"), TRS_URL).records) == 5
    rows = trs.parse_listing_page(read("trs/container_variant.html"), "http://www.zjcs.gov.cn/zwgk/ghjh/index_1.shtml")
    assert [r.title for r in rows.records][0] == "球川镇2024年工作总结和2025年工作思路" and len(rows.records) == 3
    # a pager drawn in the list table's last row: that table is the list
    html = ('<html><body><ul class="side"><li><a href="../zcwj/202401/t20240112_1.html">县政府关于印发重点工作的通知</a></li>'
            '</ul><table class="list"><tr><td><a href="./202403/t20240318_2.html">华埠镇2023年工作总结</a></td>'
            '<td>2024-03-18</td></tr><tr><td colspan="2"><script>createPageHTML(2, 0, "index", "html");</script>'
            '</td></tr></table></body></html>')
    records = trs.parse_listing_page(html, TRS_URL).records
    assert [r.title for r in records] == ["华埠镇2023年工作总结"]


def test_trs_single_page_has_no_next():
    html = read("trs/index.html").replace("var countPage = 3", "var countPage = 1")
    assert trs.parse_listing_page(html, TRS_URL).next is None


# -- generic -------------------------------------------------------------------------------------------

GENERIC_URL = "http://www.jiande.gov.cn/xxgk/ghjh/jhzj/list.html"


def test_generic_table_list_relative_links_and_next():
    page = generic.parse_listing_page(read("generic/list_table.html"), GENERIC_URL)
    assert page.records == [
        ListingRecord("http://www.jiande.gov.cn/content/post_319206.html",
                      "大同镇2024年工作总结和2025年工作思路", "2025-01-15"),
        ListingRecord("http://www.jiande.gov.cn/content/post_316548.html",
                      "大同镇2024年上半年工作总结和下半年工作计划", "2024-07-30"),
        # #fragment dropped; 2024/1/9
        ListingRecord("http://www.jiande.gov.cn/content/post_309911.html",
                      "寿昌镇2023年工作总结和2024年工作思路", "2024-01-09"),
        # an absolute path with dot segments
        ListingRecord("http://www.jiande.gov.cn/content/post_301207.html", "梅城镇2023年上半年工作总结", "2023-08-02"),
        # (the javascript: row is no article)
    ]
    assert page.next is not None and page.next.method == "GET"
    assert page.next.url == "http://www.jiande.gov.cn/xxgk/ghjh/jhzj/list_2.html"


def test_generic_last_page_ends_and_no_loop_back():
    state = {"visited": [GENERIC_URL, "http://www.jiande.gov.cn/xxgk/ghjh/jhzj/list_2.html"]}
    url = "http://www.jiande.gov.cn/xxgk/ghjh/jhzj/list_3.html"
    last = generic.parse_continuation(read("generic/list_last.html"), url, state)
    assert [r.date for r in last.records] == ["2017-02-21", "2016-07-28"]
    assert last.next is None  # 下一页 is javascript:
    # a 下一页 that points back at a page already read ends the listing too
    looping = read("generic/list_table.html")
    again = generic.parse_continuation(looping, "http://www.jiande.gov.cn/xxgk/ghjh/jhzj/list_2.html",
                                       {"visited": [GENERIC_URL]})
    assert again.records and again.next is None


def test_generic_ul_with_base_href_chinese_dates_and_image_next():
    url = "http://www.lanxi.gov.cn/zwgk/list.jsp?cat=jhzj&page=2"
    page = generic.parse_listing_page(read("generic/ul_query_pager.html"), url)
    assert page.records == [
        ListingRecord("http://www.lanxi.gov.cn/zwgk/info.jsp?id=88213&cat=jhzj",
                      "游埠镇2024年工作总结及2025年工作计划", "2025-01-20"),
        ListingRecord("http://www.lanxi.gov.cn/zwgk/info.jsp?id=87102&cat=jhzj", "诸葛镇2024年上半年工作总结",
                      "2024-07-08"),
        ListingRecord("http://www.lanxi.gov.cn/zwgk/info.jsp?id=86004&cat=jhzj",
                      "女埠街道2023年工作总结及2024年工作思路", "2024-02-01"),
    ]
    assert page.next.url == "http://www.lanxi.gov.cn/zwgk/list.jsp?cat=jhzj&page=3"


# -- jpaas ---------------------------------------------------------------------------------------------

JPAAS_URL = "http://www.yw.gov.cn/col/col1229187636/index.html"


def test_jpaas_shell_gives_the_list_widget_request():
    page = jpaas.parse_listing_page(read("jpaas/col1229187636.html"), JPAAS_URL)
    assert page.records == []
    request = page.next
    split = urlsplit(request.url)
    assert f"{split.scheme}://{split.netloc}{split.path}" == (
        "http://www.yw.gov.cn/api-gateway/jpaas-publish-server/front/page/build/unit")
    assert dict(parse_qsl(split.query)) == {
        "parseType": "bulidstatic", "webId": "3549", "tplSetId": "zfHuDn7pjzPV0dB1wLhu9", "pageType": "column",
        "tagId": "分页列表", "editType": "null", "pageId": "1229187636", "paramJson": '{"pageNo":1,"pageSize":15}',
    }
    assert " " not in request.url and "+" not in split.query
    assert request.method == "GET"
    assert request.headers["Referer"] == JPAAS_URL
    assert request.headers["X-Requested-With"] == "XMLHttpRequest"


def test_jpaas_subpath_column_lowercase_attribute_hashed_page_id():
    url = "http://www.yw.gov.cn/col/col1229144381/xzjd/index.html"
    request = jpaas.parse_listing_page(read("jpaas/subpath_column.html"), url).next
    query = dict(parse_qsl(urlsplit(request.url).query))
    assert query["pageId"] == "9c1f0f3c2e7a4b5d8e6f1a2b3c4d5e6f"
    assert query["tagId"] == "当前栏目list" and query["parseType"] == "buildstatic"
    assert query["paramJson"] == '{"pageNo":1,"pageSize":20}'


def test_jpaas_unit_answer_rows_and_next_page():
    first = jpaas.parse_listing_page(read("jpaas/col1229187636.html"), JPAAS_URL).next
    page = jpaas.parse_continuation(read("jpaas/unit_page1.json"), first.url, first.state)
    assert page.records == [
        ListingRecord("http://www.yw.gov.cn/col/col1229187636/art/2025/art_7123908f720ecedc963247633c2bd266.html",
                      "佛堂镇2024年工作总结和2025年工作计划", "2025-01-03"),
        ListingRecord("http://www.yw.gov.cn/col/col1229187636/art/2024/art_0f1e2d3c4b5a69788796a5b4c3d2e1f0.html",
                      "佛堂镇2024年上半年工作总结及下半年工作计划", "2024-07-19"),
        # a legacy jcms address in the same column
        ListingRecord("http://www.yw.gov.cn/art/2024/1/12/art_1229187636_4310001.html",
                      "佛堂镇2023年工作总结和2024年工作计划", "2024-01-12"),
    ]
    assert dict(parse_qsl(urlsplit(page.next.url).query))["paramJson"] == '{"pageNo":2,"pageSize":15}'
    assert page.next.headers["Referer"] == JPAAS_URL


def test_jpaas_paging_ends():
    first = jpaas.parse_listing_page(read("jpaas/col1229187636.html"), JPAAS_URL).next
    state7 = {**first.state, "page_no": 7}
    last = jpaas.parse_continuation(read("jpaas/unit_page7.json"), first.url, state7)
    assert len(last.records) == 1 and last.next is None  # the pager's last data-page is 7
    assert jpaas.parse_continuation(read("jpaas/unit_empty.json"), first.url, first.state).next is None
    # a deployment that answers the last page again past the end
    page1 = jpaas.parse_continuation(read("jpaas/unit_page1.json"), first.url, first.state)
    past_end = {**page1.next.state, "page_no": 8}
    repeat = jpaas.parse_continuation(read("jpaas/unit_page1.json"), page1.next.url, past_end)
    assert repeat.records == [] and repeat.next is None
    # short of the pager's last page, an empty or repeated page (or success:false) is no end: the list
    # would count as completely walked, and a --full crawl delist what it had not reached
    for body, what in ((read("jpaas/unit_page1.json"), "the rows of page 1"), (read("jpaas/unit_empty.json"), "empty")):
        with pytest.raises(UnsupportedListing, match=f"page 2 of 7 with {what}"):
            jpaas.parse_continuation(body, page1.next.url, page1.next.state)
    with pytest.raises(UnsupportedListing, match="success=false"):
        jpaas.parse_continuation(read("jpaas/unit_fail.json"), page1.next.url, page1.next.state)
    with pytest.raises(UnsupportedListing, match="success=false: 参数错误"):
        jpaas.parse_continuation(read("jpaas/unit_fail.json"), first.url, first.state)
    with pytest.raises(UnsupportedListing, match="no JSON"):
        jpaas.parse_continuation("<html>502 Bad Gateway</html>", first.url, first.state)


def test_jpaas_success_false_after_the_first_page_ends_the_list():
    """Deployments without a pager answer success:false past the last page: the end, not an error (a
    listing problem made every crawl exit 1 and the column never counted as completely walked)."""
    first = jpaas.parse_listing_page(read("jpaas/col1229187636.html"), JPAAS_URL).next
    pagerless = read("jpaas/unit_page1.json").replace("data-page", "data-x")
    page1 = jpaas.parse_continuation(pagerless, first.url, first.state)
    for body in (read("jpaas/unit_fail.json"), '{"success":false,"message":"暂无数据","data":[]}',
                 '{"success":false}'):
        end = jpaas.parse_continuation(body, page1.next.url, page1.next.state)
        assert end.records == [] and end.next is None
    # on page 1 it still says the list could not be read (wrong ids), not that it is empty
    with pytest.raises(UnsupportedListing, match="success=false"):
        jpaas.parse_continuation('{"success":false,"data":[]}', first.url, first.state)


def test_jpaas_widget_without_ids_is_a_clear_error():
    html = read("jpaas/col1229187636.html").replace("'tplSetId':'zfHuDn7pjzPV0dB1wLhu9',", "")
    with pytest.raises(UnsupportedListing, match="lacks one of webId, tplSetId, pageId, tagId"):
        jpaas.parse_listing_page(html, JPAAS_URL)


# -- detection -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "name"), [
    ("jcms/listings/zjxj_col1229311252.html", "jcms"),
    ("jcms/listings/param_variant.html", "jcms"),
    ("jpaas/col1229187636.html", "jpaas"),
    ("jpaas/subpath_column.html", "jpaas"),
    ("trs/index.html", "trs"),
    ("trs/container_variant.html", "trs"),
    ("generic/list_table.html", "generic"),
    ("generic/ul_query_pager.html", "generic"),
])
def test_detection_picks_the_platform(path, name):
    assert detect_platform(read(path)).NAME == name


def test_order_specific_before_generic_and_generic_claims_none_of_theirs():
    assert [m.NAME for m in all_platforms()] == ["jcms", "jpaas", "xxgk", "trs", "generic"]
    for path in ("jcms/listings/zjxj_col1229311252.html", "jpaas/col1229187636.html", "trs/index.html",
                 "trs/container_variant.html", "xxgk/column.html", "xxgk/column_script.html"):
        # generic.detect itself takes any page with a list of reports (a TRS index is one); the registry
        # asks the specific platforms first, so generic never gets their pages.
        assert detect_platform(read(path)).NAME != "generic", path
    assert not trs.detect(read("jcms/listings/zjxj_col1229311252.html"))
    assert not jpaas.detect(read("trs/index.html"))
    assert not jcms.detect(read("jpaas/col1229187636.html"))


def test_explicit_platform_overrides_detection():
    # a TRS page read as a generic list: the platform named in config is the one used
    html = read("trs/index.html")
    assert detect_platform(html).NAME == "trs"
    page = platform_by_name("generic").parse_listing_page(html, TRS_URL)
    assert page.records[0].url == "http://www.kaihua.gov.cn/zwgk/ghjh/jhzj/202403/t20240318_5346734.html"
    assert page.next is None  # no 下一页 link: the generic reading sees one page


def test_every_platform_is_a_platform_and_imports_no_other():
    """The Platform Protocol is each module's contract; shared helpers come from common.py, not a sibling."""
    import ast

    names = {p.NAME for p in all_platforms()}
    for platform in all_platforms():
        assert isinstance(platform, Platform), platform.NAME
        tree = ast.parse(Path(platform.__file__).read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        siblings = {m for m in imported if m.startswith("gongkai.crawler.platforms")}
        assert siblings <= {"gongkai.crawler.platforms.common"}, (platform.NAME, siblings)
        assert not {f"gongkai.crawler.platforms.{n}" for n in names} & imported


def test_unknown_layout_names_what_was_looked_for(caplog):
    """One short line names the platforms; what each looks for is logged (shown with -v), not put in a
    600-character line."""
    article = read("jcms/000_xianju_zhuxi.html")  # an article page is no listing
    with caplog.at_level("INFO", logger="gongkai.crawler.platforms"), pytest.raises(UnsupportedListing) as info:
        detect_platform(article)
    message = str(info.value)
    assert message.startswith("not a column listing page of a platform gongkai knows") and len(message) < 160
    for module in all_platforms():
        assert module.NAME in message and f"{module.NAME}: {module.DETECT_HINT}" in caplog.text
    assert "createPageHTML" in caplog.text and "unitbuild.js" in caplog.text and "下一页" in caplog.text
    with pytest.raises(UnsupportedListing, match="not a generic listing"):
        generic.parse_listing_page("<html><body><ul><li><a href='/'>首页</a></li></ul></body></html>", GENERIC_URL)
    with pytest.raises(UnsupportedListing, match="not a TRS listing"):
        trs.parse_listing_page("<html><body>nothing</body></html>", TRS_URL)
    with pytest.raises(UnsupportedListing, match="not a jpaas column page"):
        jpaas.parse_listing_page("<html><body>nothing</body></html>", JPAAS_URL)


def test_json_fixture_is_what_the_gateway_sends():
    answer = json.loads(read("jpaas/unit_page1.json", "application/json; charset=UTF-8"))
    assert answer["success"] is True and "data-page" in answer["data"]["html"]
