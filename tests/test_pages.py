"""examine_page: what one staged response means, for the responses that are not a plain article page.

A listing row that links straight to a file, a "page not found" answered with 200, a file list in the
article's tail, a report shown in an embedded PDF viewer (portal-anatomy 1.6, 3.5, 7.3, 7.5).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from gongkai.ingest.pages import StagedPage, examine_page
from gongkai_replica.articles import render_not_found
from gongkai_replica.demo import build_demo_sites

JCMS = Path(__file__).parent / "fixtures" / "jcms"
WUYI = (JCMS / "002_wuyi_liucheng.html").read_text(encoding="utf-8")
URL = "http://www.zjwy.gov.cn/art/2024/7/26/art_1229423772_4279798.html"
PDF = b"%PDF-1.7\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"


def page(body: bytes, ctype: str, url: str = URL, **kw) -> StagedPage:
    return StagedPage(id=1, url=url, final_url=url, site="wuyi", status=200, headers={"Content-Type": [ctype]},
                      body=body, fetched_at=dt.datetime.now(dt.UTC), **kw)


def test_a_listed_file_is_a_report_titled_by_its_row() -> None:
    url = "http://www.zjwy.gov.cn/module/download/downfile.jsp?classid=0&filename=ab12.pdf"
    outcome = examine_page(page(PDF, "application/pdf", url, listing_title=" 柳城畲族镇2024年工作总结 ",
                                listing_date=dt.date(2024, 12, 30)))
    assert outcome.kind == "article"
    fields = outcome.fields
    assert (fields.title, fields.body, fields.published_date) == ("柳城畲族镇2024年工作总结", "", "2024-12-30")
    assert [(a.name, a.url) for a in fields.attachments] == [("downfile.jsp", url)]
    word = "http://www.zjwy.gov.cn/picture/0/2401/柳城镇2024年工作计划.doc"
    outcome = examine_page(page(b"\xd0\xcf\x11\xe0", "application/octet-stream", word, listing_title="柳城镇2024年工作计划"))
    assert outcome.kind == "article" and outcome.fields.attachments[0].name == "柳城镇2024年工作计划.doc"


def test_a_listed_files_name_comes_from_its_content_disposition() -> None:
    url = "http://www.zjwy.gov.cn/module/download/downfile.jsp?classid=0&filename=ab12.pdf"
    for disposition in ("attachment; filename*=UTF-8''%E6%9F%B3%E5%9F%8E%E9%95%87.pdf",
                        'attachment; filename="柳城镇.pdf"'.encode().decode("latin-1"),  # raw UTF-8 bytes
                        'attachment; filename="柳城镇.pdf"'.encode("gbk").decode("latin-1")):  # raw GBK bytes
        staged = page(PDF, "application/pdf", url, listing_title="柳城镇2024年工作总结")
        staged.headers["Content-Disposition"] = [disposition]
        (attachment,) = examine_page(staged).fields.attachments
        assert attachment.name == "柳城镇.pdf", disposition


def test_what_is_read_as_a_page_goes_by_media_type() -> None:
    from gongkai.ingest.pages import is_text_type

    for page_type in ("text/html; charset=GBK", "TEXT/HTML", "text/plain", "application/xhtml+xml", "text/xml", ""):
        assert is_text_type(page_type), page_type
    for file_type in ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/pdf",
                      "text/css", "image/jpeg", "application/octet-stream"):
        assert not is_text_type(file_type), file_type


def test_a_file_nobody_listed_and_a_stray_binary_are_not_reports() -> None:
    # No row title: not a report of its own, but an article's file (read with that article).
    assert examine_page(page(PDF, "application/pdf")).kind == "file"
    assert examine_page(page(b"\x89PNG", "image/png", listing_title="镇2024年工作总结")).kind == "skip"
    assert examine_page(page(b"\x00\x01", "application/octet-stream", listing_title="镇2024年工作总结")).kind == "skip"


def test_a_page_not_found_answered_with_200_is_no_report() -> None:
    site = next(s for s in build_demo_sites() if s.name == "xianju")
    outcome = examine_page(page(render_not_found(site).encode("utf-8"), "text/html; charset=UTF-8"))
    assert outcome.kind == "retry" and "page not found" in outcome.note
    # A report that says 页面不存在 in its body is a report.
    body = WUYI.replace("(五)存在问题。", "(五)存在问题。部分村级网站出现“页面不存在”等问题。")
    outcome = examine_page(page(body.encode("utf-8"), "text/html; charset=UTF-8"))
    assert outcome.kind == "article" and "“页面不存在”" in outcome.fields.body


def test_the_file_list_in_the_article_tail_is_the_articles_not_the_footers() -> None:
    start = WUYI.index('<p><a href="/module/download/downfile.jsp')
    html = WUYI[:start] + WUYI[WUYI.index("</p>", start) + 4:]  # the file only in the tail list
    html = html.replace('<div class="xgfj">', '<div class="art_bottom">')
    html = html.replace("<p>网站标识码", '<p><a href="/module/download/downfile.jsp?filename=guide.doc">网站导航.doc</a></p>'
                        "<p>网站标识码")
    outcome = examine_page(page(html.encode("utf-8"), "text/html; charset=UTF-8"))
    assert outcome.kind == "article"
    assert [a.name for a in outcome.fields.attachments] == ["2024年上半年工作总结和下半年工作思路(柳城畲族镇)0726.docx"]


def test_a_report_shown_in_a_pdf_viewer_is_an_attachment_only_report() -> None:
    edge = (Path(__file__).parent / "fixtures" / "edge" / "attachment_only__markers.html").read_text(encoding="utf-8")
    start, end = edge.index('<p>详见附件：'), edge.index('<meta name="ContentEnd">')
    viewer = '<div id="pdfshow" data-value="/picture/0/2501/某某镇2024年工作总结.pdf"></div>\n'
    url = "http://www.zjxj.gov.cn/art/2025/1/10/art_1229311252_3942999.html"
    outcome = examine_page(page((edge[:start] + viewer + edge[end:]).encode("utf-8"), "text/html; charset=UTF-8",
                                url))
    assert outcome.kind == "article" and outcome.fields.body == ""
    assert [(a.name, a.url) for a in outcome.fields.attachments] == [
        ("某某镇2024年工作总结.pdf", "http://www.zjxj.gov.cn/picture/0/2501/某某镇2024年工作总结.pdf")]


def test_a_report_published_as_scanned_pages_is_stored_with_its_images() -> None:
    """No text in the body, only the scanned pages as <img>: before, 'no article title or body found' and
    a retry at every crawl, for ever. The page's logo outside the body is not one of them."""
    edge = (Path(__file__).parent / "fixtures" / "edge" / "attachment_only__markers.html").read_text(encoding="utf-8")
    start, end = edge.index('<p>详见附件：'), edge.index('<meta name="ContentEnd">')
    scans = '<p><img src="/picture/0/2501101.jpg"></p>\n<p style="text-align:center"><img src="/picture/0/2501102.jpg"></p>\n'
    html = (edge[:start] + scans + edge[end:]).replace("<body>", '<body><img src="/images/logo.png">', 1)
    url = "http://www.zjxj.gov.cn/art/2025/1/10/art_1229311252_3942999.html"
    outcome = examine_page(page(html.encode("utf-8"), "text/html; charset=UTF-8", url))
    assert outcome.kind == "article" and outcome.fields.body == ""
    assert [a.url for a in outcome.fields.attachments] == ["http://www.zjxj.gov.cn/picture/0/2501101.jpg",
                                                           "http://www.zjxj.gov.cn/picture/0/2501102.jpg"]
