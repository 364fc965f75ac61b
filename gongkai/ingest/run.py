"""The ingest loop: claim pending staged pages, examine them, store the outcomes, repeat.

Each batch is one transaction: rows are claimed with FOR UPDATE SKIP LOCKED (so several workers
share the queue without overlap) and marked done in the same commit as the reports they produced,
so a worker killed mid-batch leaves its pages pending for the next one: none lost, none doubled.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

import psycopg

from gongkai.crawler import frontier as crawl_frontier
from gongkai.crawler import staging
from gongkai.ingest.decode import GARBLED
from gongkai.ingest.pages import (
    SOFT_404,
    PageOutcome,
    StagedFile,
    StagedPage,
    examine_page,
    is_pointer,
    read_files,
)
from gongkai.ingest.store import StoreItem, add_listed_aliases, fingerprint, store_batch
from gongkai.models import Attachment
from gongkai.urls import requested_forms

logger = logging.getLogger(__name__)

# Pages per transaction. Part of the store's cost is per batch, not per page (feed lock and lookups in one
# round trip, a COPY, one pipeline, a commit and its fsync: ~7 ms): at 50 pages that was about a third of
# the store's time (2,000 bench store rows: about a fifth faster in batches of 100 than of 50). At 100, a
# batch's extraction (~1 s of CPU) still commits often enough for the feed and for a SIGTERM to stop soon.
BATCH_SIZE = 100


def ingest_pending(conn: psycopg.Connection, *, batch_size: int = BATCH_SIZE,
                   on_batch: Callable[[Counter], None] | None = None, notify: bool = True) -> Counter:
    """Ingest until no pending page is left. Returns counts of outcomes (new, updated, unchanged...)."""
    totals: Counter = Counter()
    while True:
        try:
            counts = ingest_batch(conn, batch_size=batch_size, notify=notify)
        except psycopg.OperationalError as exc:
            from gongkai.db import DatabaseError

            first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
            raise DatabaseError(f"the database went away during ingest ({first}); {sum(totals.values())} pages "
                                "were ingested, the rest stay pending for the next `gongkai ingest`") from exc
        if not counts:
            break
        totals.update(counts)
        if on_batch:
            on_batch(counts)
    with conn.transaction(), conn.cursor() as cur:  # URLs the crawl listed of stored articles and did not fetch
        if aliases := add_listed_aliases(cur):
            totals["column"] += aliases
            if notify:
                cur.execute("SELECT pg_notify('gongkai_reports', seq::text) FROM feed_counter")
    return totals


def ingest_batch(conn: psycopg.Connection, *, batch_size: int = BATCH_SIZE, notify: bool = True) -> Counter:
    """Claim, examine and store one batch, in one transaction.

    Extraction runs before the feed lock is taken; the store then writes the whole batch set-based
    (store_batch), and the pages are marked in one statement: a batch costs a fixed number of round
    trips, not a few per page.
    """
    counts: Counter = Counter()
    with conn.transaction(), conn.cursor() as cur:
        rows = cur.execute(
            """SELECT id, url, final_url, site, status, headers, body, fetched_at, listing_title, listing_date
               FROM staged_pages
               WHERE ingest_state = 'pending' ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
            (batch_size,),
        ).fetchall()
        if not rows:
            return counts
        pages = [StagedPage(id=r[0], url=r[1], final_url=r[2], site=r[3], status=r[4], headers=r[5] or {},
                            body=bytes(r[6]), fetched_at=r[7], listing_title=r[8], listing_date=r[9]) for r in rows]
        started = time.monotonic()
        outcomes: list[PageOutcome | Exception] = []
        for page in pages:
            try:
                outcomes.append(examine_page(page))
            except Exception as exc:  # a parser bug must not stop the queue; the page is kept for reingest
                logger.exception("extraction failed for staged page %s (%s)", page.id, page.url)
                outcomes.append(exc)
        read_attached_documents(cur, outcomes)
        for outcome in outcomes:
            if isinstance(outcome, PageOutcome) and outcome.kind == "article":
                outcome.fingerprint = fingerprint(outcome.fields)  # CPU work, before the write lock
        confirm_soft_404s(cur, pages, outcomes)
        keep_clean_reports(cur, pages, outcomes)
        completed = completed_reports(cur, pages, outcomes)
        to_store: list[int] = []
        items: list[StoreItem] = []  # articles, and gone URLs (fields None) whose reports get withdrawn
        for n, outcome in enumerate(outcomes):
            if isinstance(outcome, PageOutcome) and outcome.kind in ("article", "gone"):
                to_store.append(n)
                items.append(StoreItem(pages[n], outcome.fields, outcome.fingerprint,
                                       completes=pages[n].url in completed))
        stored = store_batch(cur, items)
        results = dict(zip(to_store, stored.outcomes, strict=True))
        marks: list[tuple[int, str, str, int | None]] = []
        frontier: list[tuple[str, str, str, int]] = []
        for n, (page, outcome) in enumerate(zip(pages, outcomes, strict=True)):
            state, note, report_id = _apply(page, outcome, results.get(n), frontier)
            counts[note.split(":", 1)[0] if state != "done" else note] += 1
            marks.append((page.id, state, note, report_id))
        with conn.pipeline():
            if frontier:
                # Only from a URL's latest fetch: a later one (in this batch, or staged since) has set its state.
                crawl_frontier.set_states(cur, frontier)
            staging.mark_ingested(cur, marks)
            requeue_articles_of_documents(cur, pages, outcomes)
            if notify and stored.last_seq is not None:
                cur.execute("SELECT pg_notify('gongkai_reports', %s)", (str(stored.last_seq),))
        logger.debug("ingested %d pages in %.2fs", len(pages), time.monotonic() - started)
    return counts


