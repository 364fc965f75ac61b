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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ListingRecord:
    """One row of a column listing: where the article is and what the listing says about it."""

    url: str
    title: str
    date: str | None = None
