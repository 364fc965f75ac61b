"""Extraction alarms (gongkai.app.health): a site's latest reports lacking a field its history had, or its latest
article pages giving no article, are said by `gongkai status`; a site that never had the field is not."""

from __future__ import annotations

import hashlib
import uuid

import psycopg

from gongkai.app.health import NO_ARTICLE_NOTE, SiteExtraction, extraction_alarms, read_site_extraction
from gongkai.app.status import render_status


def add_report(conn: psycopg.Connection, site: str, n: int, *, index_no: str | None, body: str = "正文。",
               minutes_ago: int = 0) -> None:
    url = f"http://{site}.example.gov.cn/art/2024/1/1/art_1_{n}.html"
    digest = hashlib.sha256(url.encode()).digest()
    conn.execute(
        """INSERT INTO reports (seq, url, site, title, index_no, publisher, published_date, written_date, category,
                                body, body_hash, content_hash, updated_at)
           VALUES ((SELECT COALESCE(max(seq), 0) + 1 FROM reports), %s, %s, %s, %s, '某某镇', '2024-01-02',
                   '2024-01-01', '计划总结', %s, %s, %s, now() - make_interval(mins => %s))""",
        (url, site, f"某某镇{n}号工作总结", index_no, body, digest, digest, minutes_ago))


def stage(conn: psycopg.Connection, site: str, note: str, url: str | None = None) -> None:
    url = url or f"http://{site}.example.gov.cn/art/{uuid.uuid4().hex}.html"
    conn.execute(
        """INSERT INTO staged_pages (url, final_url, site, status, body, body_sha256, fetched_at, ingest_state,
                                     ingest_note)
           VALUES (%s, %s, %s, 200, '\\x00', '\\x00', now(), 'skipped', %s)""", (url, url, site, note))


def test_a_field_the_history_had_and_the_latest_reports_lack_is_an_alarm(db):
    for n in range(30):  # 20 earlier reports with a 索引号, then 10 without: the block moved
        add_report(db, "panan", n, index_no=f"001/2024-{n}" if n < 20 else None, minutes_ago=100 - n)
    for n in range(30):  # never had one: the site's template has no 索引号
        add_report(db, "taishun", n, index_no=None, minutes_ago=100 - n)
    for n in range(30):  # a few without, as happens
        add_report(db, "wuyi", n, index_no=None if n in (3, 25) else f"002/2024-{n}", minutes_ago=100 - n)
    for n in range(25):  # attachment-only reports (no body) say nothing of the page template
        add_report(db, "xianju", n, index_no=f"003/{n}" if n < 15 else None, body="" if n >= 15 else "正文。",
                   minutes_ago=100 - n)
    alarms = extraction_alarms(read_site_extraction(db))
    assert [(a.site, a.check) for a in alarms] == [("panan", "index_no")]
    assert alarms[0].message == "panan: 索引号 missing from 10 of its latest 10 reports (in 100% before)"
    text = render_status(db, ["panan", "taishun"])
    assert "extraction alarms" in text and "  panan: 索引号 missing from 10" in text
    assert "extraction alarms" not in render_status(db, ["taishun", "wuyi"])


def test_latest_pages_giving_no_article_are_an_alarm(db):
    for note in ["new"] * 6 + [NO_ARTICLE_NOTE] * 6:
        stage(db, "qujiang", note)
    for note in ["new"] * 8 + [NO_ARTICLE_NOTE] * 2 + ["skipped: not an HTML page: application/pdf"] * 5:
        stage(db, "xianju", note)
    for _ in range(8):  # one broken page, refetched by every crawl (it stays failed), beside 4 good ones
        stage(db, "wuyi", NO_ARTICLE_NOTE, url="http://wuyi.example.gov.cn/art/broken.html")
    for _ in range(4):
        stage(db, "wuyi", "new")
    for note in [NO_ARTICLE_NOTE] * 5 + ["files"] * 8:  # articles' files read with them are no article pages
        stage(db, "panan", note)
    alarms = extraction_alarms(read_site_extraction(db))
    assert [(a.site, a.check) for a in alarms] == [("panan", "no_article"), ("qujiang", "no_article")]
    assert "5 of its latest 5 article pages gave no title or body" in alarms[0].message
    assert "6 of its latest 10 article pages gave no title or body" in alarms[1].message


def test_too_little_history_is_no_alarm():
    young = SiteExtraction("new", recent=10, recent_present={"index_no": 0}, earlier=5,
                           earlier_present={"index_no": 5})
    assert extraction_alarms([young]) == []
    grown = SiteExtraction("new", recent=10, recent_present={"index_no": 4}, earlier=10,
                           earlier_present={"index_no": 9})
    assert [a.check for a in extraction_alarms([grown])] == ["index_no"]


def test_the_service_raises_an_alarm_once_and_clears_it(db, database_url, caplog):
    """After an ingest the service checks: a new alarm is logged once and its gauge is 1; when the latest
    reports have the field again (a fixed extractor, reingested) the gauge goes back to 0."""
    import logging
    from pathlib import Path

    from gongkai.app.serve import Service
    from gongkai.config import load_config

    for n in range(30):
        add_report(db, "panan", n, index_no=f"001/2024-{n}" if n < 20 else None, minutes_ago=100 - n)
    db.commit()
    service = Service(load_config(Path(__file__).parent.parent / "config" / "sites.yaml"), database_url)
    gauge = 'gongkai_extraction_alarm{check="index_no",site="panan"}'
    with caplog.at_level(logging.INFO, logger="gongkai.serve"):
        service.alarms.check()
        service.alarms.check()
        assert f"{gauge} 1.0" in service.metrics.render().decode()
        assert [r.getMessage() for r in caplog.records if "alarm" in r.getMessage()] == [
            "extraction alarm: panan: 索引号 missing from 10 of its latest 10 reports (in 100% before)"]
        db.execute("UPDATE reports SET index_no = 'fixed', updated_at = now() WHERE index_no IS NULL")
        db.commit()
        service.alarms.check()
    assert f"{gauge} 0.0" in service.metrics.render().decode()
    assert "extraction alarm cleared: panan (index_no)" in caplog.text
