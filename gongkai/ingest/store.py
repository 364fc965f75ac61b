"""Write article outcomes into reports: dedup, versions, withdrawals and the change sequence.

A page is matched to an existing report, in order, by: its URL; its platform article id (one jcms
article listed under several columns); its exact body fingerprint; a near-duplicate body (MinHash
LSH candidates confirmed by shingle Jaccard). The first two are the same article, so a different
text there is a new version; the last two are reposts, where the original (earliest published) keeps
its fields.

A report gets a new version only when its own text or metadata (VERSIONED) change; values derived from
them (DERIVED: where the body was read, its files, the extraction status, the period) are refreshed in the
same version. Hashes decide quickly; where a stored hash disagrees, the stored values decide (verify).

A batch is stored set-based (`store_batch`): one round trip per lookup and per write per page made the
store 15x slower than a plain COPY of the same rows.

1. Take the feed_counter row lock and look every page of the batch up at once, pipelined in one round
   trip, so concurrent ingest workers serialise here and `seq` values become visible in commit order:
   a consumer reading `seq > last` never skips a row.
2. Decide page by page in Python, in page order, against those rows *as the earlier pages of the batch
   left them* (`_Report` keeps that state), so two pages of one article, or a repost and its original,
   in the same batch give exactly what storing them one transaction at a time gives.
3. Write: new reports with COPY; their URLs and band index rows, and every other change (versions, new
   URLs, seq bumps, withdrawals) in page order, in one pipeline. A page whose report is unchanged writes
   nothing at all, so a re-ingest of unchanged pages costs its lookups only.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import psycopg

# host + platform article id (jcms lists one article as art_<colA>_<id> and art_<colB>_<id>): the crawl's too.
from gongkai.crawler.platforms import article_key
from gongkai.ingest.derive import Period, parse_period, wrote_it
from gongkai.ingest.pages import StagedPage
from gongkai.ingest.similarity import (
    BANDS,
    MIN_SHARED_BANDS,
    NEAR_DUPLICATE_JACCARD,
    bands_of,
    jaccard,
    minhash,
    normalise,
    normalised_shingles,
    shingles,
    text_hashes,
)
from gongkai.models import ArticleFields

# Bodies with fewer shingles than this (an attachment-only report) are never merged on their text.
MIN_SHINGLES = 20
_WS = re.compile(r"\s+")


def body_hash(body: str) -> bytes:
    """Exact fingerprint of a body, blind to whitespace differences."""
    return hashlib.sha256(_WS.sub("", body).encode("utf-8")).digest()


# A report's own text and metadata: a change in any of these is a new version (the old one goes to
# report_versions). Everything else stored is derived (where the body was read, the files' records and
# text, the extraction status, the period the title names) and is refreshed in the same version.
VERSIONED = ("title", "body", "cover_note", "index_no", "publisher", "doc_no", "written_date", "published_date",
             "category", "attachments", "metadata")
DERIVED = ("body_source", "files", "attachment_text", "extraction", "period_year", "period_half", "kinds")


def _digest(data: dict[str, Any]) -> bytes:
    return hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")).digest()


def _derived_digest(data: dict[str, Any]) -> bytes:
    """The DERIVED values' hash, blind to which staged fetch holds a file's bytes: a refetch of the same bytes
    (same sha256) changes nothing in the report (the record keeps pointing at the first fetch, which stays)."""
    files = [{k: v for k, v in f.items() if k != "staged_page_id"} for f in data.get("files") or []]
    return _digest({**data, "files": files})


def versioned_values(fields: ArticleFields) -> dict[str, Any]:
    """The VERSIONED values of an article, in the form they are read back from a stored report."""
    data = {key: getattr(fields, key) for key in VERSIONED}
    data["attachments"] = [asdict(a) for a in fields.attachments]
    data["written_date"], data["published_date"] = _date_text(fields.written_date), _date_text(fields.published_date)
    return data


def derived_values(fields: ArticleFields, period: Period) -> dict[str, Any]:
    """The DERIVED values of an article, in the form they are read back from a stored report."""
    return {"body_source": fields.body_source, "files": fields.files, "attachment_text": fields.attachment_text,
            "extraction": extraction_status(fields), "period_year": period.year, "period_half": period.half,
            "kinds": list(period.kinds)}


def content_hash(fields: ArticleFields) -> bytes:
    """sha256 of the report's VERSIONED values: a different one may mean a new version (see _Batch.verify)."""
    return _digest(versioned_values(fields))


def derived_hash(fields: ArticleFields, period: Period) -> bytes:
    return _derived_digest(derived_values(fields, period))


# What a stored report's hashes are recomputed from, when they disagree with a page's (_Batch.verify).
_STORED_VALUES = ("id, title, body, cover_note, index_no, publisher, doc_no, written_date::text, published_date::text,"
                  " category, attachments, metadata, body_source, files, attachment_text, extraction, period_year,"
                  " period_half, kinds")


