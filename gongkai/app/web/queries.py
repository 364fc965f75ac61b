"""The readers' reads: search, a report, a site. Parameterised SQL only, on read-only connections.

Search uses migration 0008: the GIN index of every character and character pair of a report's folded
text (`reports.search_text`). A query is split on spaces into terms (all must occur); each term is folded
by the server (NFKC, lower case), its characters and pairs are asked of the index, and a term of three or
more characters is confirmed with strpos() on the folded text, so nothing is lost to word segmentation
and nothing is found that does not contain the term.

Ranking: reports whose title holds more of the terms first, then the newest (published_date), then the
highest id. The cursor is that key of the last row (keyset): following `next` walks every match once,
however many reports land meanwhile (a new report sorts before or after the cursor, never twice).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import difflib
import json
import queue
import re
import threading
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

import psycopg
from psycopg.rows import dict_row

from gongkai.db import connect
from gongkai.errors import DatabaseError, UserError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_QUERY_CHARS = 100
MAX_TERMS = 8
MAX_PARAM_CHARS = 200
STATEMENT_TIMEOUT_MS = 15000
KINDS = ("总结", "计划", "思路")
_NO_DATE = dt.date(1, 1, 1)  # sorts reports without a published_date last (the browse index's COALESCE)


class BadRequest(UserError):
    """A parameter the reader can fix: answered 400 with this message."""


class NotFound(UserError):
    """No such report or site: answered 404."""


class TooSlow(DatabaseError):
    """A query ran past the statement timeout: answered 503 with this message."""


# -- connections ------------------------------------------------------------------------------------------


def _read_only_url(url: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    # jit off: the search's cost estimates (the gram function's COST) would compile every query (~25 ms).
    extra = f"-c default_transaction_read_only=on -c statement_timeout={STATEMENT_TIMEOUT_MS} -c jit=off"
    info["options"] = f"{info['options']} {extra}" if info.get("options") else extra
    info.setdefault("application_name", "gongkai-web")
    return psycopg.conninfo.make_conninfo(**info)


class ReadOnlyPool:
    """A few connections, each read-only twice over (default_transaction_read_only and READ ONLY
    transactions) with a statement timeout. A broken connection is dropped, never handed out again."""

    def __init__(self, url: str, size: int = 8) -> None:
        self.url = _read_only_url(url)
        self.size = size
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A connection inside a READ ONLY transaction, rolled back at the end."""
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = connect(self.url)
            conn.read_only = True
        ok = False
        try:
            with conn.transaction(force_rollback=True):
                yield conn
            ok = True
        except psycopg.errors.QueryCanceled as exc:
            raise TooSlow(f"the query took longer than {STATEMENT_TIMEOUT_MS // 1000} s: add filters or "
                          "longer terms") from exc
        except psycopg.OperationalError as exc:
            raise DatabaseError("the database is unreachable") from exc
        finally:
            if ok and not conn.closed and not self._closed and self._idle.qsize() < self.size:
                self._idle.put(conn)
            elif not conn.closed:
                conn.close()

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


