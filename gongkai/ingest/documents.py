"""The text of a report's document file (.docx, .pdf): an attachment-only report (anatomy 3.5) or a listing
row that links straight to a file carries its text only there.

Bytes in, lines out (one paragraph per line, like an article body): gongkai.ingest.docx and
gongkai.ingest.pdf do the reading. Bounded: a .docx part is decompressed to at most 32 MB; a PDF is read in
a child process limited to PDF_MEMORY_BYTES of memory and PDF_SECONDS of time (pdfminer inflates whole
streams: a 1.5 MB file asked for 3 GB), and one of more than 300 pages is not read (never half of it).
Formats we cannot read (.doc, .wps, .ofd, scanned PDFs, PDFs with no ToUnicode map) give no lines, never
guessed text.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass

from lxml import etree

PDF_MEMORY_BYTES = 1 << 30
PDF_SECONDS = 60.0


@dataclass
class DocumentText:
    """What a document file gave: its kind ("docx", "pdf", or "" when not one we read) and its lines."""

    kind: str
    lines: list[str]
    note: str = ""


def document_kind(data: bytes) -> str:
    """The file's format by its first bytes (names and Content-Types lie: a .doc may be a .docx)."""
    head = data[:1024]
    start = head.find(b"%PDF-")  # junk may precede it (the spec allows 1 KB), a web page may not
    if start >= 0 and not re.search(rb"<(html|!doctype|head|body)\b", head[:start], re.I):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return "zip"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"  # .doc / .wps / .xls: not read
    return ""


def document_text(data: bytes) -> DocumentText:
    """The report text of a .docx or .pdf file; no lines (with a note why) for anything else."""
    from gongkai.ingest.docx import NotADocx, docx_lines

    kind = document_kind(data)
    if kind == "pdf":
        return pdf_text(data)
    if kind == "zip":
        try:
            return DocumentText("docx", docx_lines(data))
        except NotADocx as exc:
            return DocumentText("", [], str(exc))
        except (zipfile.BadZipFile, etree.XMLSyntaxError, ValueError, KeyError, OSError, RecursionError) as exc:
            return DocumentText("", [], f"unreadable docx: {type(exc).__name__}")
    return DocumentText("", [], "a file format whose text is not read (.doc, .wps, .ofd, images…)")


def pdf_text(data: bytes) -> DocumentText:
    """A PDF's lines, read by a child process that may use PDF_MEMORY_BYTES and PDF_SECONDS at most."""
    try:
        child = subprocess.run([sys.executable, "-m", "gongkai.ingest.pdf", str(PDF_MEMORY_BYTES)], input=data,
                               capture_output=True, timeout=PDF_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        return DocumentText("pdf", [], f"a PDF that took over {PDF_SECONDS:.0f} s to read: not read")
    if child.returncode != 0:
        return DocumentText("pdf", [], f"a PDF the reader could not read within {PDF_MEMORY_BYTES >> 20} MB"
                                       f" (exit {child.returncode})")
    result = json.loads(child.stdout)
    return DocumentText("pdf", result.get("lines", []), result.get("note", ""))
