"""Issue 26 end to end: reports whose text is only in their attachment, crawled from the replica portals
of gongkai_replica/attached.py (a jcms site, files through downfile.jsp → 302 → /attach/0/; a GBK TRS site,
files beside their article) with `gongkai crawl`, twice, and judged from the database.

- attachment-only reports are stored with their file's full text: a Word 97 .DOC (upper case, a raw GBK
  Content-Disposition name, behind the gateway's 302), a .wps and an .xls exactly; a scanned PDF and a
  .jpg by OCR, to 95 % of their characters at least;
- what is not the file (a 2-byte stub, an HTML error page, a .doc or a PDF cut short) is a failed fetch
  (crawl_urls: failed, "not the file: …"), never the report's text; the next crawl fetches it again, and
  when the portal then serves the real file the report gets its text.

The OCR costs seconds a page: two scans are read (a one-page PDF and a .jpg).
"""

from __future__ import annotations

import difflib
import http.client
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from gongkai.ingest.pages import attachment_filename
from gongkai_replica import attached
from gongkai_replica.files import data_file, expected_text
from gongkai_replica.server import ReplicaServer, RequestLogEntry
from gongkai_replica.sites import ReplicaArticle
from tests.conftest import _with_dbname
from tests.test_cli import gongkai


@dataclass
class Crawl:
    returncode: int
    stderr: str
    requests: list[RequestLogEntry]
    states: dict[str, tuple[str, str | None]]  # crawl_urls: url -> (state, last_error)
    bodies: dict[str, str]  # article URL -> its report's body
    sources: dict[str, tuple[str, str | None]]  # article URL -> its report's (body_source, cover_note)
    file_headers: dict[str, dict[str, list[str]]]  # a staged file's URL -> its response headers


@dataclass
class Crawled:
    replica: ReplicaServer
    first: Crawl
    second: Crawl

    def article(self, title: str) -> ReplicaArticle:
        return next(a for site in self.replica.sites.values() for a in site.articles() if a.title == title)

    def url(self, article: ReplicaArticle) -> str:
        site = article.site
        return self.replica.article_url(site.name, article)


def _state(database_url: str) -> tuple[dict[str, tuple[str, str | None]], dict[str, str],
                                        dict[str, tuple[str, str | None]], dict[str, dict]]:
    with psycopg.connect(database_url) as conn:
        headers = dict(conn.execute("SELECT url, headers FROM staged_pages WHERE url NOT LIKE %s",
                                    ("%.htm%",)).fetchall())
        states = {url: (state, error) for url, state, error in
                  conn.execute("SELECT url, state, last_error FROM crawl_urls").fetchall()}
        rows = conn.execute("SELECT u.url, r.body, r.body_source, r.cover_note FROM report_urls u"
                            " JOIN reports r ON r.id = u.report_id WHERE r.withdrawn_at IS NULL").fetchall()
    return states, {u: b for u, b, _, _ in rows}, {u: (s, n) for u, _, s, n in rows}, headers


def _crawl(replica: ReplicaServer, database_url: str) -> Crawl:
    replica.clear_requests()
    urls = [u for name in replica.sites for u in replica.listing_urls(name)]
    result = gongkai("crawl", *urls, "--delay", "0", database_url=database_url, timeout=300)
    return Crawl(result.returncode, result.stderr, replica.requests, *_state(database_url))


@pytest.fixture(scope="module")
def crawled(admin_url: str):
    """Two routine crawls of both sites into one fresh database: the first meets the broken files, the
    portal serves the real ones from then on, the second must fetch them again."""
    name = f"gongkai_test_attach_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database_url = _with_dbname(admin_url, name)
    try:
        with ReplicaServer(attached.build_sites()) as replica:
            first = _crawl(replica, database_url)
            second = _crawl(replica, database_url)
            yield Crawled(replica, first, second)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def similarity(got: str, want: list[str]) -> float:
    """Character-level similarity, whitespace aside (difflib's ratio: 2·matches / total)."""
    a, b = "".join("".join(want).split()), "".join(got.split())
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def file_state(crawl: Crawl, filename: str) -> tuple[str, str | None]:
    (state,) = [s for url, s in crawl.states.items() if filename in url]
    return state


def file_gets(crawl: Crawl, filename: str) -> list[RequestLogEntry]:
    """GETs of the file's bytes (not the gateway's 302)."""
    return [r for r in crawl.requests if r.method == "GET" and r.path.endswith("/" + filename)]


def test_both_crawls_succeed(crawled: Crawled) -> None:
    assert crawled.first.returncode == 0, crawled.first.stderr
    assert crawled.second.returncode == 0, crawled.second.stderr


