"""Write article outcomes into reports: dedup, versions, withdrawals and the change sequence.

Every write happens while holding the feed_counter row lock, taken once per batch, so concurrent
ingest workers serialise here (extraction, the expensive part, runs before) and `seq` values
become visible in commit order: a consumer reading `seq > last` never skips a row.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict
from urllib.parse import urlsplit

import psycopg
from psycopg.types.json import Jsonb

from gongkai.ingest.pages import StagedPage
from gongkai.models import ArticleFields

_JCMS_ARTICLE = re.compile(r"/art_\d+_(\d+)\.html?$")
_WS = re.compile(r"\s+")


def article_key(url: str) -> str | None:
    """host + platform article id: jcms lists one article as art_<colA>_<id> and art_<colB>_<id>."""
    parts = urlsplit(url)
    match = _JCMS_ARTICLE.search(parts.path)
    if not match:
        return None
    return f"{(parts.hostname or '').lower()}/jcms/{match.group(1)}"


def body_hash(body: str) -> bytes:
    """Exact fingerprint of a body, blind to whitespace differences."""
    return hashlib.sha256(_WS.sub("", body).encode("utf-8")).digest()


def content_hash(fields: ArticleFields) -> bytes:
    return hashlib.sha256(json.dumps(asdict(fields), ensure_ascii=False, sort_keys=True).encode("utf-8")).digest()


class SeqAllocator:
    """Hands out change sequence numbers under the feed_counter row lock of this transaction."""

    def __init__(self, cur: psycopg.Cursor) -> None:
        self.cur = cur
        self.value = cur.execute("SELECT seq FROM feed_counter WHERE id FOR UPDATE").fetchone()[0]
        self.start = self.value

    def next(self) -> int:
        self.value += 1
        return self.value

    def save(self) -> None:
        if self.value != self.start:
            self.cur.execute("UPDATE feed_counter SET seq = %s WHERE id", (self.value,))


def _field_values(fields: ArticleFields) -> tuple:
    return (fields.title, fields.index_no, fields.publisher, fields.doc_no, fields.written_date,
            fields.published_date, fields.category, fields.body,
            Jsonb([asdict(a) for a in fields.attachments]), Jsonb(fields.metadata))


def store_article(cur: psycopg.Cursor, seq: SeqAllocator, page: StagedPage, fields: ArticleFields) -> tuple[str, int]:
    """Insert or update the report this page shows. Returns (what happened, report id)."""
    key = article_key(page.url)
    bhash = body_hash(fields.body)
    chash = content_hash(fields)
    report_id, matched_by = _find_report(cur, page.url, key, bhash)
    if report_id is None:
        report_id = cur.execute(
            """INSERT INTO reports (seq, url, site, title, index_no, publisher, doc_no, written_date,
                   published_date, category, body, attachments, metadata, article_key, body_hash, content_hash,
                   first_seen_at, updated_at, source_page_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), now(), %s)
               RETURNING id""",
            (seq.next(), page.url, page.site, *_field_values(fields), key, bhash, chash, page.id),
        ).fetchone()[0]
        _add_url(cur, report_id, page.url)
        return "new", report_id

    new_url = _add_url(cur, report_id, page.url)
    current = cur.execute(
        "SELECT content_hash, version, withdrawn_at IS NOT NULL, title, body, updated_at FROM reports WHERE id = %s",
        (report_id,),
    ).fetchone()
    old_hash, version, withdrawn, old_title, old_body, old_updated = current
    if matched_by == "body":
        # Same text at another article (a repost): the report keeps the original's fields.
        if new_url:
            cur.execute("UPDATE reports SET seq = %s, updated_at = now() WHERE id = %s", (seq.next(), report_id))
            return "alias", report_id
        return "unchanged", report_id
    if bytes(old_hash) != chash:
        old_fields = cur.execute(
            """SELECT json_build_object('index_no', index_no, 'publisher', publisher, 'doc_no', doc_no,
                   'written_date', written_date, 'published_date', published_date, 'category', category,
                   'attachments', attachments, 'metadata', metadata, 'url', url)
               FROM reports WHERE id = %s""", (report_id,)).fetchone()[0]
        cur.execute(
            """INSERT INTO report_versions (report_id, version, title, body, fields, valid_from)
               VALUES (%s, %s, %s, %s, %s, %s)""",
            (report_id, version, old_title, old_body, Jsonb(old_fields), old_updated),
        )
        cur.execute(
            """UPDATE reports SET seq = %s, title = %s, index_no = %s, publisher = %s, doc_no = %s,
                   written_date = %s, published_date = %s, category = %s, body = %s, attachments = %s,
                   metadata = %s, body_hash = %s, content_hash = %s, version = version + 1,
                   updated_at = now(), withdrawn_at = NULL, source_page_id = %s
               WHERE id = %s""",
            (seq.next(), *_field_values(fields), bhash, chash, page.id, report_id),
        )
        return "updated", report_id
    if withdrawn or new_url:
        cur.execute("UPDATE reports SET seq = %s, withdrawn_at = NULL, updated_at = now() WHERE id = %s",
                    (seq.next(), report_id))
        return ("restored" if withdrawn else "alias"), report_id
    return "unchanged", report_id


def mark_withdrawn(cur: psycopg.Cursor, seq: SeqAllocator, page: StagedPage) -> int | None:
    """The article's URL now answers 404/410: keep the report, mark it withdrawn as of that fetch."""
    row = cur.execute("SELECT report_id FROM report_urls WHERE url = %s", (page.url,)).fetchone()
    if row is None:
        return None
    cur.execute(
        "UPDATE reports SET withdrawn_at = %s, seq = %s, updated_at = now() WHERE id = %s AND withdrawn_at IS NULL",
        (page.fetched_at, seq.next(), row[0]),
    )
    return row[0]


def _find_report(cur: psycopg.Cursor, url: str, key: str | None, bhash: bytes) -> tuple[int | None, str | None]:
    row = cur.execute("SELECT report_id FROM report_urls WHERE url = %s", (url,)).fetchone()
    if row:
        return row[0], "url"
    if key:
        row = cur.execute("SELECT id FROM reports WHERE article_key = %s", (key,)).fetchone()
        if row:
            return row[0], "key"
    row = cur.execute("SELECT id FROM reports WHERE body_hash = %s ORDER BY id LIMIT 1", (bhash,)).fetchone()
    if row:
        return row[0], "body"
    return None, None


def _add_url(cur: psycopg.Cursor, report_id: int, url: str) -> bool:
    """Record that the report was found at url; True if that is news."""
    added = cur.execute(
        "INSERT INTO report_urls (url, report_id) VALUES (%s, %s) ON CONFLICT (url) DO NOTHING RETURNING url",
        (url, report_id),
    ).fetchone()
    return added is not None
