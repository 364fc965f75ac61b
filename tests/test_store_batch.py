"""The batched store against real PostgreSQL: a batch gives exactly what storing its pages one transaction
at a time gives, pages of one batch dedup against each other, unchanged pages write nothing, and the
band index and migration 0004 keep every near-duplicate findable."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from gongkai.db import connect, migrate, migration_files
from gongkai.ingest.pages import StagedPage
from gongkai.ingest.similarity import BANDS, MIN_SHARED_BANDS, band_hashes, shingles
from gongkai.ingest.store import (
    MIN_PROBE_SHARED,
    PROBE_BANDS,
    SeqAllocator,
    StoreItem,
    fingerprint,
    probe_bands,
    store_article,
    store_batch,
)
from gongkai.models import ArticleFields
from tests.conftest import _with_dbname
from tests.test_store import HOST, fields, reports, stage

COUNTY = "http://www.zjxj.gov.cn/art/2024/8/9/art_1229300001_39500{}.html"
BODY = "\n".join(f"第{i}项：完成投资{i * 37}万元，同比增长{i}.5%。推进朱溪水库下游防冲护岸工程建设。" for i in range(30))
OTHER = "\n".join(f"一是推进第{i}批项目建设，完成投资{i * 11}万元，新建道路{i}公里。" for i in range(30))


def unrelated(n: int) -> str:
    """A body sharing nothing much with any other n."""
    rng = random.Random(n)
    words = ["推进", "完成", "投资", "道路", "水库", "护岸", "乡村", "振兴", "产业", "项目", "建设", "整治", "服务"]
    return "\n".join("".join(rng.choices(words, k=6)) + f"{rng.randrange(10**6)}万元。" for _ in range(20))


def art(n: int, col: int = 1229311252) -> str:
    return f"{HOST}/art/2024/8/5/art_{col}_{n}.html"


def repost_of(body: str, published: str = "2024-08-09", **kw) -> ArticleFields:
    """The county office's copy: a 转发 header, a 来源 line, its own 索引号 and publisher."""
    out = fields(body=f"转发朱溪镇工作总结\n{body}\n（来源：朱溪镇）", **kw)
    out.publisher, out.index_no, out.published_date = "仙居县人民政府办公室", "113310240026812345/2024-000001", published
    return out


def gone(conn: psycopg.Connection, url: str) -> tuple[StagedPage, None]:
    return stage(conn, url, status=404), None


# Every kind of outcome, several of them about pages earlier in the same list.
def scenario(conn: psycopg.Connection) -> list[tuple[StagedPage, ArticleFields | None]]:
    updated = fields(body=BODY + "\n第30项：全年完成投资1.2亿元。")
    early = fields(body=OTHER, title="朱溪镇2024年上半年工作总结（全文）")
    early.published_date = "2024-08-01"
    short_copy = fields(body="附件：朱溪镇2024年工作总结.docx")
    short_copy.publisher, short_copy.published_date = "仙居县人民政府办公室", "2024-08-09"
    return [
        (stage(conn, art(1)), fields(body=BODY)),                             # new
        (stage(conn, art(1, 1229311999)), fields(body=BODY)),                 # column: same jcms article
        (stage(conn, art(1)), updated),                                       # updated: version 2
        (stage(conn, COUNTY.format(1)), repost_of(updated.body)),             # repost (near duplicate)
        (stage(conn, COUNTY.format(2)), repost_of(OTHER, "2024-08-10")),      # new: a repost found first
        (stage(conn, art(2)), early),                                         # original: takes the report over
        (stage(conn, COUNTY.format(3)), fields(body=" " + OTHER.replace("\n", "\n "))),  # repost (body hash)
        gone(conn, art(1)),                                                   # withdrawn
        (stage(conn, art(1, 1229311999)), updated),                           # restored
        (stage(conn, art(3)), fields(body=BODY, title="朱溪镇2023年上半年工作总结")),  # new: another period
        (stage(conn, art(4)), fields(body="附件：朱溪镇2024年工作总结.docx")),  # new: too short for LSH bands
        (stage(conn, COUNTY.format(4)), short_copy),                          # repost: by exact body only
        gone(conn, art(99)),                                                  # withdrawn: no report there
        (stage(conn, art(3)), fields(body=BODY, title="朱溪镇2023年上半年工作总结")),  # unchanged
        (stage(conn, art(2)), early),                                         # unchanged
    ]