def test_a_gbk_named_upper_case_doc_behind_the_gateway_is_the_report_exactly(crawled: Crawled) -> None:
    article = crawled.article("柳溪镇2023年工作总结")
    att = article.attachments[0]
    assert att.filename.endswith(".DOC") and att.disposition == "gbk"
    gateway = [r for r in crawled.first.requests if r.path == "/module/download/downfile.jsp"
               and att.filename in r.query]
    assert [r.status for r in gateway] == [302]
    assert [r.status for r in file_gets(crawled.first, att.filename)] == [200]
    body = crawled.first.bodies[crawled.url(article)]
    assert body.splitlines() == expected_text(attached.DOC)[1:]  # below its title, line for line
    (headers,) = [h for url, h in crawled.first.file_headers.items() if att.filename in url]
    assert attachment_filename(headers) == "柳溪镇2023年工作总结.DOC"  # the raw GBK bytes staged intact
    assert body == article.expected.body


def test_a_wps_served_as_a_stub_first_is_a_failed_fetch_then_the_report_exactly(crawled: Crawled) -> None:
    article = crawled.article("云岭乡2024年工作计划")
    att = article.attachments[0]
    url = crawled.url(article)
    state, error = file_state(crawled.first, att.filename)
    assert (state, error) == ("failed", "not the file: stub")
    assert crawled.first.bodies[url] == "详见附件\n云岭乡2024年工作计划.wps"  # the page as it is, no stub "text"
    assert len(file_gets(crawled.second, att.filename)) == 1  # the next crawl tries again
    assert file_state(crawled.second, att.filename)[0] == "fetched"
    assert crawled.second.bodies[url].splitlines() == expected_text(attached.WPS)[1:]
    assert crawled.second.bodies[url] == article.expected.body
    assert crawled.first.sources[url][0] == "page" and crawled.second.sources[url][0] == "attachment"


def test_a_cut_doc_then_an_error_page_in_its_place_are_never_text_and_retried_every_crawl(crawled: Crawled) -> None:
    article = crawled.article("柳溪镇2022年工作总结")
    att = article.attachments[0]
    for crawl, problem in ((crawled.first, "truncated"), (crawled.second, "html")):
        assert file_state(crawl, att.filename) == ("failed", f"not the file: {problem}")
        assert len(file_gets(crawl, att.filename)) == 1
        body = crawl.bodies[crawled.url(article)]
        assert body == "柳溪镇2022年工作总结.doc" == article.expected.body  # its name, as the page shows it
        assert "不存在" not in body and "系统提示" not in body


def test_a_scanned_pdf_cut_short_first_is_retried_and_then_read_by_ocr(crawled: Crawled) -> None:
    article = crawled.article("石门乡2023年河道保洁工作总结")
    att = article.attachments[0]
    assert att.filename.endswith(".PDF") and att.link.startswith("./")
    assert file_state(crawled.first, att.filename) == ("failed", "not the file: truncated")
    assert crawled.first.bodies[crawled.url(article)] == "石门乡2023年河道保洁工作总结.PDF"
    assert len(file_gets(crawled.second, att.filename)) == 1
    assert file_state(crawled.second, att.filename)[0] == "fetched"
    body = crawled.second.bodies[crawled.url(article)]
    assert similarity(body, article.attachments[0].text) >= 0.95, body
    assert crawled.second.sources[crawled.url(article)][0] == "ocr"


def test_pages_with_their_text_are_stored_from_the_page(crawled: Crawled) -> None:
    on_page = [a for site in crawled.replica.sites.values() for a in site.articles() if not a.attachments]
    assert len(on_page) == 4
    for article in on_page:
        assert crawled.second.bodies[crawled.url(article)] == article.expected.body


def test_a_routine_recrawl_fetches_no_good_file_again(crawled: Crawled) -> None:
    doc = crawled.article("柳溪镇2023年工作总结").attachments[0]
    assert file_gets(crawled.second, doc.filename) == []


def test_an_attachment_only_xls_is_the_report_exactly(crawled: Crawled) -> None:
    article = crawled.article("柳溪镇2023年度重点项目推进情况")
    att = article.attachments[0]
    assert att.filename.endswith(".XLS")
    assert [r.status for r in file_gets(crawled.first, att.filename)] == [200]
    body = crawled.first.bodies[crawled.url(article)]
    assert body.splitlines() == expected_text(attached.XLS)  # tables as tab-separated rows
    assert body == article.expected.body
    assert crawled.first.sources[crawled.url(article)][0] == "attachment"


