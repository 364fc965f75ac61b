"""Extraction alarms: a portal's redesign must not silently empty a field or every new report.

A layout change rarely breaks a crawl: the pages still answer 200 and the extractor still finds some
body. What breaks is quieter: the 索引号 block moves and every new report lacks it, or a new template
hides the body and pages come back as "no article title or body found". So for each site the latest
reports are compared with the site's own history (a field it had in nearly every earlier report and
now lacks in most of the latest ones), the latest article pages are checked for ones that gave no
report at all, and the latest reports for ones stored flagged (reports.extraction: text that could not be read). `gongkai status` prints the alarms; the service logs them and exports a gauge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

# Report fields a site either always fills or never does (doc_no is often legitimately empty: 无).
FIELDS = {"index_no": "索引号", "publisher": "发布机构", "published_date": "发布日期", "written_date": "成文日期",
          "category": "组配分类"}
RECENT = 10  # the latest reports (and article pages) of a site that are checked
HISTORY = 200  # at most this many reports before them make the site's normal
MIN_HISTORY = 10  # fewer earlier reports than this: no normal to compare with
WAS = 0.9  # a field present in at least this share of earlier reports…
NOW_BELOW = 0.5  # …and in less than this share of the latest ones is an alarm
NO_ARTICLE_NOTE = "refetch: no article title or body found"


@dataclass
class SiteExtraction:
    """What a site's latest reports and pages look like beside its earlier ones."""

    site: str
    recent: int = 0  # latest reports with a body (attachment-only reports say nothing of the template)
    recent_present: dict[str, int] = field(default_factory=dict)
    earlier: int = 0
    earlier_present: dict[str, int] = field(default_factory=dict)
    pages: int = 0  # latest HTML article pages ingested
    no_article: int = 0  # of which gave no title or body
    flagged: int = 0  # latest reports stored with an extraction status (reports.extraction: mojibake, ...)
    flagged_example: str | None = None  # the extraction status of the latest of them


@dataclass(frozen=True)
class Alarm:
    site: str
    check: str  # a field name, "no_article", or "extraction" (latest reports stored flagged)
    message: str


def read_site_extraction(conn: psycopg.Connection, sites: list[str] | None = None) -> list[SiteExtraction]:
    """Per site, field counts of its latest RECENT reports with a body and of up to HISTORY before them, and
    how many of its latest RECENT ingested HTML pages gave no article."""
    present = ", ".join(f"count(*) FILTER (WHERE COALESCE({name}::text, '') <> '')" for name in FIELDS)
    rows = conn.execute(
        f"""SELECT site, rn <= %(recent)s, count(*), count(*) FILTER (WHERE extraction IS NOT NULL),
                   (array_agg(extraction ORDER BY rn) FILTER (WHERE extraction IS NOT NULL))[1], {present}
            FROM (SELECT site, extraction, {", ".join(FIELDS)},
                         row_number() OVER (PARTITION BY site ORDER BY updated_at DESC, id DESC) AS rn
                  FROM reports
                  WHERE withdrawn_at IS NULL AND body <> '' AND (%(sites)s::text[] IS NULL OR site = ANY(%(sites)s))
                 ) r
            WHERE rn <= %(recent)s + %(history)s
            GROUP BY site, rn <= %(recent)s""",
        {"recent": RECENT, "history": HISTORY, "sites": sites}).fetchall()
    found: dict[str, SiteExtraction] = {}
    for site, is_recent, count, flagged, example, *counts in rows:
        entry = found.setdefault(site, SiteExtraction(site))
        by_field = dict(zip(FIELDS, counts, strict=True))
        if is_recent:
            entry.recent, entry.recent_present = count, by_field
            entry.flagged, entry.flagged_example = flagged, example
        else:
            entry.earlier, entry.earlier_present = count, by_field
    # Each URL's latest fetch only: a broken page refetched every crawl is one page, not ten.
    pages = conn.execute(
        """SELECT site, count(*), count(*) FILTER (WHERE ingest_note = %(note)s)
           FROM (SELECT site, ingest_note, row_number() OVER (PARTITION BY site ORDER BY id DESC) AS rn
                 FROM (SELECT DISTINCT ON (url) id, site, ingest_note FROM staged_pages
                       WHERE ingest_state <> 'pending' AND status = 200
                         AND (ingest_note IS NULL OR ingest_note NOT LIKE 'skipped:%%' AND ingest_note <> 'files')
                         AND (%(sites)s::text[] IS NULL OR site = ANY(%(sites)s))
                       ORDER BY url, id DESC) latest) p
           WHERE rn <= %(recent)s GROUP BY site""",
        {"recent": RECENT, "sites": sites, "note": NO_ARTICLE_NOTE}).fetchall()
    for site, count, no_article in pages:
        entry = found.setdefault(site, SiteExtraction(site))
        entry.pages, entry.no_article = count, no_article
    return [found[name] for name in sorted(found)]


def extraction_alarms(sites: list[SiteExtraction]) -> list[Alarm]:
    """The sites whose latest reports lack a field their history had, or whose latest pages gave no article."""
    alarms = []
    for s in sites:
        if s.earlier >= MIN_HISTORY and s.recent >= RECENT // 2:
            for name, label in FIELDS.items():
                was = s.earlier_present.get(name, 0) / s.earlier
                now = s.recent_present.get(name, 0) / s.recent
                if was >= WAS and now < NOW_BELOW:
                    alarms.append(Alarm(s.site, name, f"{s.site}: {label} missing from {s.recent - s.recent_present.get(name, 0)}"
                                                      f" of its latest {s.recent} reports (in {was:.0%} before)"))
        if s.flagged:  # text that could not be read is stored flagged, never as a clean report: say so
            alarms.append(Alarm(s.site, "extraction", f"{s.site}: {s.flagged} of its latest {s.recent} reports stored "
                                                      f"flagged by extraction ({s.flagged_example})"))
        if s.pages >= 3 and s.no_article * 2 >= s.pages:
            alarms.append(Alarm(s.site, "no_article", f"{s.site}: {s.no_article} of its latest {s.pages} article pages "
                                                      "gave no title or body (a new template?)"))
    return alarms