# -- parameters -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    q: str = ""
    city: str | None = None  # prefecture (地级市), sites.city
    county: str | None = None
    town: str | None = None
    year: int | None = None  # period_year: the period the report covers
    kind: str | None = None  # 总结 | 计划 | 思路
    publisher: str | None = None
    site: str | None = None
    date_from: dt.date | None = None  # published_date range, both ends included
    date_to: dt.date | None = None
    include_withdrawn: bool = False

    def terms(self) -> list[str]:
        return [t for t in self.q.split() if t]

    def as_params(self) -> dict[str, str]:
        """The query-string form of these filters (what parse_filters reads back)."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value in (None, "", False):
                continue
            out[_PARAM_NAMES.get(f.name, f.name)] = "1" if value is True else str(value)
        return out


_PARAM_NAMES = {"date_from": "from", "date_to": "to"}
KNOWN_PARAMS = {"q", "city", "county", "town", "year", "kind", "publisher", "site", "from", "to",
                "include_withdrawn", "limit", "cursor"}


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    value = value.strip()
    if len(value) > MAX_PARAM_CHARS:
        raise BadRequest(f"{name}: at most {MAX_PARAM_CHARS} characters")
    if "\x00" in value:
        raise BadRequest(f"{name}: must not contain NUL characters")
    return value or None


def _date(params: Mapping[str, str], name: str) -> dt.date | None:
    value = _text(params, name)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


def _int(params: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    value = _text(params, name)
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]{1,9}", value):
        raise BadRequest(f"{name}: {value!r} is not a whole number")
    number = int(value)
    if not low <= number <= high:
        raise BadRequest(f"{name}: must be between {low} and {high}")
    return number


def _flag(params: Mapping[str, str], name: str) -> bool:
    value = (params.get(name) or "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise BadRequest(f"{name}: {value!r} must be 1 or 0")


def parse_filters(params: Mapping[str, str]) -> Filters:
    """Filters from query parameters; BadRequest names the first bad one."""
    q = params.get("q") or ""
    if len(q) > MAX_QUERY_CHARS:
        raise BadRequest(f"q: at most {MAX_QUERY_CHARS} characters")
    if "\x00" in q:
        raise BadRequest("q: must not contain NUL characters")
    if len(q.split()) > MAX_TERMS:
        raise BadRequest(f"q: at most {MAX_TERMS} terms")
    kind = _text(params, "kind")
    if kind is not None and kind not in KINDS:
        raise BadRequest(f"kind: {kind!r} must be one of {', '.join(KINDS)}")
    filters = Filters(q=" ".join(q.split()), city=_text(params, "city"), county=_text(params, "county"),
                      town=_text(params, "town"), year=_int(params, "year", 1900, 2999), kind=kind,
                      publisher=_text(params, "publisher"), site=_text(params, "site"),
                      date_from=_date(params, "from"), date_to=_date(params, "to"),
                      include_withdrawn=_flag(params, "include_withdrawn"))
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise BadRequest("from: must not be after to")
    return filters


def parse_limit(params: Mapping[str, str]) -> int:
    limit = _int(params, "limit", 1, MAX_LIMIT)
    return DEFAULT_LIMIT if limit is None else limit


@dataclass(frozen=True)
class Cursor:
    score: int
    date: dt.date
    id: int

    def encode(self) -> str:
        raw = json.dumps([self.score, self.date.isoformat(), self.id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            score, date, rid = json.loads(raw)
            if not (isinstance(score, int) and isinstance(rid, int) and isinstance(date, str)):
                raise ValueError
            if not (0 <= score <= MAX_TERMS and 0 <= rid < 2**63):
                raise ValueError
            return cls(score, dt.date.fromisoformat(date), rid)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
            raise BadRequest("cursor: not a cursor this API gave out (pass `next` back unchanged)") from None


def parse_cursor(params: Mapping[str, str]) -> Cursor | None:
    text = (params.get("cursor") or "").strip()
    if not text:
        return None
    if len(text) > 200:
        raise BadRequest("cursor: not a cursor this API gave out (pass `next` back unchanged)")
    return Cursor.decode(text)


# -- search -----------------------------------------------------------------------------------------------


@dataclass
class Term:
    folded: str  # as the server folds it (NFKC, lower case)

    @property
    def grams(self) -> list[str]:
        """The characters and adjacent pairs the index holds for any text containing this term."""
        t = self.folded
        return list(dict.fromkeys([*t, *(t[i:i + 2] for i in range(len(t) - 1))]))

    @property
    def exact_by_index(self) -> bool:
        return len(self.folded) <= 2


def fold_terms(conn: psycopg.Connection, terms: list[str]) -> list[Term]:
    """Terms folded by the server, exactly as it folds the reports' text (Unicode versions may differ)."""
    if not terms:
        return []
    rows = conn.execute("SELECT gongkai_search_fold(t) FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n",
                        (terms,)).fetchall()
    folded = [row[0] for row in rows if row[0] and row[0].strip()]
    # A term that folds to spaces (a full-width space) is no term; each term once.
    return [Term(t) for t in dict.fromkeys(p for f in folded for p in f.split())]