def stored_hashes(row: Sequence[Any]) -> tuple[bytes, bytes]:
    """(content hash, derived hash) of a stored report's values (a _STORED_VALUES row less its id), computed
    as the current code computes a page's: what decides a new version is the values, never how an older
    gongkai hashed them."""
    values = dict(zip(VERSIONED + DERIVED, row, strict=True))
    values["attachments"] = [{"name": a.get("name"), "url": a.get("url")} for a in values["attachments"] or []]
    values["metadata"] = values["metadata"] or {}
    values["files"] = values["files"] or []
    values["kinds"] = list(values["kinds"] or [])
    return _digest({k: values[k] for k in VERSIONED}), _derived_digest({k: values[k] for k in DERIVED})


@dataclass
class Fingerprint:
    """What the store needs of an article that costs CPU, computed before the write lock is taken.

    The ingest workers compute it in parallel, while another worker may hold the lock: dedup keys, the
    period the title names, and the report's column values already in the form the store sends them.
    The shingle set itself is built only when a near-duplicate candidate needs a Jaccard score: the bands
    come straight off the normalised text, and most pages never have a candidate.
    """

    text: str  # the normalised body (similarity.normalise)
    bands: list[int]
    body_hash: bytes
    content_hash: bytes
    derived_hash: bytes
    period: Period
    values: tuple  # the report columns _SET_FIELDS names, in its order (_field_values)
    probe: list[int]  # probe_bands(bands)
    bands_literal: str  # `bands` as the bigint[] literal the store writes
    probe_list: str  # `probe` comma-separated, as the lookups send it

    @functools.cached_property
    def shingles(self) -> set[str]:
        return normalised_shingles(self.text)


def fingerprint(fields: ArticleFields) -> Fingerprint:
    text = normalise(fields.body)
    hashes = text_hashes(text)
    # Distinct hashes never outnumber distinct shingles: only a short body needs its exact set counted.
    enough = len(np.unique(hashes)) >= MIN_SHINGLES or len(normalised_shingles(text)) >= MIN_SHINGLES
    bands = bands_of(minhash(hashes)) if enough else []
    probe = probe_bands(bands)
    # A body too short to tell one report from another (详见附件, or none: a report that is only its file) is
    # matched with its title: two towns' attachment-only reports of one year are two reports, a repost of
    # one (same title, same line) is still found.
    hashed = body_hash(fields.body) if enough else body_hash(fields.title + "\n" + fields.body)
    period = parse_period(fields.title)
    content, derived = content_hash(fields), derived_hash(fields, period)
    return Fingerprint(text, bands, hashed, content, derived, period,
                       _field_values(fields, hashed, content, derived, period), probe, _bigint_array(bands),
                       ",".join(map(str, probe)))


# A report sharing MIN_SHARED_BANDS of a body's BANDS band hashes shares at least MIN_PROBE_SHARED of
# any PROBE_BANDS of them (pigeonhole: it lacks at most the other BANDS - MIN_SHARED_BANDS). A band hash
# has its band number mixed in, so it can only equal the same band of another body: indexing each
# report's first PROBE_BANDS bands and probing a page's first PROBE_BANDS, a report found under
# MIN_PROBE_SHARED of them is a candidate, and every report sharing MIN_SHARED_BANDS is found.
# 20 and 4, not 17 and 1: with one shared band enough, a corpus of reports built from the same stock
# paragraphs (Jaccard ~0.3 between any two: one band in 120 shared) made every lookup return thousands of
# candidates at 100,000 reports (ingest memory and time grew with the database); four shared bands by
# chance happen for ~1 in 50,000 such pairs.
PROBE_BANDS = 20
MIN_PROBE_SHARED = MIN_SHARED_BANDS - (BANDS - PROBE_BANDS)


def probe_bands(bands: list[int]) -> list[int]:
    """The band hashes a report is indexed under in report_bands, and a page looks candidates up by."""
    return list(dict.fromkeys(bands[:PROBE_BANDS]))


_LOCK_FEED = "SELECT seq FROM feed_counter WHERE id FOR UPDATE"


class SeqAllocator:
    """Hands out change sequence numbers under the feed_counter row lock of this transaction.

    `value`: the counter as already read under the lock (store_batch reads it in the same round trip as
    its lookups); without it the lock is taken here.
    """

    def __init__(self, cur: psycopg.Cursor, value: int | None = None) -> None:
        self.cur = cur
        self.value = cur.execute(_LOCK_FEED).fetchone()[0] if value is None else value
        self.start = self.value

    def next(self) -> int:
        self.value += 1
        return self.value

    def save(self) -> None:
        if self.value != self.start:
            self.cur.execute("UPDATE feed_counter SET seq = %s WHERE id", (self.value,))


@dataclass
class StoreItem:
    """One page for the store: an article's fields, or fields=None when its URL answered 404/410."""

    page: StagedPage
    fields: ArticleFields | None = None
    fp: Fingerprint | None = None
    # Its body was read from its file into a report stored with only the file's name (the file came after
    # the article): that version completed, not a new one. The change still gets a seq for the feed.
    completes: bool = False


@dataclass
class BatchResult:
    """Per item (what happened, report id), and the last seq handed out (None: the batch changed nothing).

    What happened is new | updated | unchanged | column | restored | repost | original for an article,
    withdrawn for a gone URL (report id None when no report has that URL).
    """

    outcomes: list[tuple[str, int | None]]
    last_seq: int | None