def test_the_table_under_a_cover_note_is_fetched(crawled: Crawled) -> None:
    """A one-line cover note (详见附件) over an .xlsx: the file is fetched and kept as a file (how its text
    is stored beside or into the report is the storage work's, not asserted here)."""
    article = crawled.article("桥头镇2024年一季度财政收支情况")
    att = article.attachments[0]
    assert [r.status for r in file_gets(crawled.first, att.filename)] == [200]
    assert file_state(crawled.first, att.filename)[0] == "fetched"
    # A note under 100 characters is a pointer: the report's body is the table, the note is kept beside it.
    source, note = crawled.first.sources[crawled.url(article)]
    assert source == "attachment" and "现将我镇2024年一季度财政收支情况予以公开" in (note or "")
    assert crawled.first.bodies[crawled.url(article)].splitlines() == expected_text(attached.XLSX)


def test_an_attachment_only_jpg_scan_is_read_by_ocr(crawled: Crawled) -> None:
    article = crawled.article("关于2023年度河长制工作情况的报告")
    att = article.attachments[0]
    assert [r.status for r in file_gets(crawled.first, att.filename)] == [200]
    body = crawled.first.bodies[crawled.url(article)]
    assert similarity(body, att.text) >= 0.95, body
    assert crawled.first.sources[crawled.url(article)][0] == "ocr"


# --- the replica's files, without a crawl ---------------------------------------------------------------------

def test_the_replicas_files_are_the_fixtures_copies() -> None:
    """gongkai_replica/data/attachments/ holds copies (tests/fixtures/documents/build.py replica): the same
    bytes and expected text as the fixtures the readers are tested on."""
    fixtures = Path(__file__).parent / "fixtures" / "documents"
    for name in ("LXZ2023GZZJ.DOC", attached.WPS, attached.XLS, attached.XLSX, attached.SCAN_JPG, attached.STUB,
                 attached.ERROR_PAGE, attached.TRUNCATED):
        assert data_file(name) == (fixtures / name).read_bytes(), name
    assert expected_text(attached.DOC) == (fixtures / "柳溪镇2023年工作总结.doc.expected.txt").read_text().splitlines()
    assert expected_text(attached.WPS) == (fixtures / f"{attached.WPS}.expected.txt").read_text().splitlines()
    assert data_file(attached.SCAN_PDF).startswith(b"%PDF") and b"/Font" not in data_file(attached.SCAN_PDF)


def _get(url: str, method: str = "GET") -> tuple[int, dict[str, bytes], bytes]:
    """One request, no redirect followed; header values as the raw bytes on the wire."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        return response.status, {k.lower(): v.encode("latin-1") for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_files_are_served_as_their_portals_serve_them() -> None:
    with ReplicaServer(attached.build_sites()) as replica:
        songyang, suichang = replica.site(attached.JCMS), replica.site(attached.TRS)
        doc = next(a for a in songyang.articles() if a.title == "柳溪镇2023年工作总结")
        gateway = doc.expected.attachments[0].url
        status, headers, _ = _get(gateway)
        assert (status, headers["location"]) == (302, f"{songyang.base_url}/attach/0/20240122093012485.DOC".encode())
        status, headers, body = _get(headers["location"].decode())
        assert (status, body) == (200, data_file(attached.DOC))
        assert headers["content-type"] == b"application/octet-stream"
        assert headers["content-disposition"] == 'attachment; filename="柳溪镇2023年工作总结.DOC"'.encode("gbk")

        wps = next(a for a in songyang.articles() if a.title == "云岭乡2024年工作计划").attachments[0]
        wps_url = f"{songyang.base_url}/attach/0/{wps.filename}"
        assert _get(wps_url, "HEAD")[0] == 200  # a HEAD takes no turn of the schedule
        assert _get(wps_url)[2] == data_file(attached.STUB)
        assert _get(wps_url)[2] == _get(wps_url)[2] == data_file(attached.WPS)
        replica.reset_faults()
        assert _get(wps_url)[2] == data_file(attached.STUB)

        scan = next(a for a in suichang.articles() if a.title == "石门乡2023年河道保洁工作总结")
        page = replica.article_url(attached.TRS, scan)
        file_url = scan.expected.attachments[0].url
        assert file_url == page.rsplit("/", 1)[0] + "/P020240118552301766842.PDF"  # beside its article
        assert 'href="./P020240118552301766842.PDF"' in _get(page)[2].decode("gbk")
        status, headers, body = _get(file_url)
        assert status == 200 and b"%%EOF" not in body and headers["content-type"] == b"application/pdf"
        assert "content-disposition" not in headers
        assert _get(file_url)[2] == data_file(attached.SCAN_PDF)
        assert _get(file_url.replace("/202401/", "/202402/"))[0] == 404  # only beside its own article