_KEY = "\x01"  # the filter keys of gongkai_search_keys() start with chr(1), which no gram holds
_INDEX_EXPR = '(gongkai_search_keys(r.search_text, r.site, r.period_year, r.kinds) COLLATE "C")'


@dataclass
class Plan:
    """The WHERE of a search: conditions, rechecks (terms of three or more characters, whose pairs the
    index only says are all there), parameters, and whether the search index is the way in."""

    conds: list[str]
    rechecks: list[str]
    params: dict[str, Any]
    indexed: bool

    def where(self, col: str = "r.") -> str:
        return " AND ".join(self.conds + [c.format(col=col) for c in self.rechecks]) or "true"


def _where(conn: psycopg.Connection, filters: Filters, terms: list[Term]) -> Plan:
    conds: list[str] = []
    rechecks: list[str] = []
    params: dict[str, Any] = {}
    # Keys every match holds: the terms' characters and pairs, its site, year and kind (migration 0008).
    keys = list(dict.fromkeys(g for t in terms for g in t.grams))
    for n, term in enumerate(terms):
        if not term.exact_by_index:
            params[f"t{n}"] = term.folded
            rechecks.append(f"strpos({{col}}search_text, %(t{n})s) > 0")
    if filters.site is not None:
        keys.append(f"{_KEY}s{filters.site}")
    if filters.year is not None:
        keys.append(f"{_KEY}y{filters.year}")
    if filters.kind:
        keys.append(f"{_KEY}k{filters.kind}")
    # A prefecture or county is the set of its sites: any of their keys.
    any_site: list[str] | None = None
    if filters.city is not None or filters.county is not None:
        names = [row[0] for row in conn.execute(
            "SELECT name FROM sites WHERE (%(city)s::text IS NULL OR city = %(city)s)"
            " AND (%(county)s::text IS NULL OR county = %(county)s) ORDER BY name",
            {"city": filters.city, "county": filters.county})]
        any_site = [f"{_KEY}s{name}" for name in names]
    indexed = bool(keys) or any_site is not None
    if keys:
        params["keys"] = keys
        conds.append(f"{_INDEX_EXPR} @> %(keys)s::text[]")
    if any_site is not None:
        params["any_site"] = any_site
        conds.append(f"{_INDEX_EXPR} && %(any_site)s::text[]" if any_site else "false")
    if not filters.include_withdrawn:
        conds.append("r.withdrawn_at IS NULL")
    # The filters again, as plain conditions (the keys already decide them; these are cheap checks). When
    # the search index is the way in, they are written so that no other index can serve them (`|| ''`):
    # through reports_site the planner would compute gongkai_search_keys() (~10 ms) for every report of a
    # site instead of asking the index once (it costs both paths by the rows they estimate).
    fence = " || ''" if indexed else ""
    simple = {"city": "s.city", "county": "s.county", "town": "COALESCE(s.town, r.publisher)",
              "year": "r.period_year", "publisher": f"r.publisher{fence}", "site": f"r.site{fence}"}
    for name, column in simple.items():
        value = getattr(filters, name)
        if value is not None:
            params[name] = value
            conds.append(f"{column} = %({name})s")
    if filters.kind:
        params["kind"] = [filters.kind]
        conds.append("r.kinds @> %(kind)s::text[]")
    if filters.date_from:
        params["date_from"] = filters.date_from
        conds.append("r.published_date >= %(date_from)s")
    if filters.date_to:
        params["date_to"] = filters.date_to
        conds.append("r.published_date <= %(date_to)s")
    return Plan(conds, rechecks, params, indexed)