def store_batch(cur: psycopg.Cursor, items: Sequence[StoreItem], seq: SeqAllocator | None = None) -> BatchResult:
    """Store a batch of pages in the current transaction, as if one by one in order (see the module doc).

    Without `seq` the feed_counter lock is taken here (with the lookups) and the counter saved at the
    end; with one (the caller holds the lock) the caller saves it.
    """
    if not items:
        return BatchResult([], None)
    batch = _Batch(cur, items, seq)
    batch.look_up()
    batch.verify()
    outcomes = [batch.decide(n) for n in range(len(items))]
    batch.write()
    last = batch.seq.value if batch.seq.value != batch.seq.start else None
    return BatchResult([(what, rep.id if rep is not None else None) for what, rep in outcomes], last)


def store_article(cur: psycopg.Cursor, seq: SeqAllocator, page: StagedPage, fields: ArticleFields,
                  fp: Fingerprint | None = None) -> tuple[str, int]:
    """Insert or update the report this page shows. Returns (what happened, report id)."""
    what, report_id = store_batch(cur, [StoreItem(page, fields, fp)], seq).outcomes[0]
    assert report_id is not None
    return what, report_id


def mark_withdrawn(cur: psycopg.Cursor, seq: SeqAllocator, page: StagedPage) -> int | None:
    """The article's URL now answers 404/410: keep the report, mark it withdrawn as of that fetch."""
    return store_batch(cur, [StoreItem(page)], seq).outcomes[0][1]


def withdraw_reports_of(conn: psycopg.Connection, urls: Sequence[str] | None) -> int:
    """Articles that vanished from their listings (a full crawl's delisted URLs): withdraw each report of
    theirs once none of its URLs is listed anywhere (delisted or gone). Reports stay; only withdrawn_at is
    set, with a new seq. Returns how many reports were withdrawn.

    `urls=None` sweeps every delisted URL whose report is still live: delisting and withdrawal are two
    transactions (the crawler owns crawl_urls, ingest owns reports), so a process that died between them
    leaves work the next full crawl's sweep finishes.

    The feed lock first, as every ingest batch takes it (feed_counter, then the rows it writes).
    """
    if urls is not None and not urls:
        return 0
    which = ("ru.url = ANY(%s)" if urls is not None else
             "EXISTS (SELECT 1 FROM crawl_urls d WHERE d.url = ru.url AND d.delisted_at IS NOT NULL)")
    with conn.transaction(), conn.cursor() as cur:
        seq = SeqAllocator(cur)
        gone = cur.execute(
            f"""SELECT DISTINCT ru.report_id FROM report_urls ru JOIN reports r ON r.id = ru.report_id
               WHERE {which} AND r.withdrawn_at IS NULL
                 AND NOT EXISTS (SELECT 1 FROM report_urls o JOIN crawl_urls c ON c.url = o.url
                                 WHERE o.report_id = ru.report_id AND c.delisted_at IS NULL AND c.state <> 'gone')""",
            (list(urls),) if urls is not None else ()).fetchall()
        for (report_id,) in gone:
            cur.execute("UPDATE reports SET withdrawn_at = now(), seq = %s, updated_at = now() WHERE id = %s",
                        (seq.next(), report_id))
        seq.save()
    return len(gone)


# What the batch needs to know of a report to decide; `published_date::text` compares as ISO text.
_STATE = """r.id, r.url, r.article_key, r.body_hash, r.content_hash, r.period_year, r.period_half,
            r.published_date::text, r.withdrawn_at IS NOT NULL, r.title, r.publisher, r.derived_hash"""
_SAME_PERIOD = """(q.year IS NULL OR r.period_year IS NULL OR r.period_year = q.year)
                  AND (q.half IS NULL OR r.period_half IS NULL OR r.period_half = q.half)"""
_REPORT_COLUMNS = ("id, seq, url, site, article_key, source_page_id, title, index_no, publisher, doc_no, written_date,"
                   " published_date, category, body, attachments, metadata, period_year, period_half, kinds,"
                   " body_hash, content_hash, extraction, body_source, cover_note, attachment_text, files,"
                   " derived_hash, bands")
_SET_FIELDS = """title = %s, index_no = %s, publisher = %s, doc_no = %s, written_date = %s, published_date = %s,
                 category = %s, body = %s, attachments = %s, metadata = %s, period_year = %s, period_half = %s,
                 kinds = %s, body_hash = %s, content_hash = %s, extraction = %s, body_source = %s, cover_note = %s,
                 attachment_text = %s, files = %s, derived_hash = %s"""
_ADD_URL = "INSERT INTO report_urls (url, report_id, relation) VALUES (%s, %s, %s) ON CONFLICT (url) DO NOTHING"
_SNAPSHOT = """INSERT INTO report_versions (report_id, version, title, body, fields, valid_from)
               SELECT id, version, title, body,
                      json_build_object('url', url, 'index_no', index_no, 'publisher', publisher, 'doc_no', doc_no,
                          'written_date', written_date, 'published_date', published_date, 'category', category,
                          'attachments', attachments, 'metadata', metadata, 'body_source', body_source,
                          'cover_note', cover_note),
                      updated_at
               FROM reports WHERE id = %s"""
_NEW_VERSION = f"""UPDATE reports SET seq = %s, {_SET_FIELDS}, version = version + 1, updated_at = now(),
                       withdrawn_at = NULL, source_page_id = %s, article_key = COALESCE(article_key, %s), bands = %s
                   WHERE id = %s"""
