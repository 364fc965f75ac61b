"""Reports whose text is in their files (issue 26), stored: every file a report links kept as a record,
`body_source`, the cover note, OCR marked with its confidence, the text of files beside a full page, and
search and export carrying it all; and a version made only when a report's text or metadata really change.

The files are the committed fixtures of tests/fixtures/documents/ (.doc with a GBK Content-Disposition,
.wps, .xls, a scanned PDF), staged as the crawl stages them and ingested for real.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import io
import json
from pathlib import Path

import psycopg

from gongkai.app.export import ExportFilter, iter_reports
from gongkai.app.show import render_report
from gongkai.app.web import queries
from gongkai.db import migrate
from gongkai.ingest.pages import FILE_NOT_READ, StagedPage
from gongkai.ingest.run import ingest_pending, queue_reingest
from gongkai.ingest.store import StoreItem, store_batch
from gongkai.models import ArticleFields, Attachment
from tests.test_store_batch import _database_before
from tests.web_helpers import get, get_json, serve

FIXTURES = Path(__file__).parent / "fixtures" / "documents"
DOC = FIXTURES / "LXZ2023GZZJ.DOC"  # served as LXZ2023GZZJ.DOC, its real name in a GBK Content-Disposition
WPS = FIXTURES / "云岭乡2024年工作计划.wps"
XLS = FIXTURES / "2023年度重点项目推进情况表.xls"
SCAN = FIXTURES / "桃源镇2023年安全生产工作总结.pdf"  # two scanned pages, no text layer
JPG = FIXTURES / "河长制工作情况.jpg"  # a scanned page
BASE = "http://www.example.gov.cn"
HTML = {"Content-Type": ["text/html; charset=UTF-8"]}
OCTET = {"Content-Type": ["application/octet-stream"]}


def expected(path: Path) -> list[str]:
    name = "柳溪镇2023年工作总结.doc" if path == DOC else path.name
    return (FIXTURES / f"{name}.expected.txt").read_text(encoding="utf-8").splitlines()


def stage(conn: psycopg.Connection, url: str, body: bytes, headers: dict) -> int:
    with conn.transaction():
        return conn.execute(
            """INSERT INTO staged_pages (url, final_url, site, status, headers, body, body_sha256, fetched_at)
               VALUES (%s, %s, 'wuyi', 200, %s, %s, %s, %s) RETURNING id""",
            (url, url, json.dumps(headers), body, hashlib.sha256(body).digest(), dt.datetime.now(dt.UTC))).fetchone()[0]


def article(title: str, body_html: str) -> bytes:
    return (f'<html><head><meta charset="utf-8"><title>{title}</title></head><body><div class="article">'
            f'<h1>{title}</h1><div class="info">发布日期：2024-03-26</div><div id="zoom">{body_html}</div></div>'
            "</body></html>").encode()


def report(conn: psycopg.Connection, url: str) -> dict:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT r.* FROM reports r JOIN report_urls u ON u.report_id = r.id WHERE u.url = %s",
                           (url,)).fetchone()


def test_a_cover_note_over_a_table_takes_the_tables_text_and_keeps_the_note(db):
    """检查情况详见附件 over an attached .XLS (upper case, served as octet-stream, its name in a GBK
    Content-Disposition): the table is the body, rows and cells apart; the note is kept; the file is recorded."""
    url, file_url = f"{BASE}/art/2024/3/26/art_1_10.html", f"{BASE}/attach/0/JCQK2023.XLS"
    stage(db, url, article("关于2023年度重点项目推进情况的通报",
                           f'<p>检查情况详见附件。</p><p>附件：<a href="{file_url}">重点项目推进情况表.XLS</a></p>'), HTML)
    gbk_name = "2023年度重点项目推进情况表.xls".encode("gbk").decode("latin-1")
    data = XLS.read_bytes()
    file_id = stage(db, file_url, data, {**OCTET, "Content-Disposition": [f'attachment; filename="{gbk_name}"']})
    ingest_pending(db, notify=False)
    r = report(db, url)
    assert r["body"].splitlines() == expected(XLS)
    assert "类别\t序号\t项目名称\t总投资（万元）\t完成进度\t完成时间" in r["body"].splitlines()
    # The page has no metadata block (so says its status); nothing about its file is wrong.
    assert (r["body_source"], r["cover_note"], r["attachment_text"], r["extraction"]) == (
        "attachment", "检查情况详见附件。", None, "no metadata block")
    (record,) = r["files"]
    assert record == {"url": file_url, "name": "重点项目推进情况表.XLS", "filename": "2023年度重点项目推进情况表.xls",
                      "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "kind": "xls",
                      "staged_page_id": file_id, "chars": len(r["body"]), "ocr": False, "confidence": None,
                      "used": "body"}
    # The staged page the record names holds the original bytes.
    assert bytes(db.execute("SELECT body FROM staged_pages WHERE id = %s", (file_id,)).fetchone()[0]) == data


def test_a_doc_and_a_wps_beside_a_full_page_are_kept_beside_it_and_found_by_search_and_export(db, database_url):
    """A page with a body of its own keeps it; its .doc and .wps are read and stored beside it, in order, and
    search and export find the report by words only those files hold. Re-ingested: nothing changes."""
    url = f"{BASE}/art/2024/3/26/art_1_11.html"
    own = ("2023年，全镇上下围绕县委县政府决策部署，统筹推进经济社会发展各项工作，主要指标完成情况良好。"
           "全年完成固定资产投资5.6亿元，新增市场主体312户，城乡居民收入稳步增长。"
           "现将全年工作总结和2024年工作计划一并公开，请社会各界监督。具体内容见附件。")
    doc_url, wps_url = f"{BASE}/attach/0/LXZ2023GZZJ.DOC", f"{BASE}/attach/0/yl2024.wps"
    stage(db, url, article("2023年工作总结和2024年工作计划",
                           f'<p>{own}</p><p><a href="{doc_url}">工作总结.DOC</a></p>'
                           f'<p><a href="{wps_url}">工作计划.wps</a></p>'), HTML)
    headers = json.loads((FIXTURES / "LXZ2023GZZJ.DOC.headers.json").read_text(encoding="ascii"))
    stage(db, doc_url, DOC.read_bytes(), headers)
    stage(db, wps_url, WPS.read_bytes(), OCTET)
    ingest_pending(db, notify=False)
    r = report(db, url)
    assert r["body"].splitlines()[0] == own and r["body_source"] == "page" and r["cover_note"] is None
    assert r["attachment_text"] == "\n".join(expected(DOC)) + "\n\n" + "\n".join(expected(WPS))
    assert [(f["used"], f["kind"], f["filename"]) for f in r["files"]] == [
        ("beside", "doc", "柳溪镇2023年工作总结.DOC"), ("beside", "doc", None)]
    # Search: 完成年度目标的101.3% is only in the .doc.
    term = "完成年度目标的101.3%"
    assert term not in own and term in r["attachment_text"]
    page = queries.search(db, queries.Filters(q=term), 10, None)
    assert [h.id for h in page.items] == [r["id"]] and term in page.items[0].snippet
    (row,) = list(iter_reports(db, ExportFilter(query=term)))
    assert row["attachment_text"] == r["attachment_text"] and row["files"] == r["files"]
    shown = render_report({**row, "metadata": {}}, [], [])
    assert "[attachment text]\n柳溪镇2023年工作总结" in shown and "doc; " in shown
    # The readers' site: the API's search and the report page.
    with serve(database_url) as base:
        status, found = get_json(base, "/api/reports", {"q": term})
        assert status == 200 and [item["id"] for item in found["items"]] == [r["id"]]
        status, api = get_json(base, f"/api/reports/{r['id']}")
        assert api["attachment_text"] == r["attachment_text"] and api["body_source"] == "page"
        status, _, html = get(base, f"/reports/{r['id']}")
        assert status == 200 and 'id="attachment-text"' in html and "完成年度目标的101.3%" in html
    queue_reingest(db)
    assert ingest_pending(db, notify=False)["unchanged"] == 1
    assert (report(db, url)["version"], report(db, url)["seq"]) == (1, r["seq"])


def test_a_scan_is_read_by_ocr_and_a_scan_no_one_can_read_is_named(db):
    """详见附件 over a scanned PDF: the body is the OCR text (95 % of the characters at least), marked ocr with
    its confidence. Over a blank scan: no body passed off as done, the extraction status names the file."""
    from PIL import Image

    pdf = {"Content-Type": ["application/pdf"]}
    url, file_url = f"{BASE}/art/2024/3/26/art_1_12.html", f"{BASE}/attach/0/tyz.pdf"
    stage(db, url, article("桃源镇2023年安全生产工作总结", f'<p>详见附件：<a href="{file_url}">安全生产工作总结.pdf</a></p>'),
          HTML)
    stage(db, file_url, SCAN.read_bytes(), pdf)
    blank_url, blank_file = f"{BASE}/art/2024/3/26/art_1_13.html", f"{BASE}/attach/0/blank.pdf"
    stage(db, blank_url, article("2023年度安全检查情况", f'<p>检查情况详见附件</p><p><a href="{blank_file}">检查情况.pdf</a></p>'),
          HTML)
    blank = io.BytesIO()
    Image.new("L", (600, 800), 255).save(blank, format="PDF", resolution=72.0)
    stage(db, blank_file, blank.getvalue(), pdf)
    ingest_pending(db, notify=False)
    r = report(db, url)
    assert r["body_source"] == "ocr" and r["cover_note"] is None
    (record,) = r["files"]
    assert record["ocr"] is True and record["confidence"] > 0.9 and record["used"] == "body"
    want = "".join("".join(expected(SCAN)[1:]).split())
    score = difflib.SequenceMatcher(None, want, "".join(r["body"].split()), autojunk=False).ratio()
    assert score >= 0.95, (score, r["body"])
    b = report(db, blank_url)
    assert b["body"].splitlines() == ["检查情况详见附件", "检查情况.pdf"] and b["body_source"] == "page"
    assert f"{FILE_NOT_READ}: 检查情况.pdf: " in b["extraction"], b["extraction"]
    assert b["files"][0]["used"] is None and b["files"][0]["note"]


def test_a_cover_note_whose_table_comes_later_is_completed_in_the_same_version(db):
    """The table's download failed the first time: the report is stored with its cover note and flagged;
    when the file is staged, the article is examined again and the same version is completed (a new seq)."""
    url, file_url = f"{BASE}/art/2024/3/26/art_1_14.html", f"{BASE}/attach/0/jc2023.xls"
    stage(db, url, article("关于2023年度重点项目推进情况的通报",
                           f'<p>现将检查情况通报如下，详见附件。</p><p>附件：<a href="{file_url}">推进情况表.xls</a></p>'), HTML)
    ingest_pending(db, notify=False)
    first = report(db, url)
    assert first["body"] == "现将检查情况通报如下，详见附件。" and first["body_source"] == "page"
    assert f"{FILE_NOT_READ}: 推进情况表.xls: not fetched" in first["extraction"]
    stage(db, file_url, XLS.read_bytes(), {"Content-Type": ["application/vnd.ms-excel"]})
    ingest_pending(db, notify=False)
    r = report(db, url)
    assert r["body"].splitlines() == expected(XLS) and r["cover_note"] == "现将检查情况通报如下，详见附件。"
    assert (r["version"], r["body_source"], r["extraction"]) == (1, "attachment", "no metadata block")
    assert r["seq"] > first["seq"]
    assert db.execute("SELECT count(*) FROM report_versions").fetchone()[0] == 0


def test_a_full_pages_file_that_comes_later_is_read_beside_it_in_the_same_version(db):
    """The .wps of a full page failed to download the first time: recorded as not fetched; when it is staged,
    the article is examined again and the file's text goes beside the body, in the same version."""
    url, file_url = f"{BASE}/art/2024/3/26/art_1_17.html", f"{BASE}/attach/0/yl2024b.wps"
    own = "2024年，云岭乡将围绕“十四五”规划目标，抓项目、强产业、优环境、惠民生，推动全乡经济社会高质量发展。" * 2
    stage(db, url, article("云岭乡2024年工作计划", f'<p>{own}</p><p>附件：<a href="{file_url}">工作计划.wps</a></p>'), HTML)
    ingest_pending(db, notify=False)
    first = report(db, url)
    assert first["files"][0]["note"] == "not fetched" and first["attachment_text"] is None
    assert first["extraction"] == "no metadata block"  # a full page: its body does not wait for the file
    stage(db, file_url, WPS.read_bytes(), OCTET)
    ingest_pending(db, notify=False)
    r = report(db, url)
    assert r["body"] == own and r["attachment_text"].splitlines() == expected(WPS)
    assert (r["version"], r["files"][0]["used"]) == (1, "beside") and r["seq"] > first["seq"]


