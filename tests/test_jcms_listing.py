"""The jcms listing parser against listing pages shaped like the real ones (record variants, configs)."""

from pathlib import Path

import pytest

from gongkai.crawler.platforms import UnsupportedListing, detect_platform, jcms
from gongkai.models import ListingRecord

FIXTURES = Path(__file__).parent / "fixtures" / "jcms" / "listings"
LISTING_URL = "http://www.zjxj.gov.cn/col/col1229311252/index.html"


def read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def test_embedded_records_every_markup_variant():
    page = jcms.parse_listing_page(read("zjxj_col1229311252.html"), LISTING_URL)
    assert page.records == [
        # single quotes; shown text truncated with "…", the title= attribute is whole
        ListingRecord("http://www.zjxj.gov.cn/art/2024/8/5/art_1229311252_3942862.html",
                      "朱溪镇2024年上半年工作总结和下半年计划", "2024-08-05"),
        # bullet <font>, bracketed date
        ListingRecord("http://www.zjxj.gov.cn/art/2024/1/10/art_1229311252_3912398.html",
                      "下各镇2023年工作总结和2024年工作思路", "2024-01-10"),
        # (a decorative <li> without a link is skipped) title and date both inside the link
        ListingRecord("http://www.zjxj.gov.cn/art/2023/12/28/art_1229311252_3901122.html",
                      "白塔镇2023年度工作总结", "2023-12-28"),
        # malformed absolute href ".cnart/" repaired; empty title= falls back to the link text
        ListingRecord("https://www.zjxj.gov.cn/art/2023/7/3/art_1229311252_3861200.html",
                      "田市镇2023年上半年工作总结及下半年工作计划", "2023-07-03"),
        ListingRecord("http://www.zjxj.gov.cn/module/download/downfile.jsp?classid=0&filename=2b3c9a.pdf",
                      "埠头镇2022年工作总结(附件)", "2023-01-12"),
    ]
    assert page.total == 52


def test_first_dataproxy_request_reads_everything_from_the_page():
    page = jcms.parse_listing_page(read("zjxj_col1229311252.html"), LISTING_URL)
    request = page.next
    assert request is not None and request.method == "POST"
    # 6 <record>s embedded (one a decorative row): the first window starts after them, 45 wide
    assert request.url == "http://www.zjxj.gov.cn/module/jpage/dataproxy.jsp?startrecord=7&endrecord=51&perpage=15"
    assert request.formdata == {
        "col": "1", "appid": "1", "webid": "3114", "path": "/", "columnid": "1229311252",
        "sourceContentType": "1", "unitid": "6390858", "webname": " 仙居县人民政府", "permissiontype": "0",
    }


def window_46() -> jcms.ListingRequest:
    """The request for records 46-52 (what follows a full first group of 45 on this page)."""
    return jcms.dataproxy_request(LISTING_URL, jcms.parse_jpage_config(read("zjxj_col1229311252.html"), LISTING_URL),
                                  start=46)


def test_first_window_follows_the_rows_the_page_embeds():
    html = read("zjxj_col1229311252.html")
    store = html[html.index("<recordset>") + len("<recordset>"):html.index("</recordset>")]
    records = store.split("</record>")[:-1]
    full = html.replace(store, "".join(r + "</record>" for r in (records * 8)[:45]))
    assert "startrecord=46&endrecord=52" in jcms.parse_listing_page(full, LISTING_URL).next.url
    # a page with the pager's config and no embedded rows (they come by script): from record 1,
    # not after a first group it never showed
    bare = html.replace(html[html.index("<datastore>"):html.index("</datastore>") + len("</datastore>")], "")
    page = jcms.parse_listing_page(bare, LISTING_URL)
    assert page.records == [] and "startrecord=1&endrecord=45" in page.next.url


def test_continuation_reads_records_and_stops_at_total():
    request = window_46()
    page = jcms.parse_continuation(read("dataproxy_46_52.xml"), request.url, request.state)
    assert [r.url for r in page.records] == [
        "http://www.zjxj.gov.cn/art/2017/2/14/art_1229311252_2210001.html",
        "http://www.zjxj.gov.cn/art/2016/8/2/art_1229311252_2010456.html",
    ]
    assert page.records[1].title == "皤滩乡2016年上半年工作总结&下半年工作思路"
    assert page.total == 52
    assert page.next is None


