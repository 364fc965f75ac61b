"""Write article outcomes into reports: dedup, versions, withdrawals and the change sequence.

Every write happens while holding the feed_counter row lock, taken once per batch, so concurrent
ingest workers serialise here (extraction, the expensive part, runs before) and `seq` values
become visible in commit order: a consumer reading `seq > last` never skips a row.

A page is matched to an existing report, in order, by: its URL; its platform article id (one jcms
article listed under several columns); its exact body fingerprint; a near-duplicate body (MinHash
LSH candidates confirmed by shingle Jaccard). The first two are the same article, so a different
text there is a new version; the last two are reposts, where the original (earliest published) keeps
its fields.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import psycopg
from psycopg.types.json import Jsonb

from gongkai.ingest.derive import parse_period
from gongkai.ingest.pages import StagedPage
from gongkai.ingest.similarity import MIN_SHARED_BANDS, NEAR_DUPLICATE_JACCARD, band_hashes, jaccard, shingles
from gongkai.models import ArticleFields

# Bodies with fewer shingles than this (an attachment-only report) are never merged on their text.
MIN_SHINGLES = 20
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


@dataclass
class Fingerprint:
    """What dedup needs of a body, computed before the write lock is taken (it is CPU work)."""

    shingles: set[str]
    bands: list[int]
    body_hash: bytes
    content_hash: bytes


def fingerprint(fields: ArticleFields) -> Fingerprint:
    body_shingles = shingles(fields.body)
    bands = band_hashes(body_shingles) if len(body_shingles) >= MIN_SHINGLES else []
    return Fingerprint(body_shingles, bands, body_hash(fields.body), content_hash(fields))


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


_SET_FIELDS = """title = %s, index_no = %s, publisher = %s, doc_no = %s, written_date = %s, published_date = %s,
                 category = %s, body = %s, attachments = %s, metadata = %s, period_year = %s, period_half = %s,
                 kinds = %s, body_hash = %s, content_hash = %s"""


def _field_values(fields: ArticleFields) -> tuple:
    period = parse_period(fields.title)
    return (fields.title, fields.index_no, fields.publisher, fields.doc_no, fields.written_date,
            fields.published_date, fields.category, fields.body,
            Jsonb([asdict(a) for a in fields.attachments]), Jsonb(fields.metadata),
            period.year, period.half, period.kinds, body_hash(fields.body), content_hash(fields))


def store_article(cur: psycopg.Cursor, seq: SeqAllocator, page: StagedPage, fields: ArticleFields,
                  fp: Fingerprint | None = None) -> tuple[str, int]:
    """Insert or update the report this page shows. Returns (what happened, report id)."""
    key = article_key(page.url)
    fp = fp or fingerprint(fields)
    bands = fp.bands
    report_id, matched_by = _find_report(cur, page.url, key, fields, fp)
    if report_id is None:
        # One round trip: the report, its URL and its LSH bands.
        report_id = cur.execute(
            f"""WITH r AS (
                    INSERT INTO reports (seq, url, site, article_key, source_page_id, title, index_no, publisher,
                        doc_no, written_date, published_date, category, body, attachments, metadata, period_year,
                        period_half, kinds, body_hash, content_hash)
                    VALUES (%s, %s, %s, %s, %s, {", ".join(["%s"] * 15)}) RETURNING id),
                u AS (INSERT INTO report_urls (url, report_id, relation) SELECT %s, id, 'primary' FROM r),
                b AS (INSERT INTO report_bands (report_id, band_hash) SELECT r.id, h FROM r, unnest(%s::bigint[]) h)
                SELECT id FROM r""",
            (seq.next(), page.url, page.site, key, page.id, *_field_values(fields), page.url, sorted(set(bands))),
        ).fetchone()[0]
        return "new", report_id

    if matched_by in ("body", "near"):
        return _repost(cur, seq, page, fields, report_id, bands)
    new_url = _add_url(cur, report_id, page.url, "column")
    old_hash, withdrawn = cur.execute(
        "SELECT content_hash, withdrawn_at IS NOT NULL FROM reports WHERE id = %s", (report_id,)).fetchone()
    if bytes(old_hash) != fp.content_hash:
        _new_version(cur, seq, report_id, page, fields, key, bands)
        return "updated", report_id
    if withdrawn or new_url:
        cur.execute("UPDATE reports SET seq = %s, withdrawn_at = NULL, updated_at = now() WHERE id = %s",
                    (seq.next(), report_id))
        return ("restored" if withdrawn else "column"), report_id
    return "unchanged", report_id


def _repost(cur: psycopg.Cursor, seq: SeqAllocator, page: StagedPage, fields: ArticleFields, report_id: int,
            bands: list[int]) -> tuple[str, int]:
    """The same text at another article: one report; the original (earliest published) keeps its fields."""
    known = cur.execute("SELECT relation FROM report_urls WHERE url = %s", (page.url,)).fetchone()
    if known is not None:
        return "unchanged", report_id
    current_date, current_url = cur.execute(
        "SELECT published_date::text, url FROM reports WHERE id = %s", (report_id,)).fetchone()
    is_original = bool(fields.published_date and current_date and fields.published_date < current_date)
    if is_original:
        # The report was first found at a repost: the original's URL and fields take over.
        cur.execute("UPDATE report_urls SET relation = 'repost' WHERE report_id = %s AND relation = 'primary'",
                    (report_id,))
        _add_url(cur, report_id, page.url, "primary")
        _new_version(cur, seq, report_id, page, fields, article_key(page.url), bands)
        cur.execute("UPDATE reports SET url = %s WHERE id = %s", (page.url, report_id))
        return "original", report_id
    _add_url(cur, report_id, page.url, "repost")
    cur.execute("UPDATE reports SET seq = %s, updated_at = now() WHERE id = %s", (seq.next(), report_id))
    return "repost", report_id


def _new_version(cur: psycopg.Cursor, seq: SeqAllocator, report_id: int, page: StagedPage, fields: ArticleFields,
                 key: str | None, bands: list[int]) -> None:
    """Keep the current text in report_versions, then overwrite the report with the new fields."""
    cur.execute(
        """INSERT INTO report_versions (report_id, version, title, body, fields, valid_from)
           SELECT id, version, title, body,
                  json_build_object('url', url, 'index_no', index_no, 'publisher', publisher, 'doc_no', doc_no,
                      'written_date', written_date, 'published_date', published_date, 'category', category,
                      'attachments', attachments, 'metadata', metadata),
                  updated_at
           FROM reports WHERE id = %s""", (report_id,))
    cur.execute(
        f"""UPDATE reports SET seq = %s, {_SET_FIELDS}, version = version + 1, updated_at = now(),
               withdrawn_at = NULL, source_page_id = %s, article_key = COALESCE(article_key, %s)
           WHERE id = %s""",
        (seq.next(), *_field_values(fields), page.id, key, report_id),
    )
    _set_bands(cur, report_id, bands)


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


def _find_report(cur: psycopg.Cursor, url: str, key: str | None, fields: ArticleFields,
                 fp: Fingerprint) -> tuple[int | None, str | None]:
    """The report this page belongs to, if any, and how it was matched (url, key, body or near).

    Same text elsewhere is a repost, unless the titles say another period: a town's H1 and H2 reports
    can share nearly all their words and are still two reports. All lookups go in one round trip.
    """
    period = parse_period(fields.title)
    same_period = """(%(year)s::int IS NULL OR r.period_year IS NULL OR r.period_year = %(year)s)
                     AND (%(half)s::text IS NULL OR r.period_half IS NULL OR r.period_half = %(half)s)"""
    params = {"url": url, "key": key, "year": period.year, "half": period.half, "hash": fp.body_hash,
              "bands": fp.bands, "shared": MIN_SHARED_BANDS}
    by_url, by_key, by_body, near = cur.execute(
        f"""SELECT (SELECT report_id FROM report_urls WHERE url = %(url)s),
                   (SELECT id FROM reports WHERE article_key = %(key)s::text),
                   (SELECT r.id FROM reports r WHERE r.body_hash = %(hash)s AND {same_period} ORDER BY r.id LIMIT 1),
                   ARRAY(SELECT report_id FROM report_bands WHERE band_hash = ANY(%(bands)s::bigint[])
                         GROUP BY report_id HAVING count(*) >= %(shared)s)""", params).fetchone()
    if by_url is not None:
        return by_url, "url"
    if by_key is not None:
        return by_key, "key"
    if by_body is not None:
        return by_body, "body"
    if not fp.bands or not near:  # no candidates; a body too short to judge is never merged on
        return None, None
    best_id, best = None, NEAR_DUPLICATE_JACCARD
    candidates = cur.execute(f"SELECT r.id, r.body FROM reports r WHERE r.id = ANY(%(ids)s) AND {same_period}",
                             {**params, "ids": near}).fetchall()
    for candidate_id, candidate_body in candidates:
        similarity = jaccard(fp.shingles, shingles(candidate_body))
        if similarity >= best:
            best_id, best = candidate_id, similarity
    return (best_id, "near") if best_id is not None else (None, None)


def _set_bands(cur: psycopg.Cursor, report_id: int, bands: list[int]) -> None:
    cur.execute("DELETE FROM report_bands WHERE report_id = %s", (report_id,))
    if bands:
        cur.execute("INSERT INTO report_bands (report_id, band_hash) SELECT %s, unnest(%s::bigint[])"
                    " ON CONFLICT DO NOTHING", (report_id, sorted(set(bands))))


def _add_url(cur: psycopg.Cursor, report_id: int, url: str, relation: str) -> bool:
    """Record that the report was found at url; True if that is news."""
    added = cur.execute(
        """INSERT INTO report_urls (url, report_id, relation) VALUES (%s, %s, %s)
           ON CONFLICT (url) DO NOTHING RETURNING url""",
        (url, report_id, relation),
    ).fetchone()
    return added is not None
