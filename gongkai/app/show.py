"""`gongkai show ID|URL`: one stored report in the terminal: metadata, body, attachments, every URL it was
found at and its earlier versions. Read-only."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import psycopg
from psycopg.rows import dict_row

from gongkai.db import open_database
from gongkai.errors import UserError

_REPORT = """SELECT id, seq, url, site, title, index_no, publisher, doc_no, written_date, published_date, category,
                    body, attachments, metadata, version, first_seen_at, updated_at, withdrawn_at, period_year,
                    period_half, kinds, province, city, county, town, extraction, body_source, cover_note,
                    attachment_text, files
             FROM public_reports WHERE {where}"""
_LABELS = (("title", "标题"), ("site", "site"), ("index_no", "索引号"), ("publisher", "发布机构"), ("doc_no", "文号"),
           ("written_date", "成文日期"), ("published_date", "发布日期"), ("category", "分类"),
           ("period_year", "period"), ("kinds", "kinds"), ("county", "county"), ("town", "town"),
           ("version", "version"), ("first_seen_at", "first seen"), ("updated_at", "updated"),
           ("withdrawn_at", "withdrawn"), ("extraction", "extraction"), ("body_source", "body from"))


def add_show_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("show", help="one stored report: metadata, body, attachments, URLs, versions",
                              description="Print one stored report, found by its id or by any URL it was "
                                          "found at.")
    p.add_argument("report", metavar="ID|URL")
    p.add_argument("--json", action="store_true", help="one JSON object (the report, its urls and versions)")


def show_command(args: argparse.Namespace) -> int:
    _, conn = open_database()
    with conn:
        conn.read_only = True
        report = find_report(conn, args.report)
        if report is None:
            raise UserError(f"no stored report {args.report!r} (give a report id or a URL it was found at)")
        urls = conn.execute("SELECT url, relation, first_seen_at FROM report_urls WHERE report_id = %s"
                            " ORDER BY first_seen_at, url", (report["id"],)).fetchall()
        versions = conn.execute("SELECT version, title, valid_from, valid_to, length(body) FROM report_versions"
                                " WHERE report_id = %s ORDER BY version", (report["id"],)).fetchall()
    if args.json:
        out = {**report, "urls": [{"url": u, "relation": r, "first_seen_at": f} for u, r, f in urls],
               "versions": [{"version": v, "title": t, "valid_from": a, "valid_to": b, "body_chars": n}
                            for v, t, a, b, n in versions]}
        print(json.dumps(out, ensure_ascii=False, indent=1, default=str))
        return 0
    sys.stdout.write(render_report(report, urls, versions))
    return 0


def find_report(conn: psycopg.Connection, key: str) -> dict[str, Any] | None:
    """By id, else by any URL the report was found at."""
    with conn.cursor(row_factory=dict_row) as cur:
        if key.strip().isdigit():
            return cur.execute(_REPORT.format(where="id = %s"), (int(key),)).fetchone()
        return cur.execute(_REPORT.format(where="id = (SELECT report_id FROM report_urls WHERE url = %s)"),
                           (key.strip(),)).fetchone()


def render_report(report: dict[str, Any], urls: list[tuple], versions: list[tuple]) -> str:
    lines = [f"report {report['id']} (seq {report['seq']})"]
    for key, label in _LABELS:
        value = report.get(key)
        if value not in (None, "", []):
            if key == "period_year" and report.get("period_half") not in (None, "year"):
                value = f"{value} {report['period_half']}"
            lines.append(f"  {label}: {', '.join(value) if isinstance(value, list) else value}")
    for label, value in (report.get("metadata") or {}).items():
        lines.append(f"  [{label}] {value}")
    files = {f.get("url"): f for f in report.get("files") or []}
    lines += [f"  附件: {a.get('name')} <{a.get('url')}>{file_summary(files.get(a.get('url')))}"
              for a in report.get("attachments") or []]
    lines += [f"  url ({relation}): {url}" for url, relation, _ in urls]
    lines += [f"  version {v}: {title} ({chars} chars, {start:%Y-%m-%d} to {end:%Y-%m-%d})"
              for v, title, start, end, chars in versions]
    text = "\n".join(lines) + "\n\n"
    if report.get("cover_note"):
        text += f"[cover note]\n{report['cover_note']}\n\n"
    text += (report.get("body") or "") + "\n"
    if report.get("attachment_text"):
        text += f"\n[attachment text]\n{report['attachment_text']}\n"
    return text


def file_summary(record: dict[str, Any] | None) -> str:
    """What was made of an attachment: its kind, size and how its text was used, or why it has none."""
    if not record:
        return ""
    parts = [p for p in (record.get("kind"), f"{record['size']:,} bytes" if record.get("size") else None) if p]
    if record.get("used"):
        parts.append(f"{record.get('chars', 0):,} chars, {'the body' if record['used'] == 'body' else 'beside'}")
    if record.get("ocr") and record.get("confidence") is not None:
        parts.append(f"OCR {record['confidence']:.2f}")
    if record.get("note"):
        parts.append(record["note"])
    return f" ({'; '.join(parts)})" if parts else ""
