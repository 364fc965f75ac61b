"""Report storage against real PostgreSQL: dedup by URL / article id / body, versions, withdrawals, seq."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from pathlib import Path

import psycopg

from gongkai.ingest.pages import StagedPage
from gongkai.ingest.store import SeqAllocator, article_key, mark_withdrawn, store_article
from gongkai.models import ArticleFields, Attachment

HOST = "http://www.zjxj.gov.cn"


def stage(conn: psycopg.Connection, url: str, status: int = 200) -> StagedPage:
    body = f"<html>{url}</html>".encode()
    now = dt.datetime.now(dt.UTC)
    page_id = conn.execute(
        """INSERT INTO staged_pages (url, final_url, site, status, body, body_sha256, fetched_at)
           VALUES (%s, %s, 'zjxj', %s, %s, %s, %s) RETURNING id""",
        (url, url, status, body, hashlib.sha256(body).digest(), now),
    ).fetchone()[0]
    return StagedPage(id=page_id, url=url, final_url=url, site="zjxj", status=status, headers={}, body=body,
                      fetched_at=now)


def fields(body: str = "一、上半年工作\n完成投资3669万元，同比增长82.77%。", title: str = "朱溪镇2024年上半年工作总结",
           **kw) -> ArticleFields:
    return ArticleFields(title=title, body=body, index_no="11331024734494628R/2024-129893", publisher="朱溪镇",
                         written_date="2024-08-05", published_date="2024-08-05", category="计划总结",
                         attachments=[Attachment("附件.docx", f"{HOST}/module/download/downfile.jsp?filename=a.docx")],
                         metadata={"索引号": "11331024734494628R/2024-129893"}, **kw)


def store(conn: psycopg.Connection, page: StagedPage, article: ArticleFields) -> str:
    with conn.transaction(), conn.cursor() as cur:
        seq = SeqAllocator(cur)
        what, _ = store_article(cur, seq, page, article)
        seq.save()
    return what


def reports(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        """SELECT r.id, r.seq, r.version, r.title, r.body, r.withdrawn_at IS NOT NULL,
                  ARRAY(SELECT url FROM report_urls u WHERE u.report_id = r.id ORDER BY url)
           FROM reports r ORDER BY r.id""").fetchall()


def test_article_key_identifies_one_article_under_two_columns():
    a = article_key(f"{HOST}/art/2024/8/5/art_1229311252_3942862.html")
    b = article_key(f"{HOST}/art/2024/8/5/art_1229311999_3942862.html")
    assert a == b == "www.zjxj.gov.cn/jcms/3942862"
    assert article_key("http://other.gov.cn/art/2024/8/5/art_1229311252_3942862.html") != a
    assert article_key(f"{HOST}/col/col1229311252/index.html") is None


def test_same_article_in_two_columns_is_one_report_with_both_urls(db):
    url_a = f"{HOST}/art/2024/8/5/art_1229311252_3942862.html"
    url_b = f"{HOST}/art/2024/8/5/art_1229311999_3942862.html"
    assert store(db, stage(db, url_a), fields()) == "new"
    assert store(db, stage(db, url_b), fields()) == "column"
    rows = reports(db)
    assert len(rows) == 1
    assert rows[0][6] == sorted([url_a, url_b])


def test_unchanged_recrawl_changes_nothing(db):
    url = f"{HOST}/art/2024/8/5/art_1229311252_3942862.html"
    store(db, stage(db, url), fields())
    before = reports(db)
    assert store(db, stage(db, url), fields()) == "unchanged"
    assert reports(db) == before


def test_changed_text_makes_a_new_version_and_keeps_the_old(db):
    url = f"{HOST}/art/2024/8/5/art_1229311252_3942862.html"
    store(db, stage(db, url), fields())
    seq_before = reports(db)[0][1]
    assert store(db, stage(db, url), fields(body="一、上半年工作\n完成投资3670万元。")) == "updated"
    (rid, seq, version, _title, body, _w, _urls), = reports(db)
    assert version == 2 and seq > seq_before and body == "一、上半年工作\n完成投资3670万元。"
    old = db.execute("SELECT version, body FROM report_versions WHERE report_id = %s", (rid,)).fetchall()
    assert old == [(1, "一、上半年工作\n完成投资3669万元，同比增长82.77%。")]


def test_repost_with_same_text_is_an_alias_and_the_original_wins(db):
    original = f"{HOST}/art/2024/8/5/art_1229311252_3942862.html"
    repost = "http://www.zjxj.gov.cn/art/2024/8/9/art_1229300001_3950000.html"
    store(db, stage(db, original), fields())
    county = fields(body=" 一、上半年工作 \n完成投资3669万元，同比增长82.77%。")
    county.publisher = "仙居县人民政府办公室"
    assert store(db, stage(db, repost), county) == "repost"
    (_, _, version, _, _, _, urls), = reports(db)
    assert version == 1 and urls == sorted([original, repost])
    assert db.execute("SELECT publisher FROM reports").fetchone()[0] == "朱溪镇"


def test_withdrawn_page_keeps_the_report_and_marks_it(db):
    url = f"{HOST}/art/2024/8/5/art_1229311252_3942862.html"
    store(db, stage(db, url), fields())
    page = stage(db, url, status=404)
    with db.transaction(), db.cursor() as cur:
        seq = SeqAllocator(cur)
        assert mark_withdrawn(cur, seq, page) is not None
        seq.save()
    (_, _, _, _, _, withdrawn, _), = reports(db)
    assert withdrawn
    # Back again with the same text: restored, not a new version.
    assert store(db, stage(db, url), fields()) == "restored"
    assert reports(db)[0][5] is False and reports(db)[0][2] == 1


def test_awkward_text_round_trips_exactly(db):
    nasty = "标题'; DROP TABLE reports; --\\ \"引号\" 100% 龙之梦·六春湖 喆堃昇镕 \t tab"
    url = f"{HOST}/art/2024/8/5/art_1229311252_1.html"
    store(db, stage(db, url), fields(body=nasty, title=nasty))
    title, body = db.execute("SELECT title, body FROM reports").fetchone()
    assert title == nasty and body == nasty


def test_concurrent_writers_get_seqs_in_commit_order(database_url):
    """Two transactions allocating seqs: the second waits for the first, so seq order = commit order."""
    from gongkai.db import connect

    first = connect(database_url)
    second = connect(database_url)
    order: list[int] = []
    with first.transaction(), first.cursor() as cur:
        seq = SeqAllocator(cur)
        a = seq.next()
        seq.save()

        def other() -> None:
            with second.transaction(), second.cursor() as cur2:
                s2 = SeqAllocator(cur2)  # blocks until `first` commits
                order.append(s2.next())
                s2.save()

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive(), "the second writer must wait for the first one's commit"
        order.append(a)
    thread.join(timeout=10)
    assert order == [1, 2]
    first.close()
    second.close()


def test_attachment_only_reports_of_two_towns_are_two_reports_and_a_repost_is_found(db):
    """No body to compare (the report is its file): the title tells them apart, and finds the repost."""
    def only_file(title: str, name: str) -> ArticleFields:
        return ArticleFields(title=title, body="", published_date="2025-01-10",
                             attachments=[Attachment(name, f"{HOST}/module/download/downfile.jsp?filename={name}")])

    zhuxi, xiage = f"{HOST}/art/2025/1/10/art_1229311252_1.html", f"{HOST}/art/2025/1/10/art_1229311252_2.html"
    assert store(db, stage(db, zhuxi), only_file("朱溪镇2024年工作总结", "zx.pdf")) == "new"
    assert store(db, stage(db, xiage), only_file("下各镇2024年工作总结", "xg.pdf")) == "new"
    repost = f"{HOST}/art/2025/1/12/art_1229300001_3.html"
    assert store(db, stage(db, repost), only_file("朱溪镇2024年工作总结", "zx-copy.pdf")) == "repost"
    assert [(r[3], r[6]) for r in reports(db)] == [("朱溪镇2024年工作总结", sorted([zhuxi, repost])),
                                                   ("下各镇2024年工作总结", [xiage])]


def test_a_soft_404_is_gone_only_after_another_in_a_row(db):
    """confirm_soft_404s: the page before this one of the same URL decides, in the same batch or an earlier one."""
    from gongkai.ingest.run import ingest_batch
    from gongkai_replica.articles import render_not_found

    soft = render_not_found(None).encode("utf-8")
    article = (Path(__file__).parent / "fixtures" / "jcms" / "002_wuyi_liucheng.html").read_bytes()

    def put(url: str, body: bytes) -> None:
        db.execute("""INSERT INTO staged_pages (url, final_url, site, status, headers, body, body_sha256, fetched_at)
                      VALUES (%s, %s, 'zjxj', 200, '{"Content-Type": ["text/html; charset=UTF-8"]}', %s, %s, now())""",
                   (url, url, body, hashlib.sha256(body).digest()))

    twice, broken = f"{HOST}/art/2024/1/1/art_1_1.html", f"{HOST}/art/2024/1/1/art_1_2.html"
    put(twice, soft)
    put(twice, soft)  # both in one batch
    put(broken, soft)
    put(broken, article)  # an article between two soft 404s: the second is a first again
    put(broken, soft)
    ingest_batch(db)
    notes = db.execute("SELECT url, ingest_note FROM staged_pages ORDER BY id").fetchall()
    # `twice` never had a report: its page is gone, nothing is withdrawn (the ingest line says "gone").
    assert [n for _, n in notes] == ["refetch: a 'page not found' page answered with status 200", "gone",
                                     "refetch: a 'page not found' page answered with status 200", "new",
                                     "refetch: a 'page not found' page answered with status 200"]
    put(broken, soft)  # a later batch: the page before it (in the table) was a soft 404
    ingest_batch(db)
    assert db.execute("SELECT ingest_note FROM staged_pages ORDER BY id DESC LIMIT 1").fetchone() == ("withdrawn",)
    assert db.execute("SELECT withdrawn_at IS NOT NULL FROM reports r JOIN report_urls u ON u.report_id = r.id "
                      "WHERE u.url = %s", (broken,)).fetchone() == (True,)


def test_only_a_urls_latest_fetch_sets_its_crawl_state(db):
    """Ingest behind the crawl (--no-ingest, a separate ingest role): a batch holding a second soft 404 and,
    after it, the article again must leave the URL fetched, not gone (never refetched again)."""
    from gongkai.ingest.run import ingest_batch
    from gongkai_replica.articles import render_not_found

    soft = render_not_found(None).encode("utf-8")
    article = (Path(__file__).parent / "fixtures" / "jcms" / "001_qujiang_dazhou.html").read_bytes()
    url = f"{HOST}/art/2024/1/1/art_1_9.html"

    def put(body: bytes) -> None:
        db.execute("""INSERT INTO crawl_urls (url, site, state) VALUES (%s, 'zjxj', 'fetched')
                      ON CONFLICT (url) DO UPDATE SET state = 'fetched'""", (url,))
        db.execute("""INSERT INTO staged_pages (url, final_url, site, status, headers, body, body_sha256, fetched_at)
                      VALUES (%s, %s, 'zjxj', 200, '{"Content-Type": ["text/html; charset=UTF-8"]}', %s, %s, now())""",
                   (url, url, body, hashlib.sha256(body).digest()))

    put(article)
    ingest_batch(db)
    put(soft)
    ingest_batch(db)
    assert db.execute("SELECT state FROM crawl_urls WHERE url = %s", (url,)).fetchone() == ("failed",)
    put(soft)
    put(article)
    ingest_batch(db)
    assert db.execute("SELECT state FROM crawl_urls WHERE url = %s", (url,)).fetchone() == ("fetched",)
    assert db.execute("SELECT withdrawn_at FROM reports").fetchall() == [(None,)]
