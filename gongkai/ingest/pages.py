"""Turn one staged raw response into an outcome: an article, a withdrawal, or a reason it is neither.

Pure: bytes and headers in, data out. The store decides what the outcome does to the reports.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from gongkai.filekinds import check_file
from gongkai.filelinks import FILE_EXTS, has_file_name, is_document_link
from gongkai.ingest.classify import is_challenge_page, is_not_found_page
from gongkai.ingest.decode import NOT_TEXT, decode_page, is_garbled
from gongkai.ingest.documents import document_kind, document_text
from gongkai.ingest.extract import ATTACHMENT_ONLY, extract_article
from gongkai.ingest.title import without_title
from gongkai.models import ArticleFields, Attachment
from gongkai.urls import file_name


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
    listing_title: str | None = None  # the row that listed it: what a file row's report is called
    listing_date: date | str | None = None


# The note of a soft 404 ("page not found" answered with 200). Once is refetched; the same answer from the
# next fetch too means the page is gone (gongkai.ingest.run.confirm_soft_404s).
SOFT_404 = "a 'page not found' page answered with status 200"


@dataclass
class PageOutcome:
    kind: str  # article | gone | retry | skip | file (a file no row titled: read with the article linking it)
    fields: ArticleFields | None = None
    note: str = ""
    fingerprint: Any = None  # store.Fingerprint, filled in before the write phase
    body_from_file: bool = False  # an attachment-only article whose body was read from its file
    garbled: str = ""  # what made the text unreadable (mojibake, undecodable): never replaces a clean report


def header(headers: dict[str, list[str]], name: str) -> str | None:
    for key, values in headers.items():
        if key.lower() == name and values:
            return values[0]
    return None


def content_type(headers: dict[str, list[str]]) -> str | None:
    return header(headers, "content-type")


def attachment_filename(headers: dict[str, list[str]]) -> str | None:
    """The file name a Content-Disposition gives (RFC 6266, filename*=UTF-8'' included), if any."""
    value = header(headers, "content-disposition")
    if not value:
        return None
    message = Message()
    message["content-disposition"] = value
    name = message.get_filename() or ""
    if any("\x80" <= c <= "\xff" for c in name):  # raw UTF-8 or GBK bytes (headers are staged as latin-1)
        raw = name.encode("latin-1", "replace")
        for charset in ("utf-8", "gb18030"):
            try:
                name = raw.decode(charset)
                break
            except UnicodeDecodeError:
                continue
    name = " ".join(name.split())
    return name or None


def is_text_type(ctype: str) -> bool:
    """A page to decode and read (text/html, text/plain, XHTML, XML), by its media type: a .docx is
    application/vnd.openxmlformats-officedocument…, which has "xml" in it and is a file."""
    mime = ctype.split(";", 1)[0].strip().lower()
    return not mime or mime.endswith("html") or mime in ("text/plain", "text/xml", "application/xhtml+xml",
                                                         "application/xml")


def examine_page(page: StagedPage) -> PageOutcome:
    """What this response means for the report at its URL."""
    if page.status in (404, 410):
        return PageOutcome("gone", note=f"HTTP {page.status}")
    if page.status != 200:
        return PageOutcome("retry", note=f"HTTP {page.status}")
    if not page.body.strip():
        return PageOutcome("retry", note="empty response")
    ctype = content_type(page.headers) or ""
    # A file served with no type, or as text/html, by a download gateway is still a file, not a page to retry.
    if ctype and not is_text_type(ctype) or document_kind(page.body) in ("pdf", "zip", "ole"):
        document = document_report(page, ctype)
        if document is not None:
            return PageOutcome("article", fields=document, note=f"a listed document: {ctype}")
        if is_document(page, ctype):  # an article's file: read with the article that links it
            return PageOutcome("file", note=ctype)
        return PageOutcome("skip", note=f"not an HTML page: {ctype}")
    decoded = decode_page(page.body, ctype or None)
    if decoded.problem and decoded.problem.startswith(NOT_TEXT):
        # Bytes that are text in no encoding a portal uses (all 0xFF, a binary, a cut gzip stream) are no report
        # body, flagged or not: a failed fetch, refetched by the next crawl.
        return PageOutcome("retry", note=decoded.problem)
    html = decoded.text
    if is_challenge_page(html):
        return PageOutcome("retry", note="anti-bot challenge page instead of the article")
    if is_not_found_page(html):  # a soft 404 must not become a report, nor a new version of one
        return PageOutcome("retry", note=SOFT_404)
    fields = extract_article(html, page.final_url or page.url)
    if not fields.title or not fields.body.strip() and not fields.attachments:
        return PageOutcome("retry", note="no article title or body found")
    if NOT_TEXT in fields.problems:  # junk where the body is, in a page that reads
        return PageOutcome("retry", note=f"{NOT_TEXT}: the article's text is binary junk")
    if decoded.problem and decoded.problem not in fields.problems:
        # Kept (the page is all there is of the report) but flagged: reports.extraction, never a clean report.
        fields.problems.append(decoded.problem)
    garbled = next((p for p in fields.problems if is_garbled(p)), "")
    return PageOutcome("article", fields=fields, garbled=garbled)


def body_from_document(data: bytes, title: str) -> str:
    """A document's text as a report body: one paragraph per line, without the title it opens with."""
    return "\n".join(without_title(document_text(data).lines, title))


