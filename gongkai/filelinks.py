"""Which links are report files: the one detector the crawler (what to fetch) and ingest (what is an
attachment, what is a file page) both use, so they never disagree about a link.

A file is known by its name: the URL's path, or the `filename=` a download gateway names it by
(`/module/download/downfile.jsp?filename=x.docx`); extensions come in either case.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

# A report published as a scanned page linked as a picture (附件：检查情况.jpg): read by OCR.
IMAGE_EXTS = (".jpg", ".jpeg", ".png")
# Everything a report page links as an attachment.
FILE_EXTS = (".doc", ".docx", ".pdf", ".xls", ".xlsx", ".wps", ".ofd", ".zip", ".rar", ".et", *IMAGE_EXTS)
# The files whose text a report can be published in: the crawl fetches these (spreadsheets too: a cover
# note 检查情况详见附件 over an attached table is a report whose substance is the table); archives are
# recorded as attachments only.
DOCUMENT_EXTS = (".pdf", ".docx", ".doc", ".wps", ".ofd", ".xls", ".xlsx", ".et", *IMAGE_EXTS)
# Hanweb's download gateway: a file link even when its filename= is missing or names no extension.
DOWNLOAD_GATEWAY = "/module/download/downfile.jsp"


def linked_file_names(url: str) -> list[str]:
    """The names a link gives its file: the %-decoded path, then every filename= value of its query."""
    parts = urlsplit(url)
    return [unquote(parts.path)] + [value for key, value in parse_qsl(parts.query) if key.lower() == "filename"]


def is_file_link(url: str) -> bool:
    """An attachment link: its path ends in a file extension, or it is the download gateway."""
    path = unquote(urlsplit(url).path).lower()
    return path.endswith(FILE_EXTS) or path.endswith(DOWNLOAD_GATEWAY)


def is_document_link(url: str) -> bool:
    """A link to a file a report's text can be read from (by its path or its gateway's filename=)."""
    return any(name.lower().endswith(DOCUMENT_EXTS) for name in linked_file_names(url))


def has_file_name(names: list[str]) -> bool:
    """Whether any of `names` (a Content-Disposition name, a URL's last segment ...) is a file's."""
    return any(name.lower().endswith(FILE_EXTS) for name in names)
