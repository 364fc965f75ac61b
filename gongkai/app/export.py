"""Reports out, for consumers: JSON lines or CSV, ordered by change sequence, optionally after a seq."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any, TextIO

import psycopg
from psycopg.rows import dict_row

EXPORT_FIELDS = ["id", "seq", "url", "urls", "site", "title", "index_no", "publisher", "doc_no", "written_date",
                 "published_date", "category", "body", "attachments", "metadata", "version", "first_seen_at",
                 "updated_at", "withdrawn_at", "period_year", "period_half", "kinds", "province", "city", "county",
                 "town", "extraction", "body_source", "cover_note", "attachment_text", "files"]
# Every column of the public view, the stable consumer interface (README "Schema").
_QUERY = f"SELECT {', '.join(EXPORT_FIELDS)} FROM public_reports WHERE seq > %s"
KINDS = ("总结", "计划", "思路")


@dataclass(frozen=True)
class ExportFilter:
    """Which reports an export writes: changed after `since`, and every filter given."""

    since: int = 0
    sites: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    kinds: tuple[str, ...] = ()
    counties: tuple[str, ...] = ()
    query: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        """SQL conditions (parameterised) after the seq one, and their parameters."""
        sql, params = "", [self.since]
        if self.sites:
            sql += " AND site = ANY(%s)"
            params.append(list(self.sites))
        if self.years:
            sql += " AND period_year = ANY(%s)"
            params.append(list(self.years))
        if self.kinds:
            sql += " AND kinds && %s::text[]"
            params.append(list(self.kinds))
        if self.counties:
            sql += " AND county = ANY(%s)"
            params.append(list(self.counties))
        if self.query:
            sql += (" AND (strpos(title, %s) > 0 OR strpos(body, %s) > 0 OR strpos(cover_note, %s) > 0"
                    " OR strpos(attachment_text, %s) > 0)")
            params += [self.query] * 4
        return sql, params


def export_command(args: argparse.Namespace) -> int:
    """`gongkai export`: reports changed after --since (and matching the filters) to stdout or --output, as
    JSON lines or CSV; the last seq written goes to stderr, so a consumer can resume with --since."""
    from gongkai.db import open_database

    selection = ExportFilter(since=args.since, sites=tuple(args.sites or ()), years=tuple(args.years or ()),
                             kinds=tuple(args.kinds or ()), counties=tuple(args.counties or ()), query=args.query)
    from gongkai.errors import UserError

    binary = args.format == "parquet"
    try:
        if args.output:
            out = open(args.output, "wb") if binary else open(args.output, "w", encoding="utf-8", newline="")
        else:
            out = sys.stdout.buffer if binary else sys.stdout
    except OSError as exc:
        raise UserError(f"--output {args.output}: {exc.strerror}") from None
    _, conn = open_database()
    try:
        with conn, closing(iter_reports(conn, selection)) as reports:
            # closing(): a reader that goes away (`| head`) ends the cursor's transaction before the
            # connection closes, not after (psycopg then warns of a rollback inside a transaction block).
            rows = _counting(reports)
            if binary:
                from gongkai.app.parquet_export import write_parquet

                write_parquet(rows, out)
            elif args.format == "csv":
                write_csv(rows, out, bom=not args.no_bom)
            else:
                write_jsonl(rows, out)
            out.flush()
    finally:
        if args.output:
            out.close()
    where = f" to {args.output}" if args.output else ""
    if rows.last_seq is None:
        print(f"export: no reports{where} (none changed after seq {args.since} that match)", file=sys.stderr)
    else:
        print(f"export: {rows.count} reports{where}; last seq {rows.last_seq} (next time: --since {rows.last_seq})",
              file=sys.stderr)
    return 0


class _counting:
    """The rows passed through, counted, with the last seq seen (what the consumer resumes after)."""

    def __init__(self, rows: Iterator[dict[str, Any]]) -> None:
        self.rows, self.count, self.last_seq = rows, 0, None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in self.rows:
            self.count += 1
            self.last_seq = row["seq"]
            yield row


def iter_reports(conn: psycopg.Connection, selection: ExportFilter | None = None, *,
                 since: int = 0) -> Iterator[dict[str, Any]]:
    """Every report of the selection (default: every report changed after `since`), in seq order, streamed
    with a server-side cursor."""
    if selection is None:
        selection = ExportFilter(since=since)
    where, params = selection.where()
    with conn.transaction(), conn.cursor(name="gongkai_export", row_factory=dict_row) as cur:
        cur.itersize = 500
        cur.execute(_QUERY + where + " ORDER BY seq", params)
        for row in cur:
            yield {key: _jsonable(row[key]) for key in EXPORT_FIELDS}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def write_jsonl(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(rows: Iterable[dict[str, Any]], out: TextIO, bom: bool = True) -> int:
    """CSV for spreadsheets: list and object columns are JSON text; a UTF-8 byte order mark first, so Excel
    reads the Chinese as UTF-8 (without it Excel guesses the system code page)."""
    if bom:
        out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({key: json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value
                         for key, value in row.items()})
        count += 1
    return count
