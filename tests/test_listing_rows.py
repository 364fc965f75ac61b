"""Listing rows that name the listing's own site in another form (portal-anatomy 1.6: www. or not, a
default port spelt out, http:// vs https:// within one list) are the listing's articles, at the listing's
address; rows on other sites are not followed, and the operator is told.

Before: the row's host[:port] was compared with the listing hosts exactly, so `http://zjxj.gov.cn/art/…`
on a `http://www.zjxj.gov.cn/` listing was dropped with only a stats counter to show for it, and an
`https://` row on an HTTP-only host was requested as it was written (410 there: recorded gone for good).
"""

from __future__ import annotations

import logging

import pytest
from scrapy.http import Request
from scrapy.utils.test import get_crawler

from gongkai.crawler.items import ListedArticles
from gongkai.crawler.platforms import ListingPage, ListingRequest
from gongkai.crawler.spiders.listing import ListingSpider, same_site_url
from gongkai.models import ListingRecord

LISTING = "http://www.zjxj.gov.cn/col/col1229311252/index.html"
ART = "/art/2024/8/5/art_1229311252_3942862.html"


@pytest.mark.parametrize(("url", "expected"), [
    (f"http://www.zjxj.gov.cn{ART}", f"http://www.zjxj.gov.cn{ART}"),  # already the listing's form
    (f"http://zjxj.gov.cn{ART}", f"http://www.zjxj.gov.cn{ART}"),  # without www.
    (f"https://www.zjxj.gov.cn:443{ART}?a=1", f"http://www.zjxj.gov.cn{ART}?a=1"),  # https, default port
    (f"http://www.zjxj.gov.cn:80{ART}", f"http://www.zjxj.gov.cn{ART}"),
    (f"HTTPS://ZJXJ.gov.cn{ART}", f"http://www.zjxj.gov.cn{ART}"),
    (f"http://www.zj.gov.cn{ART}", None),  # another site (a 转载)
    (f"http://www.zjxj.gov.cn:8080{ART}", None),  # another port is another server
    (f"https://www.zjxj.gov.cn:80{ART}", None),  # 80 is not https's default
    (f"http://wwwzjxj.gov.cn{ART}", None),
    (f"http://www.www.zjxj.gov.cn{ART}", None),  # one www. only
    (f"http://sub.zjxj.gov.cn{ART}", None),  # a subdomain is another host
    (f"http://www.zjxj.gov.cn:abc{ART}", None),  # no port number
    ("mailto:office@zjxj.gov.cn", None),
])
def test_same_site_url(url: str, expected: str | None) -> None:
    assert same_site_url(url, LISTING) == expected


def test_same_site_url_keeps_the_listings_port_and_scheme() -> None:
    assert same_site_url("http://www.127.0.0.10:5555/a.html", "http://127.0.0.10:5555/col/") == (
        "http://127.0.0.10:5555/a.html")
    assert same_site_url("https://127.0.0.10:5555/a.html", "http://127.0.0.10:5555/col/") == (
        "http://127.0.0.10:5555/a.html")
    assert same_site_url("http://127.0.0.10:5556/a.html", "http://127.0.0.10:5555/col/") is None
    # an HTTPS listing: http rows on its site go to https
    assert same_site_url("http://yw.gov.cn/a.html", "https://www.yw.gov.cn/col/") == "https://www.yw.gov.cn/a.html"
    # a listing given with its default port: rows take that form, the one the allowlist holds
    assert same_site_url("http://zjxj.gov.cn/a.html", "http://www.zjxj.gov.cn:80/col/") == (
        "http://www.zjxj.gov.cn:80/a.html")


def _spider(**kwargs) -> ListingSpider:
    crawler = get_crawler(ListingSpider)
    spider = ListingSpider.from_crawler(crawler, listings=[{"url": LISTING, "site": "xianju"}], **kwargs)
    crawler.spider = spider
    return spider


def _follow(spider: ListingSpider, records: list[ListingRecord], next_page: ListingRequest | None = None,
            page_url: str = LISTING) -> list:
    meta = {"column_url": LISTING, "site": "xianju", "platform": "jcms"}
    return list(spider.follow(ListingPage(records=records, next=next_page), meta, "jcms", page_url))


def _record(url: str, n: int = 0) -> ListingRecord:
    return ListingRecord(url, f"朱溪镇202{n}年工作总结", f"202{n}-08-05")


