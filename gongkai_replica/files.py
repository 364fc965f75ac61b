"""Report files as the portals serve them, and the real ones the replica links (data/attachments/).

A file answers with a Content-Type by its extension (either case) unless it has its own, and a
Content-Disposition naming it the way its server does: RFC 5987 `filename*=UTF-8''…` (jcms on UTF-8),
raw GBK bytes in `filename="…"` (a GBK Tomcat: what HTTP carries as latin-1 characters), or none (TRS's
static files). Until a portal is fixed it may serve something else in the file's place
(`ReplicaAttachment.serve_first`: a 2-byte stub, an HTML error page, a download cut short), one body a GET.

data/attachments/ holds Word 97 (.DOC, .wps), Excel 97 (.xls), .xlsx, a one-page scanned PDF, a .jpg scan,
a stub and an error page, each report with `<name>.expected.txt` (its text, one paragraph or table row
a line, cells tab-separated), made by tests/fixtures/documents/build.py (LibreOffice and PIL, by hand):
nothing is built at run time.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from urllib.parse import quote

from gongkai_replica.sites import ReplicaAttachment

DATA = Path(__file__).resolve().parent / "data" / "attachments"

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "doc": "application/msword",
    "wps": "application/kswps",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "et": "application/kset",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
}

Reply = tuple[int, bytes, str, tuple[tuple[str, str], ...]]


@cache
def data_file(name: str) -> bytes:
    """The bytes of data/attachments/<name>."""
    return (DATA / name).read_bytes()


def expected_text(name: str) -> list[str]:
    """The text a reader must get from data/attachments/<name>: one line a paragraph or table row; none
    for what is no file (a stub, an error page)."""
    path = DATA / f"{name}.expected.txt"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def attachment(shown: str, filename: str, source: str, title: str, **options: object) -> ReplicaAttachment:
    """A linked file holding data/attachments/<source>: `text` is its expected text below `title` (a first
    line equal to the title is the title, as ingest drops it)."""
    text = expected_text(source)
    if text and text[0] == title:
        text = text[1:]
    return ReplicaAttachment(shown, filename, data_file(source), text, **options)  # type: ignore[arg-type]


def content_disposition(att: ReplicaAttachment) -> tuple[tuple[str, str], ...]:
    if att.disposition == "gbk":
        raw = f'attachment; filename="{att.name}"'.encode("gbk")
        return (("Content-Disposition", raw.decode("latin-1")),)  # the bytes as-is on the wire
    if att.disposition == "utf-8":
        return (("Content-Disposition", f"attachment; filename*=UTF-8''{quote(att.name, safe='')}"),)
    return ()


def file_reply(att: ReplicaAttachment, method: str) -> Reply:
    """The file's answer: its bytes (or, for the first GETs, what `serve_first` holds in their place)."""
    body = att.data
    if method == "GET":
        if att.served < len(att.serve_first):
            body = att.serve_first[att.served]
        att.served += 1
    ctype = att.content_type or CONTENT_TYPES.get(att.filename.rsplit(".", 1)[-1].lower(), "application/octet-stream")
    return 200, body, ctype, content_disposition(att)