EXPECTED = ["new", "column", "updated", "repost", "new", "original", "repost", "withdrawn", "restored", "new",
            "new", "repost", "withdrawn", "unchanged", "unchanged"]


def snapshot(conn: psycopg.Connection) -> dict[str, list]:
    """Everything the store wrote, minus wall-clock times."""
    return {
        "reports": conn.execute(
            """SELECT id, seq, url, site, article_key, source_page_id, title, index_no, publisher, doc_no,
                      written_date, published_date, category, body, attachments, metadata, period_year,
                      period_half, kinds, body_hash, content_hash, version, withdrawn_at, bands
               FROM reports ORDER BY id""").fetchall(),
        "urls": conn.execute("SELECT url, report_id, relation FROM report_urls ORDER BY url").fetchall(),
        "versions": conn.execute("SELECT report_id, version, title, body, fields FROM report_versions"
                                 " ORDER BY report_id, version").fetchall(),
        "bands": conn.execute("SELECT report_id, band_hash FROM report_bands ORDER BY 1, 2").fetchall(),
        "feed": conn.execute("SELECT seq FROM feed_counter").fetchall(),
    }


def store_in_batches(conn: psycopg.Connection, pages: list, size: int) -> list[tuple[str, int | None]]:
    out = []
    for start in range(0, len(pages), size):
        with conn.transaction(), conn.cursor() as cur:
            out += store_batch(cur, [StoreItem(page, f) for page, f in pages[start:start + size]]).outcomes
    return out


@pytest.fixture
def three_dbs(admin_url: str) -> Iterator[list[psycopg.Connection]]:
    names = [f"gongkai_test_{uuid.uuid4().hex[:12]}" for _ in range(3)]
    conns = []
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        for name in names:
            conns.append(connect(_with_dbname(admin_url, name)))
            migrate(conns[-1])
        yield conns
    finally:
        for conn in conns:
            conn.close()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_batch_stores_exactly_what_one_page_at_a_time_stores(three_dbs):
    one_by_one, whole, in_fours = three_dbs
    outcomes = []
    for conn in three_dbs:
        pages = scenario(conn)
        conn.commit()
        if conn is one_by_one:
            got = []
            for page, f in pages:
                with conn.transaction(), conn.cursor() as cur:
                    seq = SeqAllocator(cur)
                    got.append(store_batch(cur, [StoreItem(page, f)], seq).outcomes[0])
                    seq.save()
        else:
            got = store_in_batches(conn, pages, len(pages) if conn is whole else 4)
        outcomes.append(got)
    assert [what for what, _ in outcomes[0]] == EXPECTED
    assert outcomes[1] == outcomes[0] and outcomes[2] == outcomes[0]
    expected = snapshot(one_by_one)
    assert snapshot(whole) == expected
    assert snapshot(in_fours) == expected
    # And what that is: 4 reports; the one first found at a repost now has the original's URL and fields.
    assert len(reports(whole)) == 4
    relations = dict(whole.execute("SELECT url, relation FROM report_urls").fetchall())
    assert relations[art(2)] == "primary" and relations[COUNTY.format(2)] == "repost"
    assert relations[COUNTY.format(1)] == "repost" and relations[art(1, 1229311999)] == "column"
    assert whole.execute("SELECT url, publisher FROM reports WHERE id = %s", (outcomes[1][5][1],)).fetchone() == (
        art(2), "朱溪镇")


def test_near_duplicates_within_one_batch_become_one_report(db):
    pages = [(stage(db, COUNTY.format(n)), repost_of(BODY, f"2024-08-1{n}")) for n in range(3)]
    pages.append((stage(db, art(7)), fields(body=BODY)))  # the town's original, published 2024-08-05
    db.commit()
    got = store_in_batches(db, pages, len(pages))
    assert [what for what, _ in got] == ["new", "repost", "repost", "original"]
    assert len({report_id for _, report_id in got}) == 1
    (_, _, version, _, body, _, urls), = reports(db)
    assert body == BODY and version == 2 and len(urls) == 4


