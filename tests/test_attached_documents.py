"""Attachment-only reports (anatomy 3.5: the page shows just the file's name) get their text from the file.

The crawl fetches the report files an article links (once, like an article), ingest reads a .docx or a
.pdf into the body; a file that arrives after its article was ingested (a retried download) gets the
article examined again. Before, such a report was stored with its file name for a body.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json

import psycopg
import pytest
from scrapy.http import HtmlResponse

from gongkai.crawler.spiders.listing import document_links
from gongkai.ingest.extract import extract_article
from gongkai.ingest.pages import attachment_only
from gongkai.ingest.run import ingest_pending
from gongkai_replica.articles import render_article
from gongkai_replica.demo import build_demo_sites
from gongkai_replica.documents import docx_bytes, pdf_bytes, signature_lines
from gongkai_replica.server import ReplicaServer
from gongkai_replica.sites import ReplicaAttachment
from tests.test_cli import gongkai

PDF = "application/pdf"


def _attachment_only(site_name: str, ext: str):
    """A demo site with one more report, published only as a file (its page lists just the file)."""
    site = next(s for s in build_demo_sites() if s.name == site_name)
    column = site.columns[0]
    article = copy.deepcopy(max(column.articles, key=lambda a: a.pub_date))
    article.article_id += 7002
    article.title = f"{article.town}2025年工作计划"
    article.attachments = [ReplicaAttachment.of_report(f"{article.town}2025年工作计划{ext}",
                                                       f"9e107d9d372bb6826bd81d3542a419d6{ext}", article.title,
                                                       article.paragraphs)]
    article.paragraphs = []
    article.fail_first = article.too_many_first = 0
    return site, column, article


def test_an_attachment_only_report_is_stored_with_its_pdfs_text(database_url):
    site, column, article = _attachment_only("qujiang", ".pdf")
    with ReplicaServer([site]) as replica:
        replica.add_article(site.name, column.column_id, article)
        url = replica.article_url(site.name, article, column.column_id)
        result = gongkai("crawl", *replica.listing_urls(site.name), "--delay", "0", database_url=database_url,
                         timeout=300)
        assert result.returncode == 0, result.stderr
        files = [r.path for r in replica.requests if r.path.startswith("/attach/0/")]
        replica.clear_requests()
        again = gongkai("crawl", *replica.listing_urls(site.name), "--delay", "0", database_url=database_url,
                        timeout=300)
        assert again.returncode == 0, again.stderr
        files_again = [r.path for r in replica.requests if r.path.startswith("/attach/0/")]
        export = gongkai("export", database_url=database_url)
    rows = [json.loads(line) for line in export.stdout.splitlines()]
    (report,) = [r for r in rows if url in r["urls"]]
    assert report["title"] == article.title
    assert report["body"] == article.expected.body
    assert report["body"].splitlines() == article.attachments[0].text
    assert report["attachments"][0]["name"] == f"{article.town}2025年工作计划.pdf"
    assert "/attach/0/9e107d9d372bb6826bd81d3542a419d6.pdf" in files
    assert len(files) == len(set(files))  # each file fetched once
    assert files_again == []  # a routine recrawl fetches no known file again
    assert len(rows) == len(site.crawlable_articles())  # every other report still there


def test_a_file_fetched_after_its_article_was_ingested_fills_the_report(db):
    """The retried download: the article was stored with only the file's name; when the file is staged
    and ingested, the article's page is examined again and the report gets the text: the same version
    completed (as a crawl that fetched both before ingest stores it), with a new seq for the feed."""
    site, column, article = _attachment_only("wuyi", ".docx")
    article.site = site
    column.articles.insert(0, article)
    page_url = f"{site.base_url}{article.url_path_for(column.column_id)}"
    file = article.attachments[0]
    file_url = site.base_url + file.href

    stage(db, page_url, render_article(site, column, article).encode("utf-8"), "text/html; charset=UTF-8")
    assert ingest_pending(db, notify=False)["new"] == 1
    (before,) = db.execute("SELECT body, version, seq FROM reports").fetchall()
    assert before[:2] == (file.name, 1)

    stage(db, file_url, file.data, "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    counts = ingest_pending(db, notify=False)
    assert counts["updated"] == 1, counts
    (after,) = db.execute("SELECT body, version, seq FROM reports").fetchall()
    assert after[:2] == (article.expected.body, 1) and after[2] > before[2]
    assert after[0].splitlines() == file.text
    assert db.execute("SELECT count(*) FROM report_versions").fetchone()[0] == 0
    assert ingest_pending(db, notify=False) == {}  # nothing requeued again: no loop

    # A fetch of the same page later finds the stored file: nothing changes.
    stage(db, page_url, render_article(site, column, article).encode("utf-8"), "text/html; charset=UTF-8")
    assert ingest_pending(db, notify=False)["unchanged"] == 1


def stage(conn: psycopg.Connection, url: str, body: bytes, ctype: str) -> None:
    with conn.transaction():
        conn.execute(
            """INSERT INTO staged_pages (url, final_url, site, status, headers, body, body_sha256, fetched_at)
               VALUES (%s, %s, 'wuyi', 200, %s, %s, %s, %s)""",
            (url, url, json.dumps({"Content-Type": [ctype]}), body, hashlib.sha256(body).digest(),
             dt.datetime.now(dt.UTC)))


def test_the_report_files_an_article_links_are_found_on_its_host_only():
    html = """<html><body><div class="con_wen"><p>详见附件：</p>
    <a href="/module/download/downfile.jsp?classid=0&filename=5d41402abc4b2a76.docx&showname=%E6%80%BB%E7%BB%93.docx">总结.docx</a>
    <a href="../../attach/0/2024工作总结.PDF">2024工作总结.PDF</a>
    <a href="/attach/0/明细表.xls">明细表.xls</a>
    <a href="http://www.other.gov.cn/attach/0/x.pdf">转载.pdf</a>
    <a href="javascript:download('y.pdf')">下载</a>
    <a href="/module/download/downfile.jsp?classid=0&filename=5d41402abc4b2a76.docx">again</a>
    <div id="pdfshow" data-value="/picture/0/2501/scan.pdf"></div></div></body></html>"""
    url = "http://www.wyx.gov.cn/art/2025/8/12/art_1229423775_4279798.html"
    response = HtmlResponse(url, body=html.encode("utf-8"), encoding="utf-8")
    assert document_links(response) == [
        "http://www.wyx.gov.cn/module/download/downfile.jsp?classid=0&filename=5d41402abc4b2a76.docx"
        "&showname=%E6%80%BB%E7%BB%93.docx",
        "http://www.wyx.gov.cn/art/2025/attach/0/2024%E5%B7%A5%E4%BD%9C%E6%80%BB%E7%BB%93.PDF",  # 2024工作总结
        "http://www.wyx.gov.cn/attach/0/%E6%98%8E%E7%BB%86%E8%A1%A8.xls",  # 明细表.xls: a table is read too
        "http://www.wyx.gov.cn/module/download/downfile.jsp?classid=0&filename=5d41402abc4b2a76.docx",
        "http://www.wyx.gov.cn/picture/0/2501/scan.pdf",
    ]
    assert document_links(HtmlResponse(url, body=b"<html><body><p>no files</p></body></html>")) == []
    # A cover note over a table alone: the page is looked at for links although it names no Word or PDF file.
    only_table = '<html><body><p>检查情况详见附件</p><a href="/attach/0/jc.XLS">检查情况表.XLS</a></body></html>'
    assert document_links(HtmlResponse(url, body=only_table.encode("utf-8"), encoding="utf-8")) == [
        "http://www.wyx.gov.cn/attach/0/jc.XLS"]


# --- found by the audit of the first version (helper-19): each failed before its fix ----------------------

BASE = "http://www.example.gov.cn"
TITLE = "柳城畲族镇2024年工作总结"
PARAS = ["全年完成地区生产总值12.3亿元，同比增长6.7%。", "二是民生实事全面完成。"]
DOCX = {"Content-Type": ["application/vnd.openxmlformats-officedocument.wordprocessingml.document"]}
HTML = {"Content-Type": ["text/html; charset=UTF-8"]}


def stage_as(conn: psycopg.Connection, url: str, body: bytes, headers: dict) -> None:
    with conn.transaction():
        conn.execute(
            """INSERT INTO staged_pages (url, final_url, site, status, headers, body, body_sha256, fetched_at)
               VALUES (%s, %s, 'wuyi', 200, %s, %s, %s, %s)""",
            (url, url, json.dumps(headers), body, hashlib.sha256(body).digest(), dt.datetime.now(dt.UTC)))


def article_page(body_html: str, title: str = TITLE) -> bytes:
    return (f'<html><head><meta charset="utf-8"><title>{title}</title></head><body><div class="article">'
            f'<h1>{title}</h1><div class="info">发布日期：2024-07-26</div><div id="zoom">{body_html}</div></div>'
            "</body></html>").encode()


def test_a_gateway_file_with_no_name_header_still_completes_its_report(db):
    """downfile.jsp?filename=x.docx answered as application/octet-stream with no Content-Disposition: a file
    by its filename= (and its bytes), so the article waiting for it is examined again."""
    file_url = f"{BASE}/module/download/downfile.jsp?classid=0&filename=5d41402abc4b2a76.docx"
    page_url = f"{BASE}/art/2024/7/26/art_1_2.html"
    stage_as(db, page_url, article_page(f'<p><a href="{file_url}">{TITLE}.docx</a></p>'), HTML)
    ingest_pending(db, notify=False)
    stage_as(db, file_url, docx_bytes(TITLE, PARAS), {"Content-Type": ["application/octet-stream"]})
    ingest_pending(db, notify=False)
    (body,) = db.execute("SELECT body FROM reports").fetchone()
    assert body.splitlines() == [*PARAS, *signature_lines(TITLE)]


def test_a_file_served_with_no_content_type_is_a_file_not_a_page_to_refetch(db):
    file_url = f"{BASE}/attach/0/abc.pdf"
    with db.transaction():
        db.execute("INSERT INTO crawl_urls (url, site, state) VALUES (%s, 'wuyi', 'fetched')", (file_url,))
    stage_as(db, file_url, pdf_bytes(TITLE, PARAS), {})
    ingest_pending(db, notify=False)
    assert db.execute("SELECT ingest_state, ingest_note FROM staged_pages").fetchone() == ("done", "files")
    assert db.execute("SELECT state FROM crawl_urls").fetchone() == ("fetched",)  # not 'failed': no refetch


def test_a_link_partly_percent_encoded_still_finds_its_file(db):
    page_url = f"{BASE}/art/2024/7/26/art_1_3.html"
    stage_as(db, page_url, article_page('<p><a href="/attach/0/2024%20工作总结.docx">2024 工作总结.docx</a></p>'), HTML)
    ingest_pending(db, notify=False)
    stage_as(db, f"{BASE}/attach/0/2024%20%E5%B7%A5%E4%BD%9C%E6%80%BB%E7%BB%93.docx", docx_bytes(TITLE, PARAS), DOCX)
    ingest_pending(db, notify=False)
    (body,) = db.execute("SELECT body FROM reports").fetchone()
    assert body.splitlines() == [*PARAS, *signature_lines(TITLE)]


def test_a_sentence_ending_in_a_file_name_is_text_not_a_pointer(db):
    sentence = "请各村（社区）于7月20日前按要求认真填写并报送统计表，模板详见附件统计表.xls"
    stage_as(db, f"{BASE}/art/2024/7/26/art_1_4.html",
             article_page(f'<p>{sentence}</p><p><a href="/attach/0/tj.xls">统计表.xls</a></p>'
                          '<p><a href="/attach/0/sm.pdf">填报说明.pdf</a></p>', title="关于报送2024年统计表的通知"), HTML)
    stage_as(db, f"{BASE}/attach/0/sm.pdf", pdf_bytes("填报说明", ["按表格填写。"]), {"Content-Type": ["application/pdf"]})
    ingest_pending(db, notify=False)
    (body,) = db.execute("SELECT body FROM reports").fetchone()
    assert body.splitlines() == [sentence, "统计表.xls", "填报说明.pdf"]


@pytest.mark.parametrize("html", [
    '<p>附件：<a href="/attach/0/b.docx">工作总结.docx</a> (25.6KB)</p>',
    '<p>附件：<a href="/attach/0/b.docx">工作总结.docx</a>（点击下载）</p>',
    '<p>下载附件：</p><p><a href="/attach/0/b.docx">工作总结.docx</a></p>',
])
def test_pages_showing_only_a_file_with_its_size_or_a_download_label_are_attachment_only(html):
    fields = extract_article(article_page(html).decode(), f"{BASE}/art/2024/7/26/art_1_2.html")
    assert attachment_only(fields.body, fields.attachments), fields.body


def test_a_gbk_pages_file_link_is_requested_as_a_browser_would_and_still_found(db):
    """A GBK page's raw-Chinese query goes out in GBK (%B9%A4…), as a browser sends it and a GBK server
    expects; ingest still matches the file to the link it read from the decoded page."""
    href = "/module/download/downfile.jsp?classid=0&filename=工作总结.docx"
    page = article_page(f'<p><a href="{href}">工作总结.docx</a></p>').replace(b'charset="utf-8"', b'charset="gbk"')
    page = page.decode("utf-8").encode("gbk")
    url = f"{BASE}/art/2024/7/26/art_1_6.html"
    response = HtmlResponse(url, body=page, encoding="gbk")
    (file_url,) = document_links(response)
    assert file_url == f"{BASE}/module/download/downfile.jsp?classid=0&filename=%B9%A4%D7%F7%D7%DC%BD%E1.docx"
    stage_as(db, url, page, {"Content-Type": ["text/html; charset=GBK"]})
    ingest_pending(db, notify=False)
    stage_as(db, file_url, docx_bytes(TITLE, PARAS), DOCX)
    ingest_pending(db, notify=False)
    (body,) = db.execute("SELECT body FROM reports").fetchone()
    assert body.splitlines() == [*PARAS, *signature_lines(TITLE)]


def test_a_stub_or_an_error_page_served_as_the_file_is_a_failed_fetch_retried_next_crawl(database_url):
    """Old portals answer a report file's download with a 2-byte stub or an HTML error page (系统提示) under
    the file's name. That is no file: a failed fetch, retried by the next crawl, never read as the report."""
    site, column, article = _attachment_only("qujiang", ".docx")
    real = article.attachments[0].data
    with ReplicaServer([site]) as replica:
        article = replica.add_article(site.name, column.column_id, article)  # the served one
        url = replica.article_url(site.name, article, column.column_id)
        file_path = f"/attach/0/{article.attachments[0].filename}"
        for broken in (b"\xd0\xcf", "<html><head><title>系统提示</title></head><body>文件不存在</body></html>".encode("gbk")):
            replica.mutate(lambda b=broken: setattr(article.attachments[0], "data", b))
            replica.clear_requests()
            result = gongkai("crawl", *replica.listing_urls(site.name), "--delay", "0", database_url=database_url,
                             timeout=300)
            assert result.returncode == 0, result.stderr
            assert file_path in [r.path for r in replica.requests]  # asked for (again)
            with psycopg.connect(database_url) as conn:
                state, error = conn.execute("SELECT state, last_error FROM crawl_urls WHERE url LIKE %s",
                                            (f"%{article.attachments[0].filename}%",)).fetchone()
                body = conn.execute("SELECT r.body FROM reports r JOIN report_urls u ON u.report_id = r.id"
                                    " WHERE u.url = %s", (url,)).fetchone()[0]
            assert state == "failed" and error.startswith("not the file"), (state, error)
            assert "文件不存在" not in body  # the error page is never the report's text
        replica.mutate(lambda: setattr(article.attachments[0], "data", real))  # the portal is fixed
        replica.clear_requests()
        fixed = gongkai("crawl", *replica.listing_urls(site.name), "--delay", "0", database_url=database_url,
                        timeout=300)
        assert fixed.returncode == 0, fixed.stderr
        assert [r.path for r in replica.requests].count(file_path) == 1
    with psycopg.connect(database_url) as conn:
        body = conn.execute("SELECT r.body FROM reports r JOIN report_urls u ON u.report_id = r.id WHERE u.url = %s",
                            (url,)).fetchone()[0]
    assert body.splitlines() == article.attachments[0].text