def test_continuation_follows_a_grown_total():
    request = window_46()
    grown = read("dataproxy_46_52.xml").replace("<totalrecord>52</totalrecord>", "<totalrecord>100</totalrecord>")
    page = jcms.parse_continuation(grown, request.url, request.state)
    assert page.next is not None
    assert "startrecord=53&endrecord=97&perpage=15" in page.next.url


def test_empty_window_stops_paging():
    first = jcms.parse_listing_page(read("zjxj_col1229311252.html"), LISTING_URL)
    empty = "<datastore><recordset></recordset><totalrecord>9999</totalrecord></datastore>"
    assert jcms.parse_continuation(empty, first.next.url, first.next.state).next is None


def test_older_param_variant_and_table_rows():
    url = "http://www.panan.gov.cn/col/col1229111111/index.html"
    page = jcms.parse_listing_page(read("param_variant.html"), url)
    assert page.records == [ListingRecord("http://www.panan.gov.cn/art/2023/11/7/art_1229111111_4218588.html",
                                          "玉山镇2023年上半年工作总结及下半年工作计划", "2023-11-07")]
    assert page.total == 61
    assert page.next.url.endswith("/module/jpage/dataproxy.jsp?startrecord=2&endrecord=61&perpage=20")  # 1 row embedded
    assert page.next.formdata["webid"] == "3611" and page.next.formdata["unitid"] == "6166867"


def test_not_a_listing_is_a_clear_error():
    with pytest.raises(UnsupportedListing, match="not a column listing page.*jcms"):
        detect_platform("<html><body><h1>欢迎访问</h1></body></html>")
    with pytest.raises(UnsupportedListing, match="not a jcms column listing"):
        jcms.parse_listing_page("<html><body>nothing</body></html>", LISTING_URL)


def test_a_proxy_paging_by_number_gets_whole_pages():
    html = read("zjxj_col1229311252.html").replace("/module/jpage/dataproxy.jsp", "/module/web/jpage/dataproxy.jsp")
    config = jcms.parse_jpage_config(html, LISTING_URL)
    assert config.proxy_url == "/module/web/jpage/dataproxy.jsp"
    first = jcms.parse_listing_page(html, LISTING_URL).next  # 6 rows embedded: page 1 holds row 7
    assert first.url.endswith("/module/web/jpage/dataproxy.jsp?startrecord=1&endrecord=45&perpage=45&page=1")
    assert "startrecord=46&endrecord=52&perpage=45&page=2" in jcms.dataproxy_request(LISTING_URL, config, 46).url
    config.per_page, config.group_size, config.total_record = 100, 5, 2000  # the proxy would cut 500 rows at 300
    assert jcms.dataproxy_request(LISTING_URL, config, 301).url.endswith(
        "startrecord=301&endrecord=600&perpage=300&page=2")


def test_a_page_with_another_list_widget_reads_its_own_columns():
    """A 最新公开 box (another jpage widget, another column, more rows) before the column's list: the
    column's own datastore and jpage call are read, not the first on the page nor a mix of both."""
    html = read("zjxj_col1229311252.html")
    rows = "".join(f"<record><![CDATA[<li><a href='/art/2024/9/{d}/art_1229300009_50{d:02d}.html' title='县政府第{d}次常务会议"
                   f"纪要'>县政府第{d}次常务会议纪要</a><span>2024-09-{d:02d}</span></li>]]></record>" for d in range(1, 11))
    box = (f'<div class="side"><div id="6400001"><script type="text/xml"><datastore><recordset>{rows}</recordset>'
           "</datastore></script><script>$('#6400001').jpage({totalRecord:80,perPage:10,groupSize:1,"
           "proxyUrl:'/module/jpage/dataproxy.jsp',ajaxParam:{col:1,appid:'1',webid:3114,path:'/',"
           "columnid:1229300009,unitid:'6400001',webname:' 仙居县人民政府',permissiontype:0}});</script></div></div>")
    page = jcms.parse_listing_page(html.replace('<div class="list_box">', box + '<div class="list_box">'), LISTING_URL)
    assert [r.url for r in page.records] == [r.url for r in jcms.parse_listing_page(html, LISTING_URL).records]
    assert page.total == 52
    assert page.next.formdata["columnid"] == "1229311252"
    assert page.next.formdata["unitid"] == "6390858" and "perpage=15" in page.next.url