_SAME_VERSION = _NEW_VERSION.replace("version = version + 1, ", "")


@dataclass(eq=False)
class _Report:
    """One report as the batch sees it: its row as looked up, then as earlier pages of the batch left it."""

    id: int | None  # None for a report this batch creates, until its id is allocated
    rank: tuple[int, int]  # id order: existing reports by id, then the batch's new ones in page order
    url: str
    article_key: str | None
    body_hash: bytes
    content_hash: bytes
    period_year: int | None
    period_half: str | None
    published_date: str | None
    withdrawn: bool
    # Whether its fields are those of the unit that wrote it (derive.wrote_it): a same-day repost's are not.
    authored: bool = False
    derived_hash: bytes | None = None
    # Its stored hashes were computed otherwise than the current code computes them (an older gongkai, a
    # field added since): content_hash and derived_hash above are recomputed from its values (verify).
    stale_hashes: bool = False
    # Body and bands set by this batch (a new report or a new version): the looked-up rows are stale then.
    rewritten: bool = False
    bands: frozenset[int] = frozenset()
    shingles: set[str] | None = None
    rewritten_by: Fingerprint | None = None  # the new body's fingerprint: its shingles are built when needed

    def same_period(self, period: Period) -> bool:
        return ((period.year is None or self.period_year is None or self.period_year == period.year)
                and (period.half is None or self.period_half is None or self.period_half == period.half))


def _date_text(value: str | None) -> str | None:
    """A date as PostgreSQL's date::text shows it, so batch state compares like looked-up state."""
    try:
        return dt.date.fromisoformat(value).isoformat() if value else value
    except ValueError:
        return value