def test_a_linked_picture_is_read_by_ocr_only_when_it_is_the_report(db):
    """附件：河长制工作情况.jpg under a one-line note: the scan is the report, read by OCR. The same picture
    beside a page with a body of its own is recorded, not OCR'd (seconds a page, and mostly photos)."""
    pointer_url, file_url = f"{BASE}/art/2024/3/26/art_1_15.html", f"{BASE}/attach/0/hzz.JPG"
    stage(db, pointer_url, article("关于2023年度河长制工作情况的报告",
                                   f'<p>现将有关情况报告如下。</p><p>附件：<a href="{file_url}">河长制工作情况.JPG</a></p>'), HTML)
    stage(db, file_url, JPG.read_bytes(), {"Content-Type": ["image/jpeg"]})
    full_url = f"{BASE}/art/2024/3/26/art_1_16.html"
    own = "全镇共有镇级河道8条，总长46.3公里。" * 6
    stage(db, full_url, article("2023年度河长制工作总结", f'<p>{own}</p><p><a href="{file_url}">现场照片.jpg</a></p>'), HTML)
    ingest_pending(db, notify=False)
    r = report(db, pointer_url)
    assert (r["body_source"], r["cover_note"]) == ("ocr", "现将有关情况报告如下。")
    assert r["files"][0]["ocr"] is True and r["files"][0]["kind"] == "jpeg" and r["files"][0]["confidence"] > 0.9
    want = "".join("".join(expected(JPG)[1:]).split())
    score = difflib.SequenceMatcher(None, want, "".join(r["body"].split()), autojunk=False).ratio()
    assert score >= 0.95, (score, r["body"])
    full = report(db, full_url)
    assert full["body"].splitlines()[0] == own and full["body_source"] == "page" and full["attachment_text"] is None
    assert full["files"][0]["used"] is None and full["files"][0]["note"].startswith("a scan, not OCR'd")
    assert full["extraction"] == "no metadata block"