def test_widgets_whose_calls_share_one_script_are_read_each_from_its_own_call():
    rec = "<record><![CDATA[<li><a href='/art/2024/1/1/art_{col}_{i}.html' title='t{i}号工作总结'>t</a><span>2024-01-01</span></li>]]></record>"

    def store(unit: str, col: int, n: int) -> str:
        rows = "".join(rec.format(col=col, i=i) for i in range(n))
        return f'<div id="{unit}"><script type="text/xml"><datastore><recordset>{rows}</recordset></datastore></script></div>'

    def call(unit: str, col: int, total: int) -> str:
        return (f"$('#{unit}').jpage({{totalRecord:{total},perPage:15,groupSize:3,proxyUrl:'/module/jpage/dataproxy.jsp',"
                f"ajaxParam:{{col:1,appid:'1',webid:3114,path:'/',columnid:{col},unitid:'{unit}',webname:'x'}}}});")

    script = f"<script>$(function(){{ {call('6390001', 1229000001, 5)}\n{call('6390858', 1229311252, 120)} }});</script>"
    page = jcms.parse_listing_page(f"<html><body>{store('6390001', 1229000001, 5)}{store('6390858', 1229311252, 45)}"
                                   f"{script}</body></html>", LISTING_URL)
    assert len(page.records) == 45 and page.total == 120
    assert (page.next.formdata["columnid"], page.next.formdata["unitid"]) == ("1229311252", "6390858")
    assert "startrecord=46&endrecord=90" in page.next.url


def test_unclosed_div_tags_do_not_make_widget_finding_quadratic():
    """A hostile page of 20,000 unclosed `<div ` took the widget regex 15 s (a few MB: hours); widgets are
    now found from each <datastore> back to its div. Checked by result, not by time."""
    html = read("zjxj_col1229311252.html")
    widget = html[html.index('<div id="6390858">'):html.index("</datastore>") + len("</datastore>")]
    hostile = "<div " * 20000 + html.replace("<body>", "<body>" + widget.replace("6390858", "6400001"), 1)
    assert [unit for unit, _ in jcms._widgets(hostile)] == ["6400001", "6390858"]
    assert [unit for unit, _ in jcms._widgets("<datastore>" * 5000 + html)] == ["6390858"]


def test_the_unit_id_missing_from_the_call_is_read_off_the_widget_div_even_on_a_hostile_page():
    """Neither the jpage call nor the nextgroup link names the unitid: the div around the record list's
    <script type="text/xml"> does. Its regex scanned from every `<div` to the page's end (3 s on 40 KB of
    "<div "): now it looks back from each such script. Checked by result, not by time."""
    html = read("zjxj_col1229311252.html").replace("unitid:'6390858',", "").replace("&unitid=6390858", "")
    assert "unitid" not in html.split('<div id="6390858">')[1].split("</datastore>")[0]
    for page_html in (html, html.replace("<body>", "<body>" + "<div " * 40000, 1)):
        page = jcms.parse_listing_page(page_html, LISTING_URL)
        assert page.next.formdata["unitid"] == "6390858"
    assert jcms._container_unitid("<script " * 100000 + "text/xml") is None


def test_a_page_of_unclosed_datastores_is_read_in_one_pass():
    """The datastore regex scanned from every unclosed <datastore> to the page's end (quadratic: 100,000 of
    them, hours). Checked by result: the real datastore after them is still the one read."""
    html = read("zjxj_col1229311252.html")
    assert jcms.datastore("<datastore>" * 100000) is None
    page = jcms.parse_listing_page(html.replace("<body>", "<body>" + "<datastore>" * 1000, 1), LISTING_URL)
    assert len(page.records) == 5 and page.total == 52
    with pytest.raises(UnsupportedListing, match="holds no <datastore>"):
        jcms.parse_continuation("<datastore>" * 1000, "", {})