def test_a_report_rewritten_twice_in_one_batch_is_indexed_under_its_last_body(db):
    """Band index rows are written once per batch, off each report's final text: none of an intermediate
    version's rows stay behind to make it a candidate for pages that share only that text."""
    first = [(stage(db, art(1)), fields(body=BODY))]
    db.commit()
    store_in_batches(db, first, 1)
    texts = [OTHER, unrelated(1)]
    again = [(stage(db, art(1)), fields(body=text)) for text in texts]  # an existing report, two new versions
    again += [(stage(db, art(2)), fields(body=text)) for text in (BODY, unrelated(2))]  # a new one, and a version
    db.commit()
    assert [what for what, _ in store_in_batches(db, again, len(again))] == ["updated", "updated", "new", "updated"]
    rows = db.execute("SELECT r.url, array_agg(b.band_hash) FROM report_bands b JOIN reports r ON r.id = b.report_id"
                      " GROUP BY r.url").fetchall()
    assert {url: set(bands) for url, bands in rows} == {
        art(1): set(probe_bands(band_hashes(shingles(unrelated(1))))),
        art(2): set(probe_bands(band_hashes(shingles(unrelated(2))))),
    }


def test_urls_and_fields_with_array_syntax_in_them_are_found_again(db):
    """The lookups send their arrays as literals: quotes, backslashes, braces, commas, blanks and the word
    NULL in a URL must come back as the same URL, so a re-ingest finds every page's report."""
    odd = ['"quoted"', "back\\slash", "{braces}", "a,b", "sp ace", "NULL", "", "引号“中文”"]
    urls = [f"{HOST}/info/{n}/{part}.html" for n, part in enumerate(odd)]
    urls.append(art(9))  # and a jcms article id beside them
    first = [(stage(db, url), fields(body=unrelated(n), title=f"朱溪镇{part}2024年工作总结"))
             for n, (url, part) in enumerate(zip(urls, [*odd, "x"], strict=True))]
    first[0][1].metadata = {"索引号": 'a"b\\c{d}', "NULL": None}
    db.commit()
    assert [what for what, _ in store_in_batches(db, first, len(first))] == ["new"] * len(urls)
    assert sorted(url for (url,) in db.execute("SELECT url FROM report_urls")) == sorted(urls)
    again = [(stage(db, page.url), f) for page, f in first]
    db.commit()
    assert [what for what, _ in store_in_batches(db, again, len(again))] == ["unchanged"] * len(urls)
    assert db.execute("SELECT metadata FROM reports WHERE url = %s", (urls[0],)).fetchone()[0] == first[0][1].metadata


def test_unchanged_pages_write_nothing(db):
    pages = [(stage(db, art(n)), fields(body=unrelated(n))) for n in range(5)]
    db.commit()
    store_in_batches(db, pages, 5)
    before = snapshot(db)
    tuples = db.execute("SELECT id, xmin::text FROM reports ORDER BY id").fetchall()
    again = [(stage(db, page.url), f) for page, f in pages]
    db.commit()
    with db.transaction(), db.cursor() as cur:
        result = store_batch(cur, [StoreItem(page, f) for page, f in again])
    assert [what for what, _ in result.outcomes] == ["unchanged"] * 5 and result.last_seq is None
    assert snapshot(db) == before
    assert db.execute("SELECT id, xmin::text FROM reports ORDER BY id").fetchall() == tuples  # not even rewritten


def test_a_batch_hands_out_consecutive_seqs_in_page_order(db):
    db.execute("UPDATE feed_counter SET seq = 41")
    pages = [(stage(db, art(n)), fields(body=unrelated(n))) for n in range(4)]
    db.commit()
    with db.transaction(), db.cursor() as cur:
        result = store_batch(cur, [StoreItem(page, f) for page, f in pages])
    assert result.last_seq == 45
    seqs = db.execute("SELECT url, seq FROM reports ORDER BY seq").fetchall()
    assert seqs == [(art(n), 42 + n) for n in range(4)]
    assert db.execute("SELECT seq FROM feed_counter").fetchone()[0] == 45