def test_a_listed_wps_is_its_own_reports_body(db):
    """A listing row linking straight to a .wps: the file is the report, recorded as its own staged page."""
    url = f"{BASE}/attach/0/yl2024.wps"
    with db.transaction():
        page_id = db.execute(
            """INSERT INTO staged_pages (url, final_url, site, status, headers, body, body_sha256, fetched_at,
                                         listing_title)
               VALUES (%s, %s, 'wuyi', 200, %s, %s, %s, now(), '云岭乡2024年工作计划') RETURNING id""",
            (url, url, json.dumps(OCTET), WPS.read_bytes(), hashlib.sha256(WPS.read_bytes()).digest())).fetchone()[0]
    ingest_pending(db, notify=False)
    r = report(db, url)
    assert r["body"].splitlines() == expected(WPS)[1:] and r["body_source"] == "attachment"
    assert r["files"][0]["staged_page_id"] == page_id and r["files"][0]["kind"] == "doc"


# --- versions: made by real changes only ----------------------------------------------------------------

TITLE = "朱溪镇2024年上半年工作总结"
BODY = "2024年上半年，朱溪镇坚持项目为王，全力推进重点工程建设。\n一是产业发展提质增效，完成固定资产投资3.2亿元。"


def _page(conn: psycopg.Connection, url: str) -> StagedPage:
    page_id = stage(conn, url, b"<html></html>", HTML)
    return StagedPage(page_id, url, url, "wuyi", 200, HTML, b"", dt.datetime.now(dt.UTC))


