"""The text of a report's document file: an attachment-only report (anatomy 3.5) or a listing row that
links straight to a file carries its text only there.

Bytes in, lines out (one paragraph per line, like an article body), whatever the file's name says: the
bytes tell the format (check_file). The readers:
- .docx: gongkai.ingest.docx; text PDFs: gongkai.ingest.pdf (in a child process limited to
  PDF_MEMORY_BYTES and PDF_SECONDS: pdfminer inflates whole streams, a 1.5 MB file asked for 3 GB);
- .doc and .wps (Word 97 compound files): gongkai.ingest.doc;
- .xls / .et and .xlsx: gongkai.ingest.xls, tables as tab-separated rows;
- scanned PDFs (no text layer, or glyphs with no Unicode map) and .jpg/.png images: OCR,
  gongkai.ingest.ocr, in a child process limited to OCR_MEMORY_BYTES and OCR_SECONDS; such text is marked
  `ocr` with its mean confidence.
Every reader is bounded (sizes, pages, decompression) and pure. What cannot be read (.ofd, encrypted
files, a scan OCR cannot read, anything over a bound) gives no lines and a note, never guessed text and
never an exception.

check_file (gongkai.filekinds, re-exported here) also tells what is NOT a file: an empty body, a 2-byte
stub, an HTML or text error page served under a .doc name, a truncated download; the crawl can count such
a fetch as failed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass

from lxml import etree

from gongkai.filekinds import FAILED_FETCH_PROBLEMS, OLE_MAGIC, FileCheck, check_file

__all__ = ["FAILED_FETCH_PROBLEMS", "OLE_MAGIC", "DocumentText", "FileCheck", "check_file", "document_kind",
           "document_text", "pdf_text", "SCAN_NOT_READ"]

PDF_MEMORY_BYTES = 1 << 30
PDF_SECONDS = 60.0
OCR_MEMORY_BYTES = 3 << 30  # onnxruntime, OpenCV and a rendered page
OCR_SECONDS = 600.0  # a scan of OCR_MAX_PAGES (40) pages at 4-10 s a page on 2 busy cores
# OCR text whose mean confidence is below this is not the report's text (a photo, a stamp, a bad scan).
OCR_MIN_CONFIDENCE = 0.8


@dataclass
class DocumentText:
    """What a document file gave: its kind ("docx", "pdf", "doc", "xls", "xlsx", "image", or "" when not one
    we read) and its lines; `ocr` when the lines were read from page images (with their mean
    `confidence`, 0..1); `note` says why there are no lines (or that OCR read them)."""

    kind: str
    lines: list[str]
    note: str = ""
    ocr: bool = False
    confidence: float | None = None


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


def document_text(data: bytes, *, ocr: bool = True) -> DocumentText:
    """The report text of a document file, by what its bytes are; no lines (with a note why) when it has
    none we can read. `ocr=False`: a scan is not OCR'd (seconds a page), only said to be one (its note
    starts with SCAN_NOT_READ), so a caller can first look for a file with a text layer."""
    from gongkai.ingest.docx import NotADocx, docx_lines

    kind = document_kind(data)
    if kind == "pdf":
        read = pdf_text(data)
        if not read.lines and read.note.startswith(_SCANNED_PDF_NOTES):
            return _scan(data, "pdf", read.note) if ocr else DocumentText("pdf", [], f"{SCAN_NOT_READ}: {read.note}")
        return read
    if kind == "zip":
        check = check_file(data)
        if check.kind == "xlsx":
            return _sheet(data, "xlsx")
        if check.kind == "ofd":
            return DocumentText("", [], "an .ofd (OFD) file: its text is not read")
        try:
            return DocumentText("docx", docx_lines(data))
        except NotADocx as exc:
            return DocumentText("", [], str(exc))
        except (zipfile.BadZipFile, etree.XMLSyntaxError, ValueError, KeyError, OSError, RecursionError,
                NotImplementedError, EOFError) as exc:  # zipfile: "zip file version 24.5", a cut stream
            return DocumentText("", [], f"unreadable docx: {type(exc).__name__}")
    check = check_file(data)
    if check.kind == "doc":
        return _word97(data)
    if check.kind == "xls":
        return _sheet(data, "xls")
    if check.kind in ("jpeg", "png"):
        return _scan(data, "image", "") if ocr else DocumentText("image", [], f"{SCAN_NOT_READ}: a {check.kind} image")
    if kind == "ole":
        return DocumentText("", [], f"unreadable .doc/.wps/.xls (OLE compound file): {check.detail or check.kind}")
    if check.problem:
        return DocumentText("", [], f"not a file: {check.detail}")
    return DocumentText("", [], f"a file format whose text is not read ({check.kind or 'unknown'})")


SCAN_NOT_READ = "a scan, not OCR'd"
# pdf.py's note for a PDF with no text layer (scanned pages): such pages are read by OCR. (A PDF whose
# glyphs have no Unicode map could be too; it keeps its note and no text for now.)
_SCANNED_PDF_NOTES = ("a PDF with no text",)


def _word97(data: bytes) -> DocumentText:
    from gongkai.ingest.doc import UnreadableDoc, doc_lines

    try:
        return DocumentText("doc", doc_lines(data))
    except UnreadableDoc as exc:
        return DocumentText("doc", [], str(exc))
    except Exception as exc:  # noqa: BLE001 - olefile raises OSError, TypeError, IndexError… on broken files
        return DocumentText("doc", [], f"unreadable .doc: {type(exc).__name__}")


def _sheet(data: bytes, kind: str) -> DocumentText:
    from gongkai.ingest.xls import UnreadableSheet, xls_lines, xlsx_lines

    try:
        return DocumentText(kind, (xlsx_lines if kind == "xlsx" else xls_lines)(data))
    except UnreadableSheet as exc:
        return DocumentText(kind, [], str(exc))
    except Exception as exc:  # noqa: BLE001 - xlrd and openpyxl raise a zoo of kinds on broken files
        return DocumentText(kind, [], f"unreadable {kind}: {type(exc).__name__}")


def _scan(data: bytes, kind: str, why: str) -> DocumentText:
    """OCR of a scanned PDF or an image, in a child process bounded by OCR_MEMORY_BYTES and OCR_SECONDS."""
    label = f"{why}; " if why else ""
    try:
        child = subprocess.run([sys.executable, "-m", "gongkai.ingest.ocr", kind, str(OCR_MEMORY_BYTES)],
                               input=data, capture_output=True, timeout=OCR_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        return DocumentText(kind, [], f"{label}a scan that took over {OCR_SECONDS:.0f} s to OCR: not read")
    if child.returncode != 0:
        return DocumentText(kind, [], f"{label}a scan OCR could not read within {OCR_MEMORY_BYTES >> 20} MB"
                                      f" (exit {child.returncode})")
    result = json.loads(child.stdout)
    if "note" in result:
        return DocumentText(kind, [], f"{label}{result['note']}")
    lines, confidence = result.get("lines", []), float(result.get("confidence", 0.0))
    if not lines:
        return DocumentText(kind, [], f"{label}a scan with no text OCR could read", ocr=True, confidence=confidence)
    if confidence < OCR_MIN_CONFIDENCE:
        return DocumentText(kind, [], f"{label}OCR confidence {confidence:.2f} is below {OCR_MIN_CONFIDENCE}:"
                                      " not taken as the report's text", ocr=True, confidence=confidence)
    return DocumentText(kind, lines, f"read by OCR ({result.get('pages', 1)} pages, mean confidence"
                                     f" {confidence:.3f})", ocr=True, confidence=confidence)


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