@dataclass
class _Batch:
    cur: psycopg.Cursor
    items: Sequence[StoreItem]
    seq_given: SeqAllocator | None
    seq: SeqAllocator = field(init=False)
    reports: dict[int, _Report] = field(default_factory=dict)  # looked-up reports by id
    by_url: dict[str, _Report] = field(default_factory=dict)
    by_key: dict[str, _Report] = field(default_factory=dict)
    by_body: dict[int, list[_Report]] = field(default_factory=dict)  # item -> reports with its body hash
    near: dict[int, list[_Report]] = field(default_factory=dict)  # item -> reports sharing enough bands
    # Reports the batch rewrote, by body hash and by probe band (entries for earlier bodies are checked out).
    rewritten_by_hash: dict[bytes, list[_Report]] = field(default_factory=dict)
    rewritten_by_band: dict[int, list[_Report]] = field(default_factory=dict)
    new_rows: list[tuple[_Report, tuple]] = field(default_factory=list)  # report, COPY row
    rewritten: dict[_Report, None] = field(default_factory=dict)  # reports the batch wrote a body to, in order
    ops: list[tuple[str, tuple]] = field(default_factory=list)  # writes in page order; _Report = its id

    def __post_init__(self) -> None:
        for item in self.items:
            if item.fields is not None and item.fp is None:
                item.fp = fingerprint(item.fields)
        self.keys = [article_key(item.page.url) for item in self.items]

    # -- 1. lookups ---------------------------------------------------------------------------------------

    def _fp(self, n: int) -> Fingerprint:
        fp = self.items[n].fp
        assert fp is not None, "an article item without its fingerprint"
        return fp

    def _fields(self, n: int) -> ArticleFields:
        fields = self.items[n].fields
        assert fields is not None, "a gone page where an article was expected"
        return fields

    def _report(self, row: Sequence[Any]) -> _Report:
        rep = self.reports.get(row[0])
        if rep is None:
            rep = self.reports[row[0]] = _Report(row[0], (0, row[0]), row[1], row[2], bytes(row[3]), bytes(row[4]),
                                                 row[5], row[6], row[7], row[8], authored=wrote_it(row[9], row[10]),
                                                 derived_hash=None if row[11] is None else bytes(row[11]))
        return rep

    def look_up(self) -> None:
        """Lock the feed and fetch every report the batch's pages can match, in one round trip.

        By URL and article id for every page; by body hash and LSH bands only for the pages whose URL and
        article id are both unknown (in a re-ingest, none). Per page, the lowest ids with its body hash:
        at most len(batch) of them can be rewritten by the batch, so one more than that always holds the
        lowest id the batch leaves alone. Band candidates come from PROBE_BANDS index probes per page (a
        report must turn up under MIN_PROBE_SHARED of them) and their shared bands are counted here, on the
        full sets. The queries are written so that the plan
        stays index probes whatever the statistics of a young table say: `ORDER BY r.id + 0` keeps the
        planner from walking the primary key in id order, the `OFFSET 0` laterals probe an index per value
        instead of hashing a whole table, and JIT (which stale statistics can trigger: 20 ms a query) is off.
        """
        conn = self.cur.connection
        pages = [n for n, item in enumerate(self.items) if item.fields is not None]
        fps = {n: self._fp(n) for n in pages}
        probing: dict[int, list[int]] = {}  # probe band -> pages
        for n in pages:
            for band in fps[n].probe:
                probing.setdefault(band, []).append(n)
        probed = [n for n in pages if fps[n].probe]
        # Arrays go as literals: psycopg adapts a list element by element, a tenth of the store's client time.
        params = {"url": _array_literal(sorted({item.page.url for item in self.items})),
                  "key": _array_literal(sorted({k for k in self.keys if k})), "n": _array_literal(pages),
                  "urls": _array_literal([self.items[n].page.url for n in pages]),
                  "keys": _array_literal([self.keys[n] for n in pages]),
                  "hash": _array_literal([fps[n].body_hash for n in pages]),
                  "year": _array_literal([fps[n].period.year for n in pages]),
                  "half": _array_literal([fps[n].period.half for n in pages]),
                  "limit": len(self.items) + 1, "min_probe_shared": MIN_PROBE_SHARED,
                  "probe_n": "{" + ",".join(",".join([str(n)] * len(fps[n].probe)) for n in probed) + "}",
                  "probe_band": "{" + ",".join(fps[n].probe_list for n in probed) + "}"}
        # Pages whose URL and article id are both unknown, their body hash matches, then their LSH
        # candidates: one statement, rows tagged by n (body match) or NULL (band candidate).
        bodies_sql = f"""
            WITH open AS (
                SELECT p.n FROM unnest(%(n)s::int[], %(urls)s::text[], %(keys)s::text[]) AS p(n, url, key)
                WHERE NOT EXISTS (SELECT 1 FROM report_urls u WHERE u.url = p.url)
                  AND NOT EXISTS (SELECT 1 FROM reports k WHERE k.article_key = p.key)),
            probe AS MATERIALIZED (
                SELECT DISTINCT k.band FROM unnest(%(probe_n)s::int[], %(probe_band)s::bigint[]) AS k(n, band)
                WHERE k.n IN (SELECT n FROM open)),
            near AS (
                SELECT b.report_id FROM probe k
                CROSS JOIN LATERAL (SELECT report_id FROM report_bands b WHERE b.band_hash = k.band OFFSET 0) b
                GROUP BY b.report_id HAVING count(*) >= %(min_probe_shared)s)
            SELECT q.n, r.*, NULL::bigint[]
            FROM unnest(%(n)s::int[], %(hash)s::bytea[], %(year)s::int[], %(half)s::text[]) AS q(n, hash, year, half)
            CROSS JOIN LATERAL (SELECT {_STATE} FROM reports r WHERE r.body_hash = q.hash AND {_SAME_PERIOD}
                                ORDER BY r.id + 0 LIMIT %(limit)s) r
            WHERE q.n IN (SELECT n FROM open)
            UNION ALL
            SELECT NULL::int, r.*
            FROM near c CROSS JOIN LATERAL (SELECT {_STATE}, r.bands FROM reports r WHERE r.id = c.report_id
                                            OFFSET 0) r"""
        with conn.pipeline(), conn.cursor() as url_cur, conn.cursor() as key_cur, conn.cursor() as body_cur:
            self.cur.execute("SET LOCAL jit = off")
            if self.seq_given is None:
                self.cur.execute(_LOCK_FEED)
            url_cur.execute(f"SELECT u.url, {_STATE} FROM unnest(%(url)s::text[]) AS q(url)"
                            " CROSS JOIN LATERAL (SELECT url, report_id FROM report_urls u WHERE u.url = q.url"
                            " OFFSET 0) u JOIN reports r ON r.id = u.report_id", params)
            key_cur.execute(f"SELECT r.article_key, {_STATE} FROM unnest(%(key)s::text[]) AS q(key)"
                            " CROSS JOIN LATERAL (SELECT * FROM reports r WHERE r.article_key = q.key OFFSET 0) r",
                            params)
            if pages:
                body_cur.execute(bodies_sql, params, prepare=False)
            self.seq = self.seq_given or SeqAllocator(self.cur, self.cur.fetchone()[0])
            for row in url_cur.fetchall():
                self.by_url[row[0]] = self._report(row[1:])
            for row in key_cur.fetchall():
                self.by_key[row[0]] = self._report(row[1:])
            for row in body_cur.fetchall() if pages else []:
                if row[0] is not None:
                    self.by_body.setdefault(row[0], []).append(self._report(row[1:-1]))
                    continue
                bands = set(row[-1])
                for n in sorted({n for band in bands if band in probing for n in probing[band]}):
                    if len(bands.intersection(fps[n].bands)) >= MIN_SHARED_BANDS:
                        self.near.setdefault(n, []).append(self._report(row[1:-1]))

    def verify(self) -> None:
        """Recompute the hashes of the reports whose stored ones disagree with their page's, from their stored
        values, in one query for the batch.

        A hash is a shortcut, not the truth: an older gongkai hashed other fields (a field added to
        ArticleFields since changed every hash), and hashes only the derived values differ in. Deciding on
        the values means an upgrade re-versions nothing: a report gets a new version only when its text or
        metadata really changed, and is refreshed in place when only derived values did.
        """
        suspects: dict[int, _Report] = {}
        for n, item in enumerate(self.items):
            if item.fields is None:
                continue
            fp, key = self._fp(n), self.keys[n]
            rep = self.by_url.get(item.page.url) or (self.by_key.get(key) if key is not None else None)
            if rep is not None and rep.id is not None and (rep.content_hash, rep.derived_hash) != (
                    fp.content_hash, fp.derived_hash):
                suspects[rep.id] = rep
        if not suspects:
            return
        for row in self.cur.execute(f"SELECT {_STORED_VALUES} FROM reports WHERE id = ANY(%s)",
                                    (sorted(suspects),)).fetchall():
            rep = suspects[row[0]]
            content, derived = stored_hashes(row[1:])
            if (content, derived) != (rep.content_hash, rep.derived_hash):
                rep.content_hash, rep.derived_hash, rep.stale_hashes = content, derived, True

    # -- 2. decisions, in page order ----------------------------------------------------------------------

    def decide(self, n: int) -> tuple[str, _Report | None]:
        item = self.items[n]
        if item.fields is None:
            return self._withdraw(item.page)
        page, fp, key = item.page, self._fp(n), self.keys[n]
        rep, how = self.by_url.get(page.url), "url"
        if rep is None and key is not None:
            rep, how = self.by_key.get(key), "key"
        if rep is None:
            rep, how = self._same_body(n), "body"
        if rep is None:
            rep, how = self._near_duplicate(n), "near"
        if rep is None:
            return "new", self._new(n)
        if how in ("body", "near"):
            return self._repost(n, rep)
        if how == "key":  # the same article under another column: a URL the report did not have
            self._add_url(rep, page.url, "column")
        if rep.content_hash != fp.content_hash:
            self._new_version(n, rep, key, same_version=self.items[n].completes)
            return "updated", rep
        if rep.derived_hash != fp.derived_hash:  # the same text, read otherwise: refreshed in this version
            restored = rep.withdrawn
            self._new_version(n, rep, key, same_version=True)
            return "restored" if restored else "column" if how == "key" else "refreshed", rep
        if rep.stale_hashes:  # nothing changed but how it is hashed: no new seq, nothing for consumers
            self.ops.append(("UPDATE reports SET content_hash = %s, derived_hash = %s WHERE id = %s",
                             (fp.content_hash, fp.derived_hash, rep)))
            rep.stale_hashes = False
        if rep.withdrawn or how == "key":
            what = "restored" if rep.withdrawn else "column"
            self.ops.append(("UPDATE reports SET seq = %s, withdrawn_at = NULL, updated_at = now() WHERE id = %s",
                             (self.seq.next(), rep)))
            rep.withdrawn = False
            return what, rep
        return "unchanged", rep

    def _same_body(self, n: int) -> _Report | None:
        """The earliest report with this exact body, unless its title says another period."""
        fp = self._fp(n)
        period = fp.period
        found = [r for r in self.by_body.get(n, []) if not r.rewritten]  # the lookup already checked periods
        found += [r for r in self.rewritten_by_hash.get(fp.body_hash, [])
                  if r.body_hash == fp.body_hash and r.same_period(period)]
        return min(found, key=lambda r: r.rank, default=None)

    def _near_duplicate(self, n: int) -> _Report | None:
        """The most similar candidate at Jaccard >= the threshold; a body too short to judge is never merged."""
        fp = self._fp(n)
        period = fp.period
        if not fp.bands:
            return None
        bands = set(fp.bands)
        found = [r for r in self.near.get(n, []) if not r.rewritten]
        # Reports rewritten by the batch are indexed under their probe bands, like report_bands indexes them
        found += {r for band in fp.probe for r in self.rewritten_by_band.get(band, [])
                  if len(r.bands & bands) >= MIN_SHARED_BANDS}
        found = sorted((r for r in found if r.same_period(period)), key=lambda r: r.rank)
        for r in found:
            if r.shingles is None and r.rewritten_by is not None:
                r.shingles = r.rewritten_by.shingles
        missing = [r for r in found if r.shingles is None]
        if missing:  # candidates are rare (reposts): their bodies are fetched only when a page gets this far
            bodies = dict(self.cur.execute("SELECT id, body FROM reports WHERE id = ANY(%s)",
                                           ([r.id for r in missing],)).fetchall())
            for r in missing:
                r.shingles = shingles(bodies[r.id])
        best, best_similarity = None, NEAR_DUPLICATE_JACCARD
        for r in found:
            similarity = jaccard(fp.shingles, r.shingles or set())
            if similarity >= best_similarity:
                best, best_similarity = r, similarity
        return best

    def _new(self, n: int) -> _Report:
        page, fields, fp, key = self.items[n].page, self._fields(n), self._fp(n), self.keys[n]
        rep = _Report(None, (1, len(self.new_rows)), page.url, key, fp.body_hash, fp.content_hash, fp.period.year,
                      fp.period.half, _date_text(fields.published_date), False,
                      authored=wrote_it(fields.title, fields.publisher), derived_hash=fp.derived_hash)
        self._rewrite(rep, fp)
        self.new_rows.append((rep, (self.seq.next(), page.url, page.site, key, page.id, *fp.values, fp.bands_literal)))
        self.by_url[page.url] = rep
        if key is not None:
            self.by_key[key] = rep
        return rep

    def _repost(self, n: int, rep: _Report) -> tuple[str, _Report]:
        """The same text at another article: one report; the original keeps its fields. The original is the
        earliest published; on the same day, the page of the unit that wrote it (a county office reposting a
        town's report that day is not), whichever URL came first."""
        page, fields = self.items[n].page, self._fields(n)
        if page.url in self.by_url:  # cannot happen (the URL would have matched first); kept as a guard
            return "unchanged", rep
        published = _date_text(fields.published_date)
        earlier = bool(published and rep.published_date and published < rep.published_date)
        same_day_author = (published == rep.published_date and not rep.authored
                           and wrote_it(fields.title, fields.publisher))
        if earlier or same_day_author:
            # The report was first found at a repost: the original's URL and fields take over.
            self.ops.append(("UPDATE report_urls SET relation = 'repost' WHERE report_id = %s AND relation = 'primary'",
                             (rep,)))
            self._add_url(rep, page.url, "primary")
            self._new_version(n, rep, article_key(page.url))
            self.ops.append(("UPDATE reports SET url = %s WHERE id = %s", (page.url, rep)))
            rep.url = page.url
            rep.authored = wrote_it(fields.title, fields.publisher)
            return "original", rep
        self._add_url(rep, page.url, "repost")
        self.ops.append(("UPDATE reports SET seq = %s, updated_at = now() WHERE id = %s", (self.seq.next(), rep)))
        return "repost", rep

    def _new_version(self, n: int, rep: _Report, key: str | None, same_version: bool = False) -> None:
        """Keep the current text in report_versions, then overwrite the report with the new fields
        (`same_version`: overwrite only, the version number stays)."""
        page, fields, fp = self.items[n].page, self._fields(n), self._fp(n)
        period = fp.period
        if not same_version:
            self.ops.append((_SNAPSHOT, (rep,)))
        self.ops.append(("DELETE FROM report_bands WHERE report_id = %s"
                         " AND band_hash = ANY((SELECT bands FROM reports WHERE id = %s)::bigint[])", (rep, rep)))
        self.ops.append((_SAME_VERSION if same_version else _NEW_VERSION,
                         (self.seq.next(), *fp.values, page.id, key, fp.bands_literal, rep)))
        rep.body_hash, rep.content_hash, rep.derived_hash = fp.body_hash, fp.content_hash, fp.derived_hash
        rep.stale_hashes = False
        rep.period_year, rep.period_half = period.year, period.half
        rep.published_date, rep.withdrawn = _date_text(fields.published_date), False
        if rep.article_key is None and key is not None:
            rep.article_key = key
            self.by_key.setdefault(key, rep)
        self._rewrite(rep, fp)

    def _rewrite(self, rep: _Report, fp: Fingerprint) -> None:
        rep.bands, rep.shingles, rep.rewritten_by, rep.rewritten = frozenset(fp.bands), None, fp, True
        self.rewritten[rep] = None  # its band index rows are written at the end of the batch, off its last bands
        self.rewritten_by_hash.setdefault(fp.body_hash, []).append(rep)
        for band in fp.probe:
            self.rewritten_by_band.setdefault(band, []).append(rep)

    def _add_url(self, rep: _Report, url: str, relation: str) -> None:
        self.ops.append((_ADD_URL, (url, rep, relation)))
        self.by_url[url] = rep

    def _withdraw(self, page: StagedPage) -> tuple[str, _Report | None]:
        rep = self.by_url.get(page.url)
        if rep is not None and not rep.withdrawn:
            self.ops.append(("UPDATE reports SET withdrawn_at = %s, seq = %s, updated_at = now() WHERE id = %s",
                             (page.fetched_at, self.seq.next(), rep)))
            rep.withdrawn = True
        return "withdrawn", rep

    # -- 3. writes ----------------------------------------------------------------------------------------

    def write(self) -> None:
        """New reports by COPY; then their URLs, every other change in page order, and the band index rows
        of every report the batch wrote a body to, in one pipeline: three round trips, whatever the batch
        holds.

        Inserting the batch's new reports before the other changes is safe: no earlier change can refer to
        a report that did not exist yet, and a new report's URL belongs to no other report. Band index rows
        go last, read off each report's final `bands` (its first PROBE_BANDS, what probe_bands gives): a new
        version deletes its report's rows first, and a report rewritten twice in the batch is indexed once.
        """
        cur = self.cur
        if self.new_rows:
            ids = sorted(row[0] for row in cur.execute(
                "SELECT nextval(pg_get_serial_sequence('reports', 'id')) FROM generate_series(1, %s)",
                (len(self.new_rows),)))
            for (rep, _), report_id in zip(self.new_rows, ids, strict=True):
                rep.id = report_id
            with cur.copy(f"COPY reports ({_REPORT_COLUMNS}) FROM STDIN") as copy:
                for rep, row in self.new_rows:
                    copy.write_row((rep.id, *row))
        if not (self.new_rows or self.ops or (self.seq_given is None and self.seq.value != self.seq.start)):
            return
        with cur.connection.pipeline():
            if self.new_rows:
                cur.execute("INSERT INTO report_urls (url, report_id, relation)"
                            " SELECT url, id, 'primary' FROM unnest(%s::text[], %s::bigint[]) AS u(url, id)",
                            (_array_literal([row[1] for _, row in self.new_rows]), _bigint_array(ids)))
            for sql, params in self.ops:
                cur.execute(sql, tuple(p.id if isinstance(p, _Report) else p for p in params))
            if self.rewritten:
                # Read off the rows as the batch left them: the server has them, the client need not send
                # PROBE_BANDS numbers per report. One primary key probe per id (OFFSET 0), whatever a young
                # table's statistics say.
                cur.execute("INSERT INTO report_bands (report_id, band_hash)"
                            " SELECT DISTINCT r.id, b.band FROM unnest(%s::bigint[]) AS i(id)"
                            " CROSS JOIN LATERAL (SELECT id, bands FROM reports r WHERE r.id = i.id OFFSET 0) r"
                            " CROSS JOIN LATERAL unnest(r.bands[1:%s]) AS b(band)",
                            (_bigint_array([rep.id for rep in self.rewritten]), PROBE_BANDS))
            if self.seq_given is None:
                self.seq.save()


