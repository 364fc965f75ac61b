"""Parquet export (gongkai/app/parquet_export.py): the export rows with their real types, streamed in
row groups, to a file or a pipe, with memory that does not grow with the number of reports."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from gongkai.app.export import EXPORT_FIELDS, iter_reports
from gongkai.app.parquet_export import SCHEMA, write_parquet
from tests.web_helpers import add_report, add_sites

ROOT = Path(__file__).resolve().parent.parent


def test_columns_are_typed_and_rows_are_the_export_rows(database_url):
    with psycopg.connect(database_url) as conn:
        add_sites(conn)
        first = add_report(conn, "朱溪镇2024年上半年工作总结", "全镇增长6.5%。\n第二段。", publisher="朱溪镇",
                           attachments=[{"name": "总结.docx", "url": "http://zhuxi.gov.cn/a.docx"}],
                           metadata={"索引号": "11331024734494628R/2024-129893", "组配分类": "计划总结"})
        add_report(conn, "湖山乡2023年工作总结", "正文。", site="hujiang", published=None, withdrawn=True)
        since = conn.execute("SELECT seq FROM reports WHERE id = %s", (first,)).fetchone()[0]
        add_report(conn, "柳城畲族镇2023年工作总结", "正文三。", site="liucheng", published="2023-12-28")
        out = io.BytesIO()
        assert write_parquet(iter_reports(conn), out, row_group_rows=2) == 3
        expected = list(iter_reports(conn))
        later = io.BytesIO()
        assert write_parquet(iter_reports(conn, since=since), later) == 2

    parquet = pq.ParquetFile(io.BytesIO(out.getvalue()))
    assert parquet.schema_arrow.equals(SCHEMA, check_metadata=False)
    assert parquet.schema_arrow.names == EXPORT_FIELDS
    assert parquet.metadata.num_row_groups == 2
    table = parquet.read()
    assert table.schema.field("published_date").type == pa.date32()
    assert table.schema.field("updated_at").type == pa.timestamp("us", tz="UTC")
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == [r["id"] for r in expected]
    one = rows[0]
    assert one["published_date"] == dt.date(2024, 8, 5) and one["written_date"] is None
    assert one["attachments"] == [{"name": "总结.docx", "url": "http://zhuxi.gov.cn/a.docx"}]
    assert dict(one["metadata"]) == {"索引号": "11331024734494628R/2024-129893", "组配分类": "计划总结"}
    assert one["urls"] == [one["url"]] and one["body"] == "全镇增长6.5%。\n第二段。"
    assert rows[1]["published_date"] is None and rows[1]["withdrawn_at"] is not None
    # Every value is the one the JSON lines export gives, typed.
    for got, want in zip(rows, expected, strict=True):
        for key, value in want.items():
            value_here = got[key]
            if isinstance(value_here, dt.datetime):
                assert value_here == dt.datetime.fromisoformat(value), key
            elif isinstance(value_here, dt.date):
                assert value_here.isoformat() == value, key
            elif key == "metadata":
                assert dict(value_here) == value
            else:
                assert value_here == value, key
    assert [r["title"] for r in pq.read_table(io.BytesIO(later.getvalue())).to_pylist()] == [
        "湖山乡2023年工作总结", "柳城畲族镇2023年工作总结"]


def test_an_empty_export_is_a_valid_file():
    out = io.BytesIO()
    assert write_parquet(iter([]), out) == 0
    table = pq.read_table(io.BytesIO(out.getvalue()))
    assert table.num_rows == 0 and table.schema.equals(SCHEMA, check_metadata=False)


_STREAM = r"""
import resource, sys
from gongkai.app.parquet_export import write_parquet
n = int(sys.argv[1])
body = ("朱溪镇坚持以党建为引领，全年地区生产总值增长6.5%，乡村振兴示范带建设有序推进。" * 40)
def rows():
    for i in range(n):
        yield {"id": i, "seq": i, "url": f"http://a/{i}", "urls": [f"http://a/{i}"], "site": "zhuxi",
               "title": f"朱溪镇{i}年工作总结", "body": body + str(i), "version": 1,
               "attachments": [{"name": f"{i}.docx", "url": f"http://a/{i}.docx"}], "metadata": {"索引号": str(i)},
               "published_date": "2024-08-05", "first_seen_at": "2024-08-05T01:02:03+00:00",
               "updated_at": "2024-08-05T01:02:03+00:00", "withdrawn_at": None}
written = write_parquet(rows(), sys.stdout.buffer)
print(written, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def _stream(n: int) -> tuple[int, int, bytes]:
    result = subprocess.run([sys.executable, "-c", _STREAM, str(n)], capture_output=True, cwd=ROOT, timeout=600,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    written, maxrss_kb = (int(x) for x in result.stderr.decode().split())
    return written, maxrss_kb, result.stdout


def test_streams_to_a_pipe_with_flat_memory():
    """100,000 reports (~3 KB of text each) through a pipe: the peak memory is that of 30,000 (a few row groups each)."""
    small_n, small_rss, _ = _stream(30_000)
    big_n, big_rss, data = _stream(100_000)
    assert (small_n, big_n) == (30_000, 100_000)
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.metadata.num_rows == 100_000 and parquet.metadata.num_row_groups >= 10
    assert big_rss < small_rss * 1.25 + 20_000, json.dumps({"10k_kb": small_rss, "100k_kb": big_rss})
