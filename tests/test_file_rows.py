"""A listing row that links straight to a file is a report: crawled, staged and ingested as one.

Some towns publish a summary only as a .docx/.pdf and list the file itself (portal-anatomy 1.6, 3.5):
the row's title is the report's title, the file its attachment. Before, such a row was fetched once,
staged, skipped as "not an HTML page", recorded fetched and never looked at again: a report lost.
"""

from __future__ import annotations

import copy
import json

from gongkai_replica.demo import build_demo_sites
from gongkai_replica.server import ReplicaServer
from gongkai_replica.sites import ReplicaAttachment
from tests.test_cli import gongkai


def test_a_row_linking_straight_to_a_file_becomes_an_attachment_only_report(database_url):
    site = next(s for s in build_demo_sites() if s.name == "qujiang")
    column = site.columns[0]
    article = copy.copy(max(column.articles, key=lambda a: a.pub_date))
    article.article_id += 7001
    article.title = "大洲镇2025年工作计划"
    # A real .docx: a few bytes of "PK" are no file (a stub, a failed fetch retried by the next crawl).
    article.attachments = [ReplicaAttachment.of_report("大洲镇2025年工作计划.docx", "5d41402abc4b2a76b9719d911017c592.docx",
                                                       article.title, article.paragraphs)]
    article.file_row = True
    with ReplicaServer([site]) as replica:
        replica.add_article("qujiang", column.column_id, article)
        listed = replica.article_url("qujiang", article, column.column_id)
        assert "/module/download/downfile.jsp" in listed
        result = gongkai("crawl", *replica.listing_urls("qujiang"), "--delay", "0", database_url=database_url,
                         timeout=300)
        assert result.returncode == 0, result.stderr
        export = gongkai("export", database_url=database_url)
    rows = [json.loads(line) for line in export.stdout.splitlines()]
    (report,) = [r for r in rows if listed in r["urls"]]
    assert report["title"] == "大洲镇2025年工作计划"
    assert report["body"].splitlines() == article.attachments[0].text  # read from the file
    assert report["published_date"] == article.pub_date.date().isoformat()
    assert [(a["name"], a["url"].rsplit("/", 1)[1]) for a in report["attachments"]] == [
        ("大洲镇2025年工作计划.docx", "5d41402abc4b2a76b9719d911017c592.docx")]  # its name from Content-Disposition
    assert len(rows) == len(site.crawlable_articles())  # every other article too, none lost


def test_a_frontier_file_row_is_retried_as_a_file_and_a_listed_one_as_its_listing_row():
    """A column-less row of a file link is a report file an article linked (frontier.record_linked_files):
    retried as a file (checked as one, not read for links). A listed file row keeps its listing's request."""
    from gongkai.crawler.spiders.listing import ListingSpider

    column = "http://127.0.0.9/col/col1/index.html"
    spider = ListingSpider([{"url": column, "site": "s"}])
    linked = spider.seed_request("http://127.0.0.9/attach/0/a.DOC", {"url": "", "site": "s", "column_url": None})
    listed = spider.seed_request("http://127.0.0.9/attach/0/b.docx", {"url": "", "site": "s", "column_url": column})
    page = spider.seed_request("http://127.0.0.9/art/2024/1/1/art_1_2.html", {"url": "", "site": "s",
                                                                              "column_url": None})
    assert linked.meta["document_of"]
    assert "document_of" not in listed.meta and listed.meta["column_url"] == column
    assert "document_of" not in page.meta


def test_an_articles_linked_files_are_written_in_url_order_with_the_rest_of_a_batch():
    """Two crawl workers' batches lock crawl_urls rows in URL order (frontier.in_lock_order): a file row an
    article's fetch records is one of those rows, in its place, not the article's."""
    from gongkai.crawler.frontier import in_lock_order
    from gongkai.crawler.items import FetchedPage, LinkedFiles

    page = FetchedPage(url="http://h/m.html", final_url="http://h/m.html", site="s", column_url="c",
                       listing_title=None, listing_date=None, status=200, headers={}, body=b"", fetched_at=0.0)
    ordered = in_lock_order([LinkedFiles("s", ["http://h/z.doc", "http://h/a.pdf"]), page])
    assert [(type(i).__name__, getattr(i, "urls", [getattr(i, "url", None)])) for i in ordered] == [
        ("LinkedFiles", ["http://h/a.pdf"]), ("FetchedPage", ["http://h/m.html"]), ("LinkedFiles", ["http://h/z.doc"])]
