"""One decoded article page -> its fields: title, body, metadata, dates and attachments.

Composition only: each part is read by its own module (title, body, metadata, attachments; the vocabulary
they match is in selectors). What this module decides is which metadata label fills which field, where a
publish date comes from when the metadata block has none, and what to say in `problems` about a page that
could not be read whole: bad input gives a named problem, never a crash or a silent empty body.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from lxml.html import HtmlElement

from gongkai.dates import parse_date
from gongkai.ingest.attachments import body_images, page_attachments
from gongkai.ingest.body import body_lines, find_body_region, is_files_only, without_file_lines
from gongkai.ingest.decode import text_problem
from gongkai.ingest.html import parse_html, prose_length, squash
from gongkai.ingest.metadata import info_line_date, parse_metadata_block
from gongkai.ingest.selectors import (
    CATEGORY_LABELS,
    DOC_NO_LABELS,
    INDEX_NO_LABELS,
    INFO_LINE_LABELS,
    META_LABELS,
    PUBDATE_META_XPATH,
    PUBLISHED_DATE_LABELS,
    PUBLISHER_LABELS,
    SOURCE_LABELS,
    URL_DATE_RES,
    WRITTEN_DATE_LABELS,
)
from gongkai.ingest.title import TITLE_CUT_MARK, article_title, without_title
from gongkai.models import ArticleFields, Attachment


def extract_article(html: str, url: str) -> ArticleFields:
    """Extract title, body, metadata, dates and attachments from one decoded article page."""
    root = parse_html(html)
    title = article_title(root, html)
    region = find_body_region(root)
    body = body_lines(root, region)
    attachments = page_attachments(root, url)
    lines = without_file_lines(without_title(body.lines, title), [a.name for a in attachments])
    images = False
    if not lines and not attachments:  # a scanned report: its pages are images in the body
        attachments = body_images(root, region, url)
        images = bool(attachments)

    meta = parse_metadata_block(root, title=title, skip=body.in_body)
    written = _date_from(meta, *WRITTEN_DATE_LABELS)
    # The publish date the page shows (labelled, or alone in the info line), else the one its address
    # carries; the PubDate meta (never shown) only on a page that shows no date at all: next to a shown
    # 成文日期 it would pass the CMS's upload time off as a date the page gives.
    published = _date_from(meta, *PUBLISHED_DATE_LABELS) or info_line_date(root, title) or _url_date(url)
    if published is None and written is None:
        for pub in root.xpath(PUBDATE_META_XPATH):
            published = parse_date(pub)
            if published:
                break

    problems = page_problems(root, title, lines, attachments, meta, images)
    return ArticleFields(
        title=title,
        body="\n".join(lines),
        index_no=_meta_value(meta, *INDEX_NO_LABELS),
        publisher=_meta_value(meta, *PUBLISHER_LABELS),
        doc_no=_meta_value(meta, *DOC_NO_LABELS),
        written_date=written,
        published_date=published,
        category=_meta_value(meta, *CATEGORY_LABELS),
        attachments=attachments,
        metadata=meta,
        source=_meta_value(meta, *SOURCE_LABELS) or body.source,
        problems=problems,
    )


# What `problems` may say: short, stable strings (stored as the report's extraction status).
NO_TITLE = "no title"
TITLE_CUT = "title cut"
EMPTY_BODY = "empty body"
IMAGE_ONLY = "image-only"
ATTACHMENT_ONLY = "attachment-only"
NO_METADATA_BLOCK = "no metadata block"
BODY_SHORT = "body shorter than the page's visible text"
# A body shorter than this share of the page's running text, by more than BODY_SHORT_GAP characters, has
# lost part of the page (a huge node, a container that holds only the first page of the text).
BODY_SHORT_SHARE = 0.3
BODY_SHORT_GAP = 3000


def _may_be_short(root: HtmlElement, length: int) -> bool:
    """Whether the page holds text enough (scripts and all: a bound, counted in C) for a body of `length`
    characters to be far shorter than its running text; most pages do not, and are not walked again."""
    body = root.find("body")
    everything = len(squash((body if body is not None else root).text_content()))
    return length < BODY_SHORT_SHARE * everything and everything - length > BODY_SHORT_GAP


def page_problems(root: HtmlElement, title: str, lines: list[str], attachments: list[Attachment],
                  meta: dict[str, str], images: bool) -> list[str]:
    """What this page lacks or what could not be read, in a fixed order; empty for a clean report."""
    problems = []
    if not title:
        problems.append(NO_TITLE)
    elif title.endswith(TITLE_CUT_MARK) and len(title) > 100:
        problems.append(TITLE_CUT)
    body = "\n".join(lines)
    if images:
        problems.append(IMAGE_ONLY)
    elif attachments and is_files_only(lines, [a.name for a in attachments]):
        problems.append(ATTACHMENT_ONLY)
    elif not body.strip():
        problems.append(EMPTY_BODY)
    garbled = text_problem(f"{title}\n{body}")
    if garbled:
        problems.append(garbled.split(":")[0])  # "mojibake", "undecodable"
    if not any(value and key in META_LABELS and key not in INFO_LINE_LABELS for key, value in meta.items()):
        problems.append(NO_METADATA_BLOCK)
    if body.strip() and _may_be_short(root, len(squash(body))):
        shown = prose_length(root, title)
        length = len(squash(body))
        if length < BODY_SHORT_SHARE * shown and shown - length > BODY_SHORT_GAP:
            problems.append(BODY_SHORT)
    return problems


def _meta_value(meta: dict[str, str], *keys: str) -> str | None:
    """The first of `keys` with a value, stripped; a 无 ("none") in the block counts as no value."""
    for key in keys:
        value = meta.get(key)
        if value is not None and value.strip() and value.strip() != "无":
            return value.strip()
    return None


def _date_from(meta: dict[str, str], *keys: str) -> str | None:
    """The first of `keys` whose value parses as a date: a label may hold 无 or a bare year."""
    for key in keys:
        parsed = parse_date(meta.get(key) or "")
        if parsed:
            return parsed
    return None


def _url_date(url: str) -> str | None:
    """The publish date a portal writes into the article path, if any."""
    path = urlsplit(url).path
    for pattern in URL_DATE_RES:
        match = pattern.search(path)
        if match:
            return parse_date("-".join(match.groups()))
    return None