def _fields(**kw) -> ArticleFields:
    given = {"title": TITLE, "body": BODY, "publisher": "朱溪镇", "published_date": "2024-08-05",
             "attachments": [Attachment("总结.docx", f"{BASE}/attach/0/a.docx")],
             "metadata": {"索引号": "11331024734494628R/2024-129893"}}
    return ArticleFields(**{**given, **kw})


def test_an_upgrade_re_versions_nothing(admin_url):
    """A report stored by an older gongkai (schema 9, its content hash made its own way, none of the new
    columns): migrated and re-ingested with the same text, it keeps its version and gets no report_versions
    row; what is new (body_source, the files' records) is filled in the same version, with a new seq for the
    feed; the next re-ingest changes nothing. A real change of the text is still a new version."""
    url = f"{BASE}/art/2024/8/5/art_1229311252_3942862.html"
    with _database_before(admin_url, 10) as conn:
        page = _page(conn, url)
        with conn.transaction():
            report_id = conn.execute(
                """INSERT INTO reports (seq, url, site, title, body, body_hash, content_hash, published_date,
                                        publisher, attachments, metadata, source_page_id, period_year, period_half,
                                        kinds)
                   VALUES (1, %s, 'wuyi', %s, %s, %s, %s, '2024-08-05', '朱溪镇', %s, %s, %s, 2024, 'H1', '{总结}')
                   RETURNING id""",
                (url, TITLE, BODY, b"\x01" * 32, hashlib.sha256(b"an older gongkai's hash").digest(),
                 json.dumps([{"name": "总结.docx", "url": f"{BASE}/attach/0/a.docx"}]),
                 json.dumps({"索引号": "11331024734494628R/2024-129893"}, ensure_ascii=False), page.id)).fetchone()[0]
            conn.execute("INSERT INTO report_urls (url, report_id) VALUES (%s, %s)", (url, report_id))
            conn.execute("UPDATE feed_counter SET seq = 1")
        assert "0010_report_files.sql" in migrate(conn)

        def store(fields: ArticleFields) -> str:
            with conn.transaction(), conn.cursor() as cur:
                return store_batch(cur, [StoreItem(_page(conn, url), fields)]).outcomes[0][0]

        def state() -> tuple:
            return conn.execute("SELECT version, seq, body_source, (SELECT count(*) FROM report_versions)"
                                " FROM reports").fetchone()

        records = [{"url": f"{BASE}/attach/0/a.docx", "name": "总结.docx", "note": "not fetched"}]
        assert store(_fields(files=records)) == "refreshed"
        assert state() == (1, 2, "page", 0)
        assert store(_fields(files=records)) == "unchanged" and state() == (1, 2, "page", 0)
        assert store(_fields(files=records, body=BODY + "\n二是民生实事全面完成。")) == "updated"
        assert state() == (1 + 1, 3, "page", 1)


def test_hashes_of_another_form_are_rewritten_without_a_seq(db):
    """Stored hashes computed otherwise (a field added to the hash since) but the same values: the hashes are
    brought up to date quietly, no new seq, no version; the lookup after that is the cheap one."""
    url = f"{BASE}/art/2024/8/5/art_1229311252_3942863.html"
    with db.transaction(), db.cursor() as cur:
        assert store_batch(cur, [StoreItem(_page(db, url), _fields())]).outcomes[0][0] == "new"
    with db.transaction():
        db.execute("UPDATE reports SET content_hash = '\\x00', derived_hash = NULL")
    before = db.execute("SELECT seq, version FROM reports").fetchone()
    with db.transaction(), db.cursor() as cur:
        assert store_batch(cur, [StoreItem(_page(db, url), _fields())]).outcomes[0][0] == "unchanged"
    assert db.execute("SELECT seq, version FROM reports").fetchone() == before
    assert db.execute("SELECT content_hash <> '\\x00' AND derived_hash IS NOT NULL FROM reports").fetchone()[0]