def test_store_article_still_works_one_page_at_a_time(db):
    with db.transaction(), db.cursor() as cur:
        seq = SeqAllocator(cur)
        assert store_article(cur, seq, stage(db, art(1)), fields(body=BODY))[0] == "new"
        assert store_article(cur, seq, stage(db, COUNTY.format(1)), repost_of(BODY))[0] == "repost"
        seq.save()
    assert len(reports(db)) == 1


def test_probe_bands_find_every_report_sharing_enough_bands():
    """Pigeonhole: sharing MIN_SHARED_BANDS of BANDS bands means sharing MIN_PROBE_SHARED of the first
    PROBE_BANDS; and the bound is tight (a report sharing exactly that many is still found)."""
    rng = random.Random(7)
    for _ in range(2000):
        page = [rng.getrandbits(63) for _ in range(BANDS)]
        shared = set(rng.sample(range(BANDS), MIN_SHARED_BANDS))
        other = [band if i in shared else rng.getrandbits(63) for i, band in enumerate(page)]
        found = len(set(probe_bands(page)) & set(probe_bands(other)))  # indexed from now on: first 20 bands
        assert found >= MIN_PROBE_SHARED
        assert len(set(probe_bands(page)) & set(other)) >= MIN_PROBE_SHARED  # indexed before 0004: all 32
    # The worst case: every band past the first PROBE_BANDS shared, the rest of MIN_SHARED_BANDS among them.
    page = [rng.getrandbits(63) for _ in range(BANDS)]
    shared = set(range(PROBE_BANDS, BANDS)) | set(range(MIN_SHARED_BANDS - (BANDS - PROBE_BANDS)))
    other = [band if i in shared else rng.getrandbits(63) for i, band in enumerate(page)]
    assert len(shared) == MIN_SHARED_BANDS
    assert len(set(probe_bands(page)) & set(probe_bands(other))) == MIN_PROBE_SHARED  # found, just
    assert MIN_PROBE_SHARED == MIN_SHARED_BANDS - (BANDS - PROBE_BANDS) == 4
    assert probe_bands([]) == []


def test_body_column_is_lz4_compressed(db):
    supported = db.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
                           ).fetchone()[0]
    if not supported:
        pytest.skip("this PostgreSQL was built without lz4")
    compression = dict(db.execute(
        """SELECT c.relname, a.attcompression FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           WHERE c.relname IN ('reports', 'report_versions') AND a.attname = 'body'""").fetchall())
    assert compression == {"reports": "l", "report_versions": "l"}


@contextlib.contextmanager
def _database_before(admin_url: str, version: int) -> Iterator[psycopg.Connection]:
    """A new database with gongkai's migrations below `version` applied, as an older gongkai left it."""
    name = f"gongkai_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with connect(_with_dbname(admin_url, name)) as conn:
            conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                         " applied_at timestamptz NOT NULL DEFAULT now())")
            for number, file_name, sql in migration_files():
                if number < version:
                    conn.execute(sql.encode("utf-8"))
                    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (number, file_name))
            yield conn
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migration_keeps_reports_stored_before_it_findable(admin_url):
    """A report written with the old schema (32 band rows, no bands column) is still found as the original
    of a repost after migration 0004."""
    with _database_before(admin_url, 4) as conn:
        page = stage(conn, art(1))
        old = fingerprint(fields(body=BODY))
        report_id = conn.execute(
            """INSERT INTO reports (seq, url, site, title, body, body_hash, content_hash, published_date,
                                    source_page_id, period_year, period_half)
               VALUES (1, %s, 'zjxj', '朱溪镇2024年上半年工作总结', %s, %s, %s, '2024-08-05', %s, 2024, 'H1')
               RETURNING id""", (art(1), BODY, old.body_hash, old.content_hash, page.id)).fetchone()[0]
        conn.execute("INSERT INTO report_urls (url, report_id) VALUES (%s, %s)", (art(1), report_id))
        conn.execute("INSERT INTO report_bands (report_id, band_hash) SELECT %s, unnest(%s::bigint[])",
                     (report_id, sorted(set(old.bands))))
        conn.execute("UPDATE feed_counter SET seq = 1")
        conn.commit()
        assert "0004_store_batch.sql" in migrate(conn)
        assert sorted(conn.execute("SELECT bands FROM reports").fetchone()[0]) == sorted(set(old.bands))
        repost = stage(conn, COUNTY.format(1))
        conn.commit()
        with conn.transaction(), conn.cursor() as cur:
            assert store_batch(cur, [StoreItem(repost, repost_of(BODY))]).outcomes == [("repost", report_id)]
        # A new version replaces the legacy band rows with the first PROBE_BANDS of its own.
        with conn.transaction(), conn.cursor() as cur:
            what, _ = store_batch(cur, [StoreItem(stage(conn, art(1)), fields(body=OTHER))]).outcomes[0]
        assert what == "updated"
        rows = {band for (band,) in conn.execute("SELECT band_hash FROM report_bands WHERE report_id = %s",
                                                  (report_id,))}
        assert rows == set(probe_bands(band_hashes(shingles(OTHER))))