def _bigint_array(values: Sequence[int]) -> str:
    """A bigint[] literal: psycopg adapts a list of ints element by element, 100 us for 32 band hashes."""
    return "{" + ",".join(map(str, values)) + "}"


def _array_literal(values: Sequence[str | int | bytes | None]) -> str:
    """An array literal of text, integer or bytea elements (None: NULL), for a parameter cast in the SQL."""
    return "{" + ",".join("NULL" if v is None else str(v) if isinstance(v, int)
                          else '"\\\\x' + v.hex() + '"' if isinstance(v, bytes) else _quoted(v) for v in values) + "}"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _field_values(fields: ArticleFields, body_hashed: bytes, content_hashed: bytes, derived_hashed: bytes,
                  period: Period) -> tuple:
    """The report columns _SET_FIELDS names, in its order."""
    return (fields.title, fields.index_no, fields.publisher, fields.doc_no, fields.written_date,
            fields.published_date, fields.category, fields.body,
            _json_text([asdict(a) for a in fields.attachments]), _json_text(fields.metadata),
            period.year, period.half, _array_literal(period.kinds), body_hashed, content_hashed,
            extraction_status(fields), fields.body_source, fields.cover_note, fields.attachment_text,
            _json_text(fields.files), derived_hashed)


def extraction_status(fields: ArticleFields) -> str | None:
    """reports.extraction: None for a clean report, else what extraction could not read, joined by "; "."""
    return "; ".join(dict.fromkeys(p.strip() for p in fields.problems if p.strip())) or None


