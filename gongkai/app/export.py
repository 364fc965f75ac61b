"""Reports out, for consumers: JSON lines or CSV, ordered by change sequence, optionally after a seq."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import psycopg
from psycopg.rows import dict_row

EXPORT_FIELDS = ["id", "seq", "url", "urls", "site", "title", "index_no", "publisher", "doc_no", "written_date",
                 "published_date", "category", "body", "attachments", "metadata", "version", "first_seen_at",
                 "updated_at", "withdrawn_at"]

_QUERY = """
SELECT r.id, r.seq, r.url,
       ARRAY(SELECT u.url FROM report_urls u WHERE u.report_id = r.id ORDER BY u.first_seen_at, u.url) AS urls,
       r.site, r.title, r.index_no, r.publisher, r.doc_no, r.written_date, r.published_date, r.category, r.body,
       r.attachments, r.metadata, r.version, r.first_seen_at, r.updated_at, r.withdrawn_at
FROM reports r
WHERE r.seq > %s
ORDER BY r.seq
"""


def export_command(args: argparse.Namespace) -> int:
    """`gongkai export`: every report changed after --since to stdout, as JSON lines or CSV."""
    from gongkai.db import open_database

    _, conn = open_database()
    with conn:
        rows = iter_reports(conn, since=args.since)
        writer = write_jsonl if args.format == "jsonl" else write_csv
        writer(rows, sys.stdout)
    return 0


def iter_reports(conn: psycopg.Connection, since: int = 0) -> Iterator[dict[str, Any]]:
    """Every report changed after `since`, in seq order, streamed with a server-side cursor."""
    with conn.transaction(), conn.cursor(name="gongkai_export", row_factory=dict_row) as cur:
        cur.itersize = 500
        cur.execute(_QUERY, (since,))
        for row in cur:
            yield {key: _jsonable(row[key]) for key in EXPORT_FIELDS}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def write_jsonl(rows: Iterator[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(rows: Iterator[dict[str, Any]], out: TextIO) -> int:
    """CSV for spreadsheets: list and object columns are JSON text."""
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({key: json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value
                         for key, value in row.items()})
        count += 1
    return count