# A body line that only points at the files: 附件：, 详见附件, 相关附件下载, 附件1.
# A body line that only points at the files: 附件：, 详见附件, 相关附件, 下载附件, 附件1; and what may follow a
# file's name: its size, 点击下载.
_ATTACHMENT_LABEL_RE = re.compile(r"^(详见|见|请见|请查看|下载|相关)?(相关)?附件(下载|列表|\s*\d+)?\s*[：:.、．]?\s*")
_FILE_SUFFIX_RE = re.compile(r"\s*([（(]\s*[\d.,]+\s*[KMG]?B\s*[)）]|[（(【\[]?\s*点击下载\s*[)）】\]]?|下载)\s*$", re.I)
_PROSE_RE = re.compile(r"[，。；！？、…]")


def attachment_only(body: str, attachments: list[Attachment]) -> bool:
    """True for a report whose page shows nothing but its files (anatomy 3.5: the 武义 seed's body is just
    the .docx's name): every body line is a label pointing at them, an attachment's name (perhaps with its
    size or 点击下载), or a file name with no sentence in it. A sentence that ends in a file name is text."""
    if not attachments:
        return False
    names = {a.name.strip() for a in attachments} | {file_name(a.url) for a in attachments}
    for line in body.splitlines():
        line = line.strip()
        if line in names:
            continue
        rest = _FILE_SUFFIX_RE.sub("", _ATTACHMENT_LABEL_RE.sub("", line, count=1)).strip()
        if not rest or rest in names:
            continue
        if rest.lower().endswith(FILE_EXTS) and len(rest) <= 80 and not _PROSE_RE.search(rest):
            continue
        return False
    return True


# A page with fewer characters of its own text than this (spaces aside) over a file it links is a pointer
# to that file (检查情况详见附件 over an attached table, 现将有关情况公布如下): the file is the report. The issue's
# measure (issue 26: about a dozen of 47 real report pages were such cover notes).
POINTER_MAX_CHARS = 100


# The extraction status of a pointer page whose file gave no text (a scan OCR could not read, an .ofd...).
FILE_NOT_READ = "attachment not read"


@dataclass
class StagedFile:
    """A report file as the crawl staged it: the staged_pages row holding the original bytes."""

    id: int
    url: str
    headers: dict[str, list[str]]
    body: bytes


def own_chars(body: str) -> int:
    """How many characters of text a page body has, spaces aside."""
    return sum(1 for c in body if not c.isspace())


def cover_note(body: str, attachments: list[Attachment]) -> str:
    """A page body less the lines that only name its files or point at them (they are in `attachments`)."""
    return "\n".join(line for line in body.splitlines() if not attachment_only(line, attachments)).strip()


def is_pointer(body: str, attachments: list[Attachment]) -> bool:
    """A page that only points at its files: nothing but file names and 附件 labels (attachment_only), or a
    cover note of under POINTER_MAX_CHARS characters over them."""
    return bool(attachments) and own_chars(cover_note(body, attachments)) < POINTER_MAX_CHARS


_PICTURES = ("jpeg", "png")


def file_facts(fetched: StagedFile) -> dict[str, Any]:
    """What a file is, whatever its text: its name as served, size, sha256, kind by its bytes, and the
    staged page that holds it."""
    return {"filename": attachment_filename(fetched.headers), "size": len(fetched.body),
            "sha256": hashlib.sha256(fetched.body).hexdigest(), "kind": check_file(fetched.body).kind,
            "staged_page_id": fetched.id}