def read_attached_documents(cur: psycopg.Cursor, outcomes: list[PageOutcome | Exception]) -> None:
    """Articles' files, as the crawl staged them (the latest 200 fetch of each file's URL), are recorded and
    read (pages.read_files): a pointer page takes its body from them, a full page keeps their text beside
    its own. Which fetches: one query for the batch; their bytes: one query per article, so a batch holds
    one article's files in memory at a time (each up to the 16 MB response bound), not every article's."""
    wanting = [o for o in outcomes if isinstance(o, PageOutcome) and o.kind == "article" and o.fields
               and o.fields.attachments and not o.fields.files]  # a listed file was read as it was examined
    if not wanting:
        return
    as_requested = {a.url: requested_forms(a.url) for o in wanting for a in o.fields.attachments}
    latest = dict(cur.execute(
        """SELECT DISTINCT ON (url) url, id FROM staged_pages WHERE url = ANY(%s) AND status = 200
           ORDER BY url, id DESC""", (sorted(set().union(*as_requested.values())),)).fetchall())
    fetch_of = {url: latest[form] for url, forms in as_requested.items() for form in sorted(forms) if form in latest}
    for outcome in wanting:
        ids = {a.url: fetch_of[a.url] for a in outcome.fields.attachments if a.url in fetch_of}
        rows = {row[0]: row for row in cur.execute(
            "SELECT id, url, headers, body FROM staged_pages WHERE id = ANY(%s)", (sorted(set(ids.values())),))
        } if ids else {}
        documents = {url: StagedFile(n, rows[n][1], rows[n][2] or {}, bytes(rows[n][3])) for url, n in ids.items()}
        try:
            outcome.body_from_file = read_files(outcome.fields, documents)
        except Exception:  # a reader bug must not lose the article: it is stored as it was found
            logger.exception("could not read the documents of %s", outcome.fields.title)


def completed_reports(cur: psycopg.Cursor, pages: list[StagedPage], outcomes: list[PageOutcome | Exception]) -> set[str]:
    """URLs of the batch's articles whose body was read from their file into a report stored with only the
    page's pointer text (file names, a cover note: the file came after the article was ingested, or the
    report was stored before files were read): that version is completed, not replaced."""
    urls = [page.url for page, outcome in zip(pages, outcomes, strict=True)
            if isinstance(outcome, PageOutcome) and outcome.body_from_file]
    if not urls:
        return set()
    rows = cur.execute(
        """SELECT u.url, r.body, r.attachments FROM report_urls u JOIN reports r ON r.id = u.report_id
           WHERE u.url = ANY(%s) AND r.body_source IS DISTINCT FROM 'attachment'
             AND r.body_source IS DISTINCT FROM 'ocr'""", (urls,)).fetchall()
    return {url for url, body, attachments in rows if is_pointer(body, _attachments(attachments))}