def test_rows_on_the_listings_site_are_followed_at_its_address(caplog: pytest.LogCaptureFixture) -> None:
    spider = _spider()
    records = [_record("http://www.zjxj.gov.cn/art/a.html", 1), _record("http://zjxj.gov.cn/art/b.html", 2),
               _record("https://www.zjxj.gov.cn:443/art/c.html", 3), _record("https://zjxj.gov.cn/art/d.html", 4),
               _record("http://www.zjxj.gov.cn:80/art/b.html", 5),  # b again, in a third form: one article
               _record("http://www.zj.gov.cn/art/e.html", 6), _record("http://www.linhai.gov.cn/art/f.html", 7)]
    with caplog.at_level(logging.WARNING):
        out = _follow(spider, records)
    wanted = [f"http://www.zjxj.gov.cn/art/{x}.html" for x in "abcdb"]
    listed = [item for item in out if isinstance(item, ListedArticles)]
    assert len(listed) == 1 and [a.url for a in listed[0].articles] == wanted
    assert [a.title for a in listed[0].articles] == [r.title for r in records[:5]]
    assert [r.url for r in out if isinstance(r, Request)] == wanted[:4]
    assert all(url in spider.memory.listed and url in spider.memory.requested for url in wanted)
    assert "http://zjxj.gov.cn/art/b.html" not in spider.memory.listed
    assert spider.crawler.stats.get_value("listing/offsite_records") == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"{LISTING}: 2 rows link to other sites (not followed): e.g. http://www.zj.gov.cn/art/e.html"]


def test_rows_take_the_scheme_the_listing_page_was_served_at() -> None:
    """A listing given as http:// that redirected to https://: its rows go where its page was read."""
    spider = _spider()
    out = _follow(spider, [_record("http://zjxj.gov.cn/art/a.html"), _record("https://www.zjxj.gov.cn/art/b.html")],
                  page_url="https://www.zjxj.gov.cn/col/col1229311252/index.html")
    assert [r.url for r in out if isinstance(r, Request)] == ["https://www.zjxj.gov.cn/art/a.html",
                                                              "https://www.zjxj.gov.cn/art/b.html"]


def test_no_warning_when_every_row_is_on_the_site(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        _follow(_spider(), [_record("https://zjxj.gov.cn/art/a.html")])
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_routine_walk_stops_at_a_known_row_written_in_another_form() -> None:
    """The oldest row of a page, known under the listing's address, ends a routine walk whatever form the
    page writes it in (newer rows on the page are still fetched)."""
    known = "http://www.zjxj.gov.cn/art/old.html"
    following = ListingRequest(url="http://www.zjxj.gov.cn/module/jpage/dataproxy.jsp", method="POST",
                               formdata={}, state={})
    spider = _spider(known=[known])
    out = _follow(spider, [_record("http://www.zjxj.gov.cn/art/new.html"), _record("https://zjxj.gov.cn/art/old.html")],
                  next_page=following)
    assert [r.url for r in out if isinstance(r, Request)] == ["http://www.zjxj.gov.cn/art/new.html"]
    assert spider.crawler.stats.get_value("listing/stopped_known") == 1


def test_a_page_with_more_rows_than_any_listing_holds_is_read_to_the_bound(caplog: pytest.LogCaptureFixture) -> None:
    from gongkai.crawler.spiders.listing import MAX_ROWS_PER_PAGE

    spider = _spider()
    records = [_record(f"http://www.zjxj.gov.cn/art/{n}.html") for n in range(MAX_ROWS_PER_PAGE + 500)]
    with caplog.at_level(logging.WARNING):
        out = _follow(spider, records)
    assert len([r for r in out if isinstance(r, Request)]) == MAX_ROWS_PER_PAGE
    assert f"a listing page with {MAX_ROWS_PER_PAGE + 500} rows" in caplog.text


def test_a_listing_page_our_parser_chokes_on_is_a_problem_not_a_silent_stop() -> None:
    """A row whose href no URL parser takes, or a 5,000-digit total, raised ValueError inside the callback:
    Scrapy logged a traceback, the listing's remaining pages were never asked for, and the run ended 'ok'
    (so the next routine crawl did not walk it all either)."""
    from scrapy.http import HtmlResponse

    from gongkai.crawler.items import ListingProblem
    from gongkai.crawler.platforms import jcms

    bad = '<li><a href="http://[broken/art/x.html" title="坏链接">坏链接</a><span>2024-08-05</span></li>'
    good = f'<li><a href="{ART}" title="朱溪镇2024年工作总结">朱溪镇2024年工作总结</a><span>2024-08-05</span></li>'
    records = jcms.parse_records(f"<recordset><record><![CDATA[{bad}]]></record><record><![CDATA[{good}]]></record>"
                                 "</recordset>", LISTING)
    assert [r.url for r in records] == [f"http://www.zjxj.gov.cn{ART}"]  # the bad row alone is skipped
    assert jcms.parse_jpage_config("totalRecord:" + "9" * 5000 + ",perPage:15", LISTING).per_page == 15

    spider = _spider()
    response = HtmlResponse(LISTING, body=b"<html>x</html>", encoding="utf-8",
                            request=Request(LISTING, meta={"column_url": LISTING, "site": "xianju", "platform": "jcms"}))
    original = jcms.parse_listing_page
    jcms.parse_listing_page = lambda html, url: (_ for _ in ()).throw(ValueError("Invalid IPv6 URL"))
    try:
        out = list(spider.parse_listing(response))
    finally:
        jcms.parse_listing_page = original
    assert [type(o) for o in out] == [ListingProblem]
    assert "could not be read (ValueError: Invalid IPv6 URL)" in out[0].reason and spider.problems == out