def _plan_for_search(conn: psycopg.Connection, plan: Plan) -> None:
    """With index keys, the search index is the way in: the planner charges the key function (COST) to
    every row a path reads, the index's bitmap recheck included, so for a character most reports hold it
    would rather compute the keys of every report in a sequential scan (seconds)."""
    if plan.indexed:
        conn.execute("SET LOCAL enable_seqscan = off")


def _score_sql(terms: list[Term], params: dict[str, Any]) -> str:
    if not terms:
        return "0"
    parts = []
    for n, term in enumerate(terms):
        params[f"s{n}"] = term.folded
        parts.append(f"(strpos(gongkai_search_fold(r.title), %(s{n})s) > 0)::int")
    return " + ".join(parts)


@dataclass
class Hit:
    id: int
    url: str
    title: str
    site: str
    publisher: str | None
    published_date: dt.date | None
    period_year: int | None
    kinds: list[str]
    city: str | None
    county: str | None
    town: str | None
    withdrawn_at: dt.datetime | None
    score: int
    snippet: str = ""
    highlights: list[tuple[int, int]] = field(default_factory=list)
    title_highlights: list[tuple[int, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "title": self.title, "site": self.site, "publisher": self.publisher,
                "published_date": self.published_date.isoformat() if self.published_date else None,
                "period_year": self.period_year, "kinds": self.kinds, "city": self.city, "county": self.county,
                "town": self.town, "withdrawn_at": self.withdrawn_at.isoformat() if self.withdrawn_at else None,
                "score": self.score, "snippet": self.snippet, "highlights": [list(h) for h in self.highlights],
                "links": {"self": f"/api/reports/{self.id}", "page": f"/reports/{self.id}"}}


@dataclass
class Page:
    items: list[Hit]
    next: Cursor | None
    terms: list[Term]


def _from(plan: Plan) -> str:
    """reports joined to their site; through the search index, by a join no index of reports serves."""
    return "FROM reports r LEFT JOIN sites s ON s.name = r.site" + (" || ''" if plan.indexed else "")


def search(conn: psycopg.Connection, filters: Filters, limit: int = DEFAULT_LIMIT,
           cursor: Cursor | None = None) -> Page:
    """One page of matches in rank order, after `cursor`; with snippets."""
    limit = max(1, min(limit, MAX_LIMIT))
    terms = fold_terms(conn, filters.terms())
    if filters.terms() and not terms:
        return Page([], None, [])
    plan = _where(conn, filters, terms)
    params = plan.params
    score = _score_sql(terms, params)
    outer = [c.format(col="") for c in plan.rechecks]
    if cursor is not None:
        params.update(c_score=cursor.score, c_date=cursor.date, c_id=cursor.id)
        outer.append("(score, sort_date, id) < (%(c_score)s, %(c_date)s, %(c_id)s)")
    params["limit"] = limit + 1
    # The candidates are sorted first (small rows: the folded text stays a TOAST pointer) and the
    # rechecks run on them in rank order until the page is full, not on every candidate.
    sql = f"""
        SELECT id, url, title, site, publisher, published_date, period_year, kinds, city, county, town,
               withdrawn_at, score, sort_date FROM (
            SELECT r.id, r.url, r.title, r.site, r.publisher, r.published_date, r.period_year, r.kinds,
                   s.city, s.county, COALESCE(s.town, r.publisher) AS town, r.withdrawn_at,
                   {score} AS score, COALESCE(r.published_date, DATE '0001-01-01') AS sort_date,
                   r.search_text
            {_from(plan)}
            WHERE {' AND '.join(plan.conds)}
            ORDER BY score DESC, sort_date DESC, id DESC
            {'OFFSET 0' if outer else ''}
        ) m {'WHERE ' + ' AND '.join(outer) if outer else ''}
        ORDER BY score DESC, sort_date DESC, id DESC
        LIMIT %(limit)s"""
    _plan_for_search(conn, plan)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql, params).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    hits = [Hit(**{k: v for k, v in row.items() if k != "sort_date"}) for row in rows]
    if hits:
        # The snippet may come from a cover note or a file's text: search finds a report by those too.
        bodies = dict(conn.execute("SELECT id, concat_ws(E'\\n', cover_note, body, attachment_text) FROM reports"
                                   " WHERE id = ANY(%s)", ([h.id for h in hits],)).fetchall())
        folded = [t.folded for t in terms]
        for hit in hits:
            hit.snippet, hit.highlights = snippet(bodies.get(hit.id, ""), folded)
            hit.title_highlights = find_spans(hit.title, folded)
    last = rows[-1] if rows else None
    nxt = Cursor(last["score"], last["sort_date"], last["id"]) if more and last else None
    return Page(hits, nxt, terms)