def requeue_articles_of_documents(cur: psycopg.Cursor, pages: list[StagedPage],
                                  outcomes: list[PageOutcome | Exception]) -> None:
    """A file fetched after its article was ingested (a retried download, an ingest run between the two):
    the article's latest fetch is examined again, now with the file, if its report is still only a pointer
    or has a record of that file as not fetched (its text then goes beside the page's body)."""
    files = [page.url for page, outcome in zip(pages, outcomes, strict=True)
             if isinstance(outcome, PageOutcome) and outcome.kind == "file" and page.status == 200]
    if not files:
        return
    # Candidates by SQL (short bodies with files, reports missing a file), then the article's own test, and
    # the file's URL compared as the crawl requested it (a link may be %-encoded in part, or not at all).
    # octet_length: read from the stored size, where length() would decompress every report's body.
    fetched = set(files)
    reports = cur.execute(
        """SELECT id, CASE WHEN octet_length(body) < 2000 THEN body END, attachments,
                  ARRAY(SELECT f->>'url' FROM jsonb_array_elements(files) f WHERE f->>'note' = 'not fetched')
           FROM reports
           WHERE withdrawn_at IS NULL AND jsonb_array_length(attachments) > 0
             AND (octet_length(body) < 2000 AND body_source IS DISTINCT FROM 'attachment'
                  AND body_source IS DISTINCT FROM 'ocr' OR files @> '[{"note": "not fetched"}]')""",
    ).fetchall()
    waiting = []
    for report_id, body, attachments, missing in reports:
        linked = _attachments(attachments)
        if any(requested_forms(url) & fetched for url in missing) or (
                body is not None and any(requested_forms(a.url) & fetched for a in linked) and is_pointer(body, linked)):
            waiting.append(report_id)
    if waiting:
        staging.requeue_articles_of_reports(cur, waiting, [page.id for page in pages])


def _attachments(stored: list[dict] | None) -> list[Attachment]:
    """A report's attachments as stored (jsonb [{name, url}])."""
    return [Attachment(a["name"], a["url"]) for a in stored or []]


def confirm_soft_404s(cur: psycopg.Cursor, pages: list[StagedPage], outcomes: list[PageOutcome | Exception]) -> None:
    """A soft 404 whose URL's fetch before it was one too is the page gone (its report withdrawn).

    The first is refetched by the next crawl, as a passing glitch of the portal's CMS would be; the
    same answer twice in a row is how these portals say an article was withdrawn, and refetching it
    every crawl forever would leave its report standing. Costs a query only for batches holding one.
    """
    soft = [n for n, o in enumerate(outcomes) if isinstance(o, PageOutcome) and o.kind == "retry" and o.note == SOFT_404]
    if not soft:
        return
    ids, urls = [pages[n].id for n in soft], [pages[n].url for n in soft]
    before = dict(cur.execute(
        """SELECT m.id, p.ingest_note FROM unnest(%s::bigint[], %s::text[]) AS m(id, url)
           CROSS JOIN LATERAL (SELECT ingest_note FROM staged_pages s
                               WHERE s.url = m.url AND s.id < m.id ORDER BY s.id DESC LIMIT 1) p""",
        (ids, urls)).fetchall())
    earlier: dict[str, PageOutcome | Exception] = {}  # the batch's own pages: not marked yet
    for n, (page, outcome) in enumerate(zip(pages, outcomes, strict=True)):
        previous = earlier.get(page.url)
        earlier[page.url] = outcome
        if n not in soft:
            continue
        again = (isinstance(previous, PageOutcome) and previous.note == SOFT_404 if previous is not None
                 else before.get(page.id) == f"refetch: {SOFT_404}")
        if again:
            outcomes[n] = PageOutcome("gone", note=f"{SOFT_404}, twice in a row")


