"""Turn one staged raw response into an outcome: an article, a withdrawal, or a reason it is neither.

Pure: bytes and headers in, data out. The store decides what the outcome does to the reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gongkai.ingest.decode import decode_html
from gongkai.ingest.extract import extract_article, is_challenge_page
from gongkai.models import ArticleFields


@dataclass
class StagedPage:
    id: int
    url: str
    final_url: str
    site: str
    status: int
    headers: dict[str, list[str]]
    body: bytes
    fetched_at: Any


@dataclass
class PageOutcome:
    kind: str  # article | gone | retry | skip
    fields: ArticleFields | None = None
    note: str = ""
    fingerprint: Any = None  # store.Fingerprint, filled in before the write phase


def content_type(headers: dict[str, list[str]]) -> str | None:
    for key, values in headers.items():
        if key.lower() == "content-type" and values:
            return values[0]
    return None


def examine_page(page: StagedPage) -> PageOutcome:
    """What this response means for the report at its URL."""
    if page.status in (404, 410):
        return PageOutcome("gone", note=f"HTTP {page.status}")
    if page.status != 200:
        return PageOutcome("retry", note=f"HTTP {page.status}")
    if not page.body.strip():
        return PageOutcome("retry", note="empty response")
    ctype = content_type(page.headers) or ""
    if ctype and not any(t in ctype.lower() for t in ("html", "xml", "text/plain")):
        return PageOutcome("skip", note=f"not an HTML page: {ctype}")
    html = decode_html(page.body, ctype or None)
    if is_challenge_page(html):
        return PageOutcome("retry", note="anti-bot challenge page instead of the article")
    fields = extract_article(html, page.final_url or page.url)
    if not fields.title or not fields.body.strip() and not fields.attachments:
        return PageOutcome("retry", note="no article title or body found")
    return PageOutcome("article", fields=fields)
