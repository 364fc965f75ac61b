"""`gongkai export` as a consumer uses it: every public field, filters, the seq to resume from, CSV that
Excel reads as UTF-8, and a reader that goes away (`| head`) ending it quietly."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import psycopg
import pytest

from tests.test_cli import gongkai

REPORTS = [  # site, title, body, year, half, kinds
    ("xianju", "朱溪镇2023年工作总结和2024年工作计划", "一、2023年主要工作\n固定资产投资增长6.5%。", 2023, "year", ["总结", "计划"]),
    ("xianju", "埠头镇2024年上半年工作总结", "乡村振兴示范带建设完成。", 2024, "H1", ["总结"]),
    ("wuyi", "桃溪镇2024年工作思路", "谋划2024年工作。", 2024, "year", ["思路"]),
]


@pytest.fixture
def reports_db(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO sites (name, province, city, county) VALUES ('xianju', '浙江省', '台州市', '仙居县'),"
                     " ('wuyi', '浙江省', '金华市', '武义县')")
        for n, (site, title, body, year, half, kinds) in enumerate(REPORTS, 1):
            url = f"http://127.0.0.9/art/{n}.html"
            rid = conn.execute(
                "INSERT INTO reports (seq, url, site, title, body, body_hash, content_hash, period_year, period_half,"
                " kinds, publisher) VALUES (%s, %s, %s, %s, %s, '\\x00', '\\x00', %s, %s, %s, %s) RETURNING id",
                (n, url, site, title, body, year, half, kinds, title[:3])).fetchone()[0]
            conn.execute("INSERT INTO report_urls (url, report_id, relation) VALUES (%s, %s, 'primary')", (url, rid))
        conn.execute("UPDATE feed_counter SET seq = 3")
    return database_url


def _jsonl(*args: str, database_url: str) -> tuple[list[dict], str]:
    result = gongkai("export", *args, database_url=database_url)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def test_every_field_of_the_public_view_and_the_seq_to_resume_from(reports_db):
    rows, stderr = _jsonl(database_url=reports_db)
    assert [r["seq"] for r in rows] == [1, 2, 3]
    first = rows[0]
    assert first["period_year"] == 2023 and first["period_half"] == "year" and first["kinds"] == ["总结", "计划"]
    assert (first["province"], first["city"], first["county"]) == ("浙江省", "台州市", "仙居县")
    assert first["urls"] == ["http://127.0.0.9/art/1.html"] and "town" in first
    assert "last seq 3" in stderr and "--since 3" in stderr
    later, stderr = _jsonl("--since", "3", database_url=reports_db)
    assert later == [] and "no reports" in stderr


@pytest.mark.parametrize("args, titles", [
    (["--site", "wuyi"], ["桃溪镇2024年工作思路"]),
    (["--year", "2024", "--kind", "总结"], ["埠头镇2024年上半年工作总结"]),
    (["--kind", "计划", "--kind", "思路"], ["朱溪镇2023年工作总结和2024年工作计划", "桃溪镇2024年工作思路"]),
    (["--county", "仙居县"], ["朱溪镇2023年工作总结和2024年工作计划", "埠头镇2024年上半年工作总结"]),
    (["--query", "6.5%"], ["朱溪镇2023年工作总结和2024年工作计划"]),  # % is text, not a wildcard
    (["--query", "乡村振兴"], ["埠头镇2024年上半年工作总结"]),
    (["--query", "_"], []),
])
def test_filters(reports_db, args, titles):
    rows, _ = _jsonl(*args, database_url=reports_db)
    assert [r["title"] for r in rows] == titles


def test_csv_has_a_utf8_bom_for_excel_and_round_trips(reports_db, tmp_path):
    result = gongkai("export", "--format", "csv", database_url=reports_db)
    assert result.stdout.startswith("\ufeffid,seq,")
    rows = list(csv.DictReader(io.StringIO(result.stdout.removeprefix("\ufeff"))))
    assert [r["title"] for r in rows] == [r[1] for r in REPORTS] and json.loads(rows[0]["kinds"]) == ["总结", "计划"]
    plain = gongkai("export", "--format", "csv", "--no-bom", database_url=reports_db)
    assert plain.stdout.startswith("id,seq,")
    out = tmp_path / "reports.csv"
    written = gongkai("export", "--format", "csv", "--output", str(out), database_url=reports_db)
    assert written.stdout == "" and out.read_bytes().startswith(b"\xef\xbb\xbfid,") and str(out) in written.stderr


def test_a_reader_that_goes_away_ends_the_export_quietly(reports_db):
    with psycopg.connect(reports_db, autocommit=True) as conn:  # enough rows to outlast the pipe buffer
        conn.execute("INSERT INTO reports (seq, url, site, title, body, body_hash, content_hash)"
                     " SELECT 3 + n, 'http://127.0.0.9/more/' || n, 'xianju', 't' || n, repeat('工作', 2000),"
                     " '\\x00', '\\x00' FROM generate_series(1, 300) n")
    env = {**os.environ, "DATABASE_URL": reports_db}
    pipeline = subprocess.run(f"'{sys.executable}' -m gongkai export | head -1", shell=True, capture_output=True,
                              text=True, env=env, timeout=120, executable="/bin/bash")
    assert pipeline.stdout.count("\n") == 1 and json.loads(pipeline.stdout)["seq"] == 1
    assert pipeline.stderr == "", pipeline.stderr  # no traceback, no psycopg warning