def count_and_facets(conn: psycopg.Connection, filters: Filters) -> dict[str, Any]:
    """How many reports match, and how many per year, kind, prefecture, county, town, publisher."""
    terms = fold_terms(conn, filters.terms())
    if filters.terms() and not terms:
        return {"total": 0, "year": [], "kind": [], "city": [], "county": [], "town": []}
    plan = _where(conn, filters, terms)
    params = plan.params
    _plan_for_search(conn, plan)
    sql = f"""
        WITH m AS MATERIALIZED (
            SELECT r.period_year, r.kinds, s.city, s.county, COALESCE(s.town, r.publisher) AS town
            {_from(plan)} WHERE {plan.where()})
        SELECT 'total', NULL, count(*) FROM m
        UNION ALL (SELECT 'year', period_year::text, count(*) FROM m WHERE period_year IS NOT NULL
                   GROUP BY period_year ORDER BY period_year DESC)
        UNION ALL (SELECT 'kind', k, count(*) FROM m, unnest(m.kinds) k GROUP BY k ORDER BY k)
        UNION ALL (SELECT 'city', city, count(*) FROM m WHERE city IS NOT NULL GROUP BY city ORDER BY 3 DESC, 2 LIMIT 50)
        UNION ALL (SELECT 'county', county, count(*) FROM m WHERE county IS NOT NULL GROUP BY county
                   ORDER BY 3 DESC, 2 LIMIT 50)
        UNION ALL (SELECT 'town', town, count(*) FROM m WHERE town IS NOT NULL GROUP BY town ORDER BY 3 DESC, 2 LIMIT 50)
    """
    out: dict[str, Any] = {"total": 0, "year": [], "kind": [], "city": [], "county": [], "town": []}
    for facet, value, count in conn.execute(sql, params):
        if facet == "total":
            out["total"] = count
        else:
            out[facet].append((value, count))
    return out


# -- snippets and highlighting ----------------------------------------------------------------------------


def _fold_char(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch).lower()


def fold_with_map(text: str) -> tuple[str, list[int]]:
    """`text` folded as the server folds it, and for each folded character the index of the original
    character it came from (so a match in the folded text is highlighted in the original)."""
    whole = unicodedata.normalize("NFKC", text).lower()
    if len(whole) == len(text):
        return whole, list(range(len(text)))
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        f = _fold_char(ch)
        out.append(f)
        origin.extend([i] * len(f))
    return "".join(out), origin


def find_spans(text: str, folded_terms: list[str]) -> list[tuple[int, int]]:
    """(start, end) of every occurrence of the terms in `text`, merged, in the original's offsets."""
    if not folded_terms or not text:
        return []
    folded, origin = fold_with_map(text)
    spans = []
    for term in folded_terms:
        start = folded.find(term)
        while start >= 0:
            end = start + len(term)
            spans.append((origin[start], origin[end - 1] + 1))
            start = folded.find(term, end)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


SNIPPET_BEFORE = 40
SNIPPET_CHARS = 160