# COPY rows and parameters carry jsonb and text[] values as their text forms (a str parameter has no type
# of its own: the server reads it as the column's type).
def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def relabel_reports(conn: psycopg.Connection, urls: Sequence[str], site: str, defaults: Sequence[str]) -> int:
    """Reports found at those URLs and filed under a default host name (a `crawl URL` before the listing was
    configured): now `site`'s, so they are placed (public_reports joins sites on it). A new seq each, so a
    consumer syncing by seq sees the change. Reports another named site holds are left alone."""
    if not urls:
        return 0
    with conn.transaction(), conn.cursor() as cur:
        seq = SeqAllocator(cur)
        ids = [row[0] for row in cur.execute(
            "SELECT DISTINCT r.id FROM reports r JOIN report_urls u ON u.report_id = r.id"
            " WHERE u.url = ANY(%s) AND r.site = ANY(%s) ORDER BY r.id", (list(urls), list(defaults))).fetchall()]
        for report_id in ids:
            cur.execute("UPDATE reports SET site = %s, seq = %s, updated_at = now() WHERE id = %s",
                        (site, seq.next(), report_id))
        seq.save()
    return len(ids)



def add_listed_aliases(cur: psycopg.Cursor) -> int:
    """URLs the crawl listed as aliases (crawl_urls 'alias': another URL of a stored article, the article
    under a second column, never fetched) added to the report of their article's fetched URL (relation
    'column'; or, for a URL recorded before migration 0012, the report with their article_key), so `show`,
    export and the feed find the report by either URL. Each report given one gets a new seq, as a page found
    under another column does. An alias whose report is not stored yet waits for a later call. How many."""
    waiting = cur.execute("SELECT EXISTS (SELECT 1 FROM crawl_urls a WHERE a.state = 'alias'"
                          " AND NOT EXISTS (SELECT 1 FROM report_urls o WHERE o.url = a.url))").fetchone()[0]
    if not waiting:
        return 0
    seq = SeqAllocator(cur)  # the feed lock first, as every ingest batch takes it
    added = cur.execute(
        """INSERT INTO report_urls (url, report_id, relation)
           SELECT DISTINCT ON (a.url) a.url, f.report_id, 'column' FROM crawl_urls a
           CROSS JOIN LATERAL (SELECT u.report_id, 0 AS pref FROM crawl_urls c JOIN report_urls u ON u.url = c.url
                               WHERE c.article_key = a.article_key AND c.url <> a.url
                               UNION ALL
                               SELECT r.id, 1 FROM reports r WHERE r.article_key = a.article_key) f
           WHERE a.state = 'alias' AND NOT EXISTS (SELECT 1 FROM report_urls o WHERE o.url = a.url)
           ORDER BY a.url, f.pref, f.report_id
           ON CONFLICT (url) DO NOTHING RETURNING report_id""").fetchall()
    for report_id in sorted({report_id for (report_id,) in added}):
        cur.execute("UPDATE reports SET seq = %s, updated_at = now() WHERE id = %s", (seq.next(), report_id))
    seq.save()
    return len(added)