def test_two_writers_with_the_same_new_article_make_one_report(database_url):
    """The second batch waits for the first one's feed lock and then finds its report by URL."""
    import threading

    first, second = connect(database_url), connect(database_url)
    try:
        page_a, page_b = stage(first, art(5)), stage(first, art(5, 1229311999))
        first.commit()
        results: list = []
        with first.transaction(), first.cursor() as cur:
            results.append(store_batch(cur, [StoreItem(page_a, fields(body=BODY))]).outcomes[0][0])

            def other() -> None:
                with second.transaction(), second.cursor() as cur2:
                    results.append(store_batch(cur2, [StoreItem(page_b, fields(body=BODY))]).outcomes[0][0])

            thread = threading.Thread(target=other)
            thread.start()
            thread.join(timeout=0.5)
            assert thread.is_alive(), "the second batch must wait for the first one's commit"
        thread.join(timeout=10)
        assert results == ["new", "column"]
        assert first.execute("SELECT count(*) FROM reports").fetchone()[0] == 1
    finally:
        first.close()
        second.close()


def test_fetched_at_of_a_withdrawal_is_kept(db):
    page = stage(db, art(1))
    with db.transaction(), db.cursor() as cur:
        store_batch(cur, [StoreItem(page, fields(body=BODY))])
    missing = stage(db, art(1), status=404)
    missing.fetched_at = dt.datetime(2024, 9, 1, tzinfo=dt.UTC)
    with db.transaction(), db.cursor() as cur:
        assert store_batch(cur, [StoreItem(missing)]).outcomes[0][0] == "withdrawn"
    assert db.execute("SELECT withdrawn_at FROM reports").fetchone()[0] == missing.fetched_at


def test_migration_0006_indexes_reports_written_with_17_band_rows(admin_url):
    """A report stored under schema 5 (band rows for its first 17 bands only) gets rows for bands 18-20, so
    a repost sharing just enough bands with it is still found under MIN_PROBE_SHARED of its probes."""
    with _database_before(admin_url, 6) as conn:
        page = stage(conn, art(1))
        old = fingerprint(fields(body=BODY))
        report_id = conn.execute(
            """INSERT INTO reports (seq, url, site, title, body, body_hash, content_hash, published_date,
                                    source_page_id, period_year, period_half, bands)
               VALUES (1, %s, 'zjxj', '朱溪镇2024年上半年工作总结', %s, %s, %s, '2024-08-05', %s, 2024, 'H1', %s)
               RETURNING id""",
            (art(1), BODY, old.body_hash, old.content_hash, page.id, old.bands)).fetchone()[0]
        conn.execute("INSERT INTO report_urls (url, report_id) VALUES (%s, %s)", (art(1), report_id))
        conn.execute("INSERT INTO report_bands (report_id, band_hash) SELECT %s, unnest(%s::bigint[])",
                     (report_id, list(dict.fromkeys(old.bands[:17]))))
        conn.execute("UPDATE feed_counter SET seq = 1")
        conn.commit()
        assert "0006_probe_bands.sql" in migrate(conn)
        rows = {band for (band,) in conn.execute("SELECT band_hash FROM report_bands")}
        assert rows == set(probe_bands(old.bands))
        repost = stage(conn, COUNTY.format(1))
        conn.commit()
        with conn.transaction(), conn.cursor() as cur:
            assert store_batch(cur, [StoreItem(repost, repost_of(BODY))]).outcomes == [("repost", report_id)]