def read_files(fields: ArticleFields, staged: dict[str, StagedFile]) -> bool:
    """Keep a record of every file the article links, and read the fetched ones (staged, by URL).

    A pointer page takes as its body the text of the first file that has any (its title line dropped) and,
    for a short cover note, more of it than the note itself (请于7月20日前报送统计表 over a blank form is the
    notice, not the form): `body_source` attachment, or ocr when a scan was read; its own text, less the lines
    that only name its files, stays as `cover_note`. The other files' text goes beside the body
    (`attachment_text`), tables as tab-separated rows. A pointer page none of whose fetched files could be
    read keeps its page text and names each file's problem in `problems` (reports.extraction): never an
    empty body passed off as done. True when the body was read from a file.
    """
    note = cover_note(fields.body, fields.attachments) if fields.attachments else fields.body
    only_files, note_chars = not note, own_chars(note)
    pointer = bool(fields.attachments) and note_chars < POINTER_MAX_CHARS
    records: list[dict[str, Any]] = []
    beside: list[str] = []
    source, body, unread = "", "", []
    for attachment in fields.attachments:
        record: dict[str, Any] = {"url": attachment.url, "name": attachment.name}
        records.append(record)
        fetched = staged.get(attachment.url)
        if fetched is None:
            if is_document_link(attachment.url):  # a download failed this time: the next crawl fetches it again
                record["note"] = "not fetched"
                unread.append(f"{attachment.name}: not fetched")
            else:
                record["note"] = "not fetched: not a document"
            continue
        record.update(file_facts(fetched))
        # A picture beside a page's own text is a photo more often than a scan: not worth seconds of OCR.
        text = document_text(fetched.body, ocr=pointer or record["kind"] not in _PICTURES)
        record.update(ocr=text.ocr, confidence=None if text.confidence is None else round(text.confidence, 3))
        as_body = without_title(text.lines, fields.title)
        if pointer and not source and as_body and (only_files or own_chars("".join(as_body)) > note_chars):
            source, body = "ocr" if text.ocr else "attachment", "\n".join(as_body)
            record.update(used="body", chars=len(body))
        elif text.lines:
            beside.append("\n".join(text.lines))
            record.update(used="beside", chars=len(beside[-1]))
        else:
            record.update(used=None, chars=0, note=text.note or "no text")
            unread.append(f"{attachment.name}: {record['note']}")
    fields.files = records
    fields.attachment_text = "\n\n".join(beside) or None
    if source:
        fields.cover_note = note or None
        fields.body, fields.body_source = body, source
        # Its text is read now: no longer a report with only file names.
        fields.problems = [p for p in fields.problems if p != ATTACHMENT_ONLY]
        return True
    if pointer and unread:
        fields.problems += [f"{FILE_NOT_READ}: {u}" for u in unread if f"{FILE_NOT_READ}: {u}" not in fields.problems]
    return False



_DOCUMENT_TYPES = ("pdf", "msword", "officedocument", "ms-excel", "wps", "ofd")


def is_document(page: StagedPage, ctype: str) -> bool:
    """A file a report can be published as, by its name (the Content-Disposition's, the URL's, or a
    download gateway's filename= parameter), its media type or its first bytes; not an image."""
    names = [attachment_filename(page.headers) or "", file_name(page.final_url or page.url)]
    names += [value for url in (page.url, page.final_url) for key, value in parse_qsl(urlsplit(url or "").query)
              if key.lower() == "filename"]
    return (has_file_name(names)
            or any(t in ctype.lower() for t in _DOCUMENT_TYPES) or document_kind(page.body) != "")


def document_report(page: StagedPage, ctype: str) -> ArticleFields | None:
    """A listing row that links straight to a file (a .pdf, .doc… report: anatomy 1.6, 3.5) is the report:
    titled by its row, the file as its only attachment. Without a row title it is not known as a report."""
    title = " ".join((page.listing_title or "").split())
    url = page.final_url or page.url
    name = attachment_filename(page.headers) or file_name(url)
    if not title or not is_document(page, ctype):
        return None
    published = page.listing_date.isoformat() if isinstance(page.listing_date, date) else page.listing_date
    fields = ArticleFields(title=title, body="", published_date=published or None,
                           attachments=[Attachment(name=name or title, url=url)])
    # The file is the report: its text is the body (a listing row is all the page there is).
    read_files(fields, {url: StagedFile(page.id, url, page.headers, page.body)})
    return fields