def keep_clean_reports(cur: psycopg.Cursor, pages: list[StagedPage], outcomes: list[PageOutcome | Exception]) -> None:
    """A refetch that came back garbled (mojibake, U+FFFD runs: a proxy's or a CMS cache's passing fault) of a
    page whose report was read cleanly is not a new version of it: the report stays as it is, and the fetch
    counts as failed, so the next crawl fetches the page again. A garbled first fetch is still stored, flagged
    (it is all there is of the report). Costs a query only for batches holding a garbled page."""
    garbled = [n for n, o in enumerate(outcomes) if isinstance(o, PageOutcome) and o.kind == "article" and o.garbled]
    if not garbled:
        return
    # Read cleanly: its extraction status names none of decode.GARBLED.
    clean = {url for (url,) in cur.execute(
        """SELECT u.url FROM report_urls u JOIN reports r ON r.id = u.report_id
           WHERE u.url = ANY(%s) AND (r.extraction IS NULL OR r.extraction !~ %s)""",
        ([pages[n].url for n in garbled], "|".join(GARBLED))).fetchall()}
    for n in garbled:
        if pages[n].url in clean:
            outcomes[n] = PageOutcome("retry", note=f"garbled refetch ({outcomes[n].garbled}): the stored clean "
                                                    "version is kept")


def _apply(page: StagedPage, outcome: PageOutcome | Exception, stored: tuple[str, int | None] | None,
           frontier: list[tuple[str, str, str, int]]) -> tuple[str, str, int | None]:
    """(ingest_state, note, report_id) for one page; frontier updates the outcome calls for go to `frontier`."""
    if isinstance(outcome, Exception):
        return "error", f"error: {outcome.__class__.__name__}: {str(outcome)[:200]}", None
    if outcome.kind == "article":
        assert stored is not None
        return "done", stored[0], stored[1]
    if outcome.kind == "gone":
        assert stored is not None
        if stored[1] is None or outcome.note.startswith(SOFT_404):  # the crawl took a soft 404 for fetched
            frontier.append(("gone", outcome.note, page.url, page.id))
        # "withdrawn" only when a report was: a page gone before any report had its URL is just "gone".
        return "done", "withdrawn" if stored[1] is not None else "gone", stored[1]
    if outcome.kind == "file":  # an article's file: its text goes into that article's report
        return "done", "files", None
    if outcome.kind == "retry":
        # Not an article after all (challenge page, empty body...): the next crawl fetches it again.
        frontier.append(("failed", outcome.note, page.url, page.id))
        logger.warning("staged page %s (%s) is not an article: %s; will refetch", page.id, page.url, outcome.note)
        return "skipped", f"refetch: {outcome.note}", None
    return "skipped", f"skipped: {outcome.note}", None


def queue_reingest(conn: psycopg.Connection, site: str | None = None) -> int:
    """Queue the latest staged response of every URL (of one site) for extraction again.

    Only the latest fetch per URL: replaying older fetches would walk a report back through its old
    versions. The store then changes a report only where the re-extracted text really differs.
    """
    with conn.transaction():
        queued = staging.requeue_latest(conn, site)
    return queued


def _worker(database_url: str) -> dict[str, int]:
    from gongkai.db import connect

    with connect(database_url) as conn:
        return dict(ingest_pending(conn))


def ingest_parallel(database_url: str, workers: int) -> Counter:
    """Ingest with `workers` processes sharing the queue (SKIP LOCKED): extraction is CPU-bound.

    This process is one of them: it has imported the whole ingest stack anyway, and an idle parent
    beside N workers would hold one more interpreter's worth of memory (~80 MB) for nothing.
    """
    import multiprocessing

    totals: Counter = Counter()
    if workers <= 1:
        totals.update(_worker(database_url))
        return totals
    with multiprocessing.get_context("spawn").Pool(workers - 1) as pool:
        others = pool.map_async(_worker, [database_url] * (workers - 1))
        totals.update(_worker(database_url))
        for counts in others.get():
            totals.update(counts)
    return totals