def snippet(body: str, folded_terms: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """About 160 characters of the body around the first match (or its start), one line, with the
    matches' offsets within the snippet."""
    spans = find_spans(body, folded_terms)
    start = max(0, spans[0][0] - SNIPPET_BEFORE) if spans else 0
    end = min(len(body), start + SNIPPET_CHARS)
    text = body[start:end]
    # One line: paragraph breaks become spaces (same length, so the offsets hold).
    text = text.replace("\r", " ").replace("\n", " ")
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(body) else ""
    shift = len(prefix)
    marks = [(max(s, start) - start + shift, min(e, end) - start + shift) for s, e in spans if s < end and e > start]
    return prefix + text + suffix, marks


def segments(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """`text` cut into (piece, highlighted) for a template that escapes each piece."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for s, e in spans:
        if s > pos:
            out.append((text[pos:s], False))
        out.append((text[s:e], True))
        pos = e
    if pos < len(text):
        out.append((text[pos:], False))
    return out


# -- a report, a site ------------------------------------------------------------------------------------


def report(conn: psycopg.Connection, report_id: int) -> dict[str, Any]:
    """A report with its region, every URL it was found at and its earlier versions (oldest first)."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            """SELECT r.id, r.seq, r.url, r.site, r.title, r.index_no, r.publisher, r.doc_no, r.written_date,
                      r.published_date, r.category, r.body, r.attachments, r.metadata, r.version, r.first_seen_at,
                      r.updated_at, r.withdrawn_at, r.period_year, r.period_half, r.kinds, r.extraction,
                      r.body_source, r.cover_note, r.attachment_text, r.files,
                      s.province, s.city, s.county, COALESCE(s.town, r.publisher) AS town
               FROM reports r LEFT JOIN sites s ON s.name = r.site WHERE r.id = %s""", (report_id,)).fetchone()
        if row is None:
            raise NotFound(f"no report {report_id}")
        row["urls"] = cur.execute(
            "SELECT url, relation, first_seen_at FROM report_urls WHERE report_id = %s ORDER BY first_seen_at, url",
            (report_id,)).fetchall()
        row["versions"] = cur.execute(
            """SELECT version, title, body, fields, valid_from, valid_to FROM report_versions
               WHERE report_id = %s ORDER BY version""", (report_id,)).fetchall()
        fetched = cur.execute(
            "SELECT max(fetched_at) AS at FROM staged_pages WHERE report_id = %s AND status = 200",
            (report_id,)).fetchone()
    row["retrieved_at"] = (fetched and fetched["at"]) or row["updated_at"]
    return row


def all_versions(rep: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every version of a report, oldest first, the current one last."""
    current = {"version": rep["version"], "title": rep["title"], "body": rep["body"], "valid_from": rep["updated_at"],
               "valid_to": None, "current": True}
    return [*({**v, "current": False} for v in rep["versions"]), current]


def diff_lines(old: str, new: str) -> list[dict[str, Any]]:
    """A paragraph diff of two bodies (one paragraph per line); a changed paragraph also gets its
    character-level changes. Each row: {"op": equal|insert|delete|replace, "old": [...], "new": [...]}
    where a replaced line is a list of (text, changed) pieces."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[dict[str, Any]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            rows.append({"op": "equal", "old": [[(x, False)] for x in a[i1:i2]], "new": [[(x, False)] for x in b[j1:j2]]})
        elif op == "delete":
            rows.append({"op": "delete", "old": [[(x, True)] for x in a[i1:i2]], "new": []})
        elif op == "insert":
            rows.append({"op": "insert", "old": [], "new": [[(x, True)] for x in b[j1:j2]]})
        else:
            old_lines, new_lines = [], []
            for k in range(max(i2 - i1, j2 - j1)):
                x = a[i1 + k] if i1 + k < i2 else None
                y = b[j1 + k] if j1 + k < j2 else None
                if x is not None and y is not None:
                    ox, oy = _char_diff(x, y)
                    old_lines.append(ox)
                    new_lines.append(oy)
                elif x is not None:
                    old_lines.append([(x, True)])
                else:
                    new_lines.append([(y, True)])
            rows.append({"op": "replace", "old": old_lines, "new": new_lines})
    return rows


def _char_diff(x: str, y: str) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    ox: list[tuple[str, bool]] = []
    oy: list[tuple[str, bool]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, x, y, autojunk=False).get_opcodes():
        if op == "equal":
            ox.append((x[i1:i2], False))
            oy.append((y[j1:j2], False))
        else:
            if i2 > i1:
                ox.append((x[i1:i2], True))
            if j2 > j1:
                oy.append((y[j1:j2], True))
    return ox, oy


def sites(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every site (configured, or only seen in reports) with its report counts and its last crawl."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """WITH counts AS (
                   SELECT site, count(*) AS reports, count(*) FILTER (WHERE withdrawn_at IS NOT NULL) AS withdrawn,
                          max(published_date) AS latest_published
                   FROM reports GROUP BY site),
               names AS (SELECT name FROM sites UNION SELECT site FROM counts)
               SELECT n.name, s.province, s.city, s.county, s.town, s.platform, COALESCE(s.listings, '{}') AS listings,
                      COALESCE(c.reports, 0) AS reports, COALESCE(c.withdrawn, 0) AS withdrawn, c.latest_published,
                      lr.started_at AS last_crawl_started, lr.finished_at AS last_crawl_finished,
                      lr.status AS last_crawl_status
               FROM names n LEFT JOIN sites s ON s.name = n.name LEFT JOIN counts c ON c.site = n.name
               LEFT JOIN LATERAL (SELECT started_at, finished_at, status FROM crawl_runs cr
                                  WHERE cr.site = n.name ORDER BY cr.id DESC LIMIT 1) lr ON true
               ORDER BY n.name""").fetchall()


def site(conn: psycopg.Connection, name: str) -> dict[str, Any]:
    """A site: its row, report counts (per year and kind), its last crawls."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT name, province, city, county, town, platform, listings, updated_at FROM sites"
                          " WHERE name = %s", (name,)).fetchone()
        counts = cur.execute(
            """SELECT count(*) AS reports, count(*) FILTER (WHERE withdrawn_at IS NOT NULL) AS withdrawn,
                      min(published_date) AS first_published, max(published_date) AS latest_published
               FROM reports WHERE site = %s""", (name,)).fetchone()
        if row is None and not counts["reports"]:
            raise NotFound(f"no site {name!r}")
        row = row or {"name": name, "province": None, "city": None, "county": None, "town": None, "platform": None,
                      "listings": [], "updated_at": None}
        row.update(counts)
        row["per_year"] = cur.execute(
            """SELECT period_year AS year, count(*) AS reports FROM reports WHERE site = %s AND withdrawn_at IS NULL
               GROUP BY period_year ORDER BY period_year DESC NULLS LAST""", (name,)).fetchall()
        row["per_kind"] = cur.execute(
            """SELECT k AS kind, count(*) AS reports FROM reports, unnest(kinds) k
               WHERE site = %s AND withdrawn_at IS NULL GROUP BY k ORDER BY k""", (name,)).fetchall()
        row["crawls"] = cur.execute(
            """SELECT id, started_at, finished_at, status, error, full_walk, revalidated,
                      COALESCE((stats ->> 'fetched')::integer, 0) AS fetched,
                      COALESCE((stats ->> 'failed')::integer, 0) AS failed
               FROM crawl_runs WHERE site = %s ORDER BY id DESC LIMIT 10""", (name,)).fetchall()
    row["last_crawl"] = row["crawls"][0] if row["crawls"] else None
    return row


def filter_choices(conn: psycopg.Connection) -> dict[str, list[Any]]:
    """Values the search form offers: prefectures, counties, years."""
    return {
        "city": [r[0] for r in conn.execute("SELECT DISTINCT city FROM sites WHERE city IS NOT NULL ORDER BY 1")],
        "county": [r[0] for r in conn.execute("SELECT DISTINCT county FROM sites WHERE county IS NOT NULL ORDER BY 1")],
        "year": [r[0] for r in conn.execute(
            "SELECT DISTINCT period_year FROM reports WHERE period_year IS NOT NULL ORDER BY 1 DESC LIMIT 50")],
    }
