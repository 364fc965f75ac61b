"""A refetch that comes back garbled, and bytes that are no text at all.

A clean report's page refetched through a broken front end (a GBK page whose bytes a proxy took for Latin-1
and sent as UTF-8; a UTF-8 page whose bytes were taken for GBK and sent as GBK) must not become a new,
garbled version: the report stays, the fetch is a failed one (the next crawl fetches it again) and the
ingest note says so. A page whose bytes are text in no encoding (all 0xFF labelled windows-1250, random
bytes, controls) is flagged by decode and never stored as a report body.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from urllib.parse import urlsplit

import psycopg
import pytest

from gongkai.ingest.decode import NOT_TEXT, decode_page, text_problem
from gongkai.ingest.pages import StagedPage, examine_page
from gongkai_replica import generic, trs
from gongkai_replica.server import ReplicaServer
from tests.test_cli import gongkai
from tests.test_platforms_e2e import export


@pytest.fixture
def replica():
    sites = [trs.build_site(), generic.build_site()]  # GBK (header without charset), UTF-8
    with ReplicaServer(sites) as server:
        yield server


def crawl(server: ReplicaServer, site: str, database_url: str, *flags: str) -> list[str]:
    """The article paths the crawl requested (and their statuses), listing pages and robots.txt left out."""
    server.clear_requests()
    result = gongkai("crawl", *server.listing_urls(site), "--delay", "0", *flags, database_url=database_url,
                     timeout=300)
    assert result.returncode == 0, result.stderr
    articles = {urlsplit(server.article_url(site, a, c.column_id)).path
                for c in server.site(site).columns for a in c.articles}
    return [f"{r.path} {r.status}" for r in server.requests if r.path in articles]


def latest_fetch(database_url: str, url: str) -> tuple[str, str, str]:
    with psycopg.connect(database_url) as conn:
        staged = conn.execute("SELECT ingest_state, ingest_note FROM staged_pages WHERE url = %s ORDER BY id DESC"
                              " LIMIT 1", (url,)).fetchone()
        state = conn.execute("SELECT state FROM crawl_urls WHERE url = %s", (url,)).fetchone()
    return staged[0], staged[1] or "", state[0]


@pytest.mark.parametrize(("site", "how", "problem"), [
    ("kaihua", "gbk_as_utf8", "mojibake"),  # 华埠镇 -> »ª²ºÕò
    ("dongyang", "utf8_as_gbk", "mojibake"),  # 计划总结 -> 璁″垝鎬荤粨
])
def test_a_garbled_refetch_keeps_the_clean_report_and_is_fetched_again(replica, database_url, site, how, problem):
    crawl(replica, site, database_url)
    column = replica.site(site).columns[0]
    article = column.articles[3]
    url = replica.article_url(site, article, column.column_id)
    path = urlsplit(url).path
    before = {r["id"]: r for r in export(database_url)}
    stored = next(r for r in before.values() if url in r["urls"])
    assert stored["extraction"] is None and stored["version"] == 1

    replica.site(site).options["garble"] = {path: how}
    revalidated = crawl(replica, site, database_url, "--revalidate")
    assert f"{path} 200" in revalidated  # garbled bytes: a new ETag, a whole answer
    assert {r["id"]: r for r in export(database_url)} == before  # no new version, nothing else touched
    state, note, frontier = latest_fetch(database_url, url)
    assert (state, frontier) == ("skipped", "failed")
    assert note.startswith(f"refetch: garbled refetch ({problem}") and note.endswith("the stored clean version is kept")

    del replica.site(site).options["garble"]  # the front end is mended
    again = crawl(replica, site, database_url)  # routine: the failed fetch is retried, nothing else
    assert again == [f"{path} 200"]
    assert latest_fetch(database_url, url)[0::2] == ("done", "fetched")
    assert {r["id"]: r for r in export(database_url)} == before


def test_a_garbled_first_fetch_is_stored_flagged(replica, database_url):
    """With no clean version to keep, the garbled page is all there is of the report: stored, and flagged."""
    column = replica.site("dongyang").columns[0]
    url = replica.article_url("dongyang", column.articles[3], column.column_id)
    replica.site("dongyang").options["garble"] = {urlsplit(url).path: "utf8_as_gbk"}
    crawl(replica, "dongyang", database_url)
    report = next(r for r in export(database_url) if url in r["urls"])
    assert "mojibake" in report["extraction"]


def test_bytes_that_are_no_text_are_never_a_report(replica, database_url):
    column = replica.site("dongyang").columns[0]
    url = replica.article_url("dongyang", column.articles[3], column.column_id)
    replica.site("dongyang").options["garble"] = {urlsplit(url).path: "0xff"}
    crawl(replica, "dongyang", database_url)
    assert not [r for r in export(database_url) if url in r["urls"]]
    state, note, frontier = latest_fetch(database_url, url)
    assert (state, frontier) == ("skipped", "failed") and note.startswith(f"refetch: {NOT_TEXT}")
    del replica.site("dongyang").options["garble"]
    assert crawl(replica, "dongyang", database_url) == [f"{urlsplit(url).path} 200"]
    assert next(r for r in export(database_url) if url in r["urls"])["extraction"] is None


_HEAD = '<html><head><meta http-equiv="Content-Type" content="text/html; charset={}"><title>{}</title></head><body>'


def _junk(seed: int, n: int) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(n))


@pytest.mark.parametrize(("body", "content_type"), [
    (b"\xff" * 4000, "text/html; charset=windows-1250"),  # cp1250 reads 0xFF as a dot accent: ˙˙˙˙
    (b"\xff" * 4000, None),
    (_HEAD.format("windows-1250", "x").encode() + b"\xff" * 4000, "text/html"),
    (_HEAD.format("utf-8", "x").encode() + b"\xff" * 4000, None),
    (_junk(1, 6000), None),
    (_junk(2, 6000), "text/html; charset=GBK"),
    (_HEAD.format("utf-8", "x").encode() + b"\x00\x01\x02\x03" * 1000, None),  # valid UTF-8, controls only
    (b"\xfe\xff" * 2000, None),  # a UTF-16 BOM, then BOMs
])
def test_bytes_no_encoding_reads_are_flagged_not_text(body, content_type):
    assert decode_page(body, content_type).problem.startswith(NOT_TEXT)
    page = StagedPage(id=1, url="http://h.gov.cn/art/2024/8/5/art_1_2.html", final_url="", site="s", status=200,
                      headers={"Content-Type": [content_type]} if content_type else {}, body=body,
                      fetched_at=datetime.now(UTC))
    outcome = examine_page(page)
    assert outcome.kind == "retry" and outcome.note.startswith(NOT_TEXT)


def test_text_problem_names_junk_and_leaves_real_text_alone():
    assert text_problem("\x00\x01\x02\x03\x04\x05\x06\x07\x08" * 3).startswith(NOT_TEXT)
    assert text_problem("\ufeff\x7f\x1b\x0e" * 4).startswith(NOT_TEXT)
    assert text_problem("\ue600 首页 \ue601 政务公开 \ue602 " * 4) is None  # icon-font glyphs are no junk
    assert text_problem("朱溪镇2024年上半年工作总结和下半年计划。一、主要工作完成情况。" * 20) is None
    assert text_problem("本鎮堅持以經濟建設為中心，推進鄉村振興，完成固定資產投資與財政收入目標。" * 20) is None  # 繁體
    assert text_problem("计划总结工作".encode().decode("gbk") * 20).startswith("mojibake")  # UTF-8 read as GBK
    # a few stray bytes in a long page are a flaw, not junk
    assert text_problem("2024年是新中国成立75周年，是深入实施“十四五”规划的重要之年。" * 40 + "\ufffd\x01") is None


def test_a_gbk_page_with_a_stray_byte_is_read_as_gbk():
    """Not as UTF-16 (charset-normalizer's guess once the declared GBK fails on the stray byte: it 'decodes'
    cleanly, into Hangul and rare ideographs), nor as UTF-8 full of U+FFFD."""
    text = _HEAD.format("gb2312", "华埠镇2024年工作总结") + "<p>华埠镇2024年上半年工作总结和下半年工作思路。</p>" * 40
    body = text.encode("gbk") + b"\xff"
    for content_type in ("text/html; charset=gbk", None):
        decoded = decode_page(body, content_type)
        assert decoded.encoding == "gb18030" and decoded.problem is None
        assert "华埠镇2024年上半年工作总结" in decoded.text
