"""Plain data types shared by the crawler, the extractor, the store and the replica portals."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Attachment:
    """A file linked from an article: its shown name and absolute URL."""

    name: str
    url: str


@dataclass
class ArticleFields:
    """Everything the extractor reads from one article page.

    Dates are ISO strings (YYYY-MM-DD) or None. `metadata` maps each label of the
    metadata block (padding spaces removed, e.g. "索 引 号" -> "索引号") to its value
    exactly as shown (stripped); the first occurrence of a label wins.
    `body` is plain text, one paragraph per line, no chrome.
    `source` is the 来源 the page names (信息来源, 来源: a newspaper, the town that wrote it), shown apart
    from the body. `problems` names what extraction could not read (no metadata block, an empty body,
    undecodable text ...): empty for a clean report, stored as the report's extraction status.
    What the report's files gave (filled by ingest when their fetches are staged, pages.read_files):
    `body_source` says where `body` was read (page, attachment, ocr); `cover_note` is a pointer page's own
    text when the body came from its file; `attachment_text` the text of files beside a page's own body;
    `files` one record per attachment (README "Report files").
    """

    title: str
    body: str
    index_no: str | None = None
    publisher: str | None = None
    doc_no: str | None = None
    written_date: str | None = None
    published_date: str | None = None
    category: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    problems: list[str] = field(default_factory=list)
    body_source: str = "page"
    cover_note: str | None = None
    attachment_text: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ListingRecord:
    """One row of a column listing: where the article is and what the listing says about it."""

    url: str
    title: str
    date: str | None = None
