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

check_file also tells what is NOT a file: an empty body, a 2-byte stub, an HTML or text error page
served under a .doc name, a truncated download; the crawl can count such a fetch as failed.
"""

from __future__ import annotations

import io
import json
import re
import struct
import subprocess
import sys
import zipfile
from dataclasses import dataclass

from lxml import etree

PDF_MEMORY_BYTES = 1 << 30
PDF_SECONDS = 60.0
OCR_MEMORY_BYTES = 3 << 30  # onnxruntime, OpenCV and a rendered page
OCR_SECONDS = 600.0  # a scan of OCR_MAX_PAGES (40) pages at 4-10 s a page on 2 busy cores
# OCR text whose mean confidence is below this is not the report's text (a photo, a stamp, a bad scan).
OCR_MIN_CONFIDENCE = 0.8
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


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


def document_text(data: bytes) -> DocumentText:
    """The report text of a document file, by what its bytes are; no lines (with a note why) when it has
    none we can read."""
    from gongkai.ingest.docx import NotADocx, docx_lines

    kind = document_kind(data)
    if kind == "pdf":
        read = pdf_text(data)
        if not read.lines and read.note.startswith(_SCANNED_PDF_NOTES):
            return _scan(data, "pdf", read.note)
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
        return _scan(data, "image", "")
    if kind == "ole":
        return DocumentText("", [], f"unreadable .doc/.wps/.xls (OLE compound file): {check.detail or check.kind}")
    if check.problem:
        return DocumentText("", [], f"not a file: {check.detail}")
    return DocumentText("", [], f"a file format whose text is not read ({check.kind or 'unknown'})")


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


# --- what the bytes are ---------------------------------------------------------------------------------

# A fetch whose body is one of these is not the file: retry it as a failed download.
FAILED_FETCH_PROBLEMS = frozenset({"empty", "stub", "html", "text", "truncated"})
STUB_BYTES = 64  # no document format we know fits in fewer bytes
# What each kind is published under (a mismatch is no problem: the bytes decide how it is read).
_EXTENSIONS = {"pdf": (".pdf",), "docx": (".docx", ".doc", ".wps", ".docm", ".dotx"), "doc": (".doc", ".wps", ".dot"),
               "xls": (".xls", ".et"), "xlsx": (".xlsx", ".et", ".xlsm"), "ofd": (".ofd",), "zip": (".zip",),
               "jpeg": (".jpg", ".jpeg"), "png": (".png",), "rar": (".rar",), "7z": (".7z",)}


@dataclass(frozen=True)
class FileCheck:
    """What a fetched file's bytes are.

    kind: pdf, docx, xlsx, pptx, ofd, zip, doc (Word 97: .doc and .wps), xls (.xls, .et), ppt, ole (another
    or a broken compound file), jpeg, png, gif, bmp, tiff, rar, 7z; for what is not a file: html, text,
    stub, empty; "" for unknown bytes.
    problem: "" for a whole file of a known kind; else empty, stub, html, text (an error page or message
    in place of the file), truncated (a download cut short), broken (a container whose structure does not
    parse), unknown (bytes of no kind we know).
    declared: the extension of the name given (lower case), "" without one.
    """

    kind: str
    problem: str = ""
    detail: str = ""
    declared: str = ""

    @property
    def is_file(self) -> bool:
        return not self.problem

    @property
    def failed_fetch(self) -> bool:
        """The body is not the file (an error page, a stub, a cut download): count the fetch as failed."""
        return self.problem in FAILED_FETCH_PROBLEMS

    @property
    def matches_name(self) -> bool:
        """The name's extension is one this kind is published under (a .doc that is really a .docx: False)."""
        return not self.declared or self.declared in _EXTENSIONS.get(self.kind, ())


def check_file(data: bytes, name: str = "") -> FileCheck:
    """The real kind of a file by its magic numbers and structure, and whether it is whole: what the crawl
    needs to tell a file from an error page served in its place."""
    declared = ""
    match = re.search(r"(\.[A-Za-z0-9]{1,5})$", name.strip())
    if match:
        declared = match.group(1).lower()
    kind, problem, detail = _sniff(data)
    return FileCheck(kind, problem, detail, declared)


def _sniff(data: bytes) -> tuple[str, str, str]:
    if not data:
        return "empty", "empty", "an empty body"
    if not data.strip():
        if len(data) < STUB_BYTES:
            return "stub", "stub", f"a {len(data)}-byte stub (whitespace only) in place of the file"
        return "empty", "empty", f"a body of {len(data)} bytes of whitespace only"
    head = data[:1024]
    if document_kind(data) == "pdf":
        if b"%%EOF" not in data[-2048:]:
            return "pdf", "truncated", f"a PDF without its %%EOF trailer ({len(data)} bytes): cut short"
        return "pdf", "", ""
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _sniff_zip(data)
    if data.startswith(OLE_MAGIC):
        return _sniff_ole(data)
    if data.startswith(b"\xff\xd8\xff"):
        whole = b"\xff\xd9" in data.rstrip(b"\x00\r\n ")[-64:]
        return ("jpeg", "", "") if whole else ("jpeg", "truncated", "a JPEG without its end marker: cut short")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        whole = b"IEND" in data[-64:]
        return ("png", "", "") if whole else ("png", "truncated", "a PNG without its IEND chunk: cut short")
    for magic, kind in ((b"GIF87a", "gif"), (b"GIF89a", "gif"), (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"),
                        (b"Rar!\x1a\x07", "rar"), (b"7z\xbc\xaf\x27\x1c", "7z")):
        if data.startswith(magic):
            return kind, "", ""
    if data.startswith(b"BM") and len(data) >= 26 and int.from_bytes(data[2:6], "little") == len(data):
        return "bmp", "", ""
    text = head.lstrip(b"\xef\xbb\xbf\xff\xfe\xfe\xff \t\r\n")
    if re.match(rb"<(!doctype|html|head|body|script|title|meta|\?xml[^>]*>\s*<html)", text, re.I) or re.search(
            rb"<(html|head|body)\b", head, re.I):
        return "html", "html", f"an HTML page ({_title(data)}) served in place of the file"
    if len(data) < STUB_BYTES:
        return "stub", "stub", f"a {len(data)}-byte stub in place of the file"
    if b"\x00" not in head and _decodes(head):
        return "text", "text", f"a text message in place of the file: {_snippet(data)!r}"
    return "", "unknown", "bytes of no file format we know"


def _sniff_zip(data: bytes) -> tuple[str, str, str]:
    if b"PK\x05\x06" not in data[-(65535 + 22):]:
        return "zip", "truncated", f"a zip file without its central directory ({len(data)} bytes): cut short"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError, EOFError) as exc:
        return "zip", "broken", f"a zip file whose directory does not parse ({exc})"
    if any(n.startswith("word/") for n in names):
        return "docx", "", ""
    if any(n.startswith("xl/") for n in names):
        return "xlsx", "", ""
    if any(n.startswith("ppt/") for n in names):
        return "pptx", "", ""
    if any(n.lower() == "ofd.xml" for n in names):
        return "ofd", "", ""
    return "zip", "", ""


def _ole_cut_short(data: bytes) -> bool:
    """The compound file ends before a sector its FAT marks as used (or before its FAT itself)."""
    if len(data) < 512:
        return True
    shift = int.from_bytes(data[30:32], "little")
    sector = 1 << shift if shift in (9, 12) else 512
    have = len(data) // sector - 1  # sector i is at (i + 1) * sector: the header fills sector "-1"
    n_fat = int.from_bytes(data[44:48], "little")
    used = -1
    per_sector = sector // 4
    for k, fat_sector in enumerate(struct.unpack_from("<109I", data, 76)[:min(n_fat, 109)]):
        if fat_sector >= 0xFFFFFFFA:
            continue
        if fat_sector >= have:
            return True
        entries = struct.unpack_from(f"<{per_sector}I", data, (fat_sector + 1) * sector)
        last = max((i for i, entry in enumerate(entries) if entry != 0xFFFFFFFF), default=-1)  # FREESECT
        if last >= 0:
            used = max(used, k * per_sector + last)
    return used >= have


def _sniff_ole(data: bytes) -> tuple[str, str, str]:
    import olefile

    if _ole_cut_short(data):
        return "ole", "truncated", f"a compound file cut short ({len(data)} bytes, its FAT uses more sectors)"
    sector = 1 << int.from_bytes(data[30:32], "little") if len(data) >= 32 else 512
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            streams = {"/".join(entry) for entry in ole.listdir()}
            if "WordDocument" in streams:
                kind, main = "doc", "WordDocument"
            elif "Workbook" in streams or "Book" in streams:
                kind, main = "xls", "Workbook" if "Workbook" in streams else "Book"
            elif "PowerPoint Document" in streams:
                kind, main = "ppt", "PowerPoint Document"
            else:
                return "ole", "", f"a compound file of no Office kind we read ({', '.join(sorted(streams)[:5])})"
            size = ole.get_size(main)
            with ole.openstream(main) as stream:
                read = len(stream.read(size))
            if read < size:
                return kind, "truncated", f"a compound file whose {main} stream is cut short"
    except Exception as exc:  # noqa: BLE001 - olefile raises OSError, TypeError, IndexError… on broken files
        cut = len(data) < 512 or (len(data) - 512) % sector != 0
        if cut:
            return "ole", "truncated", f"a compound file cut short ({len(data)} bytes; {exc})"
        return "ole", "broken", f"a compound file whose structure does not parse ({exc})"
    return kind, "", ""


def _decodes(head: bytes) -> bool:
    """The head is text (UTF-8 or GB18030, a character cut at its end allowed), nearly all printable."""
    for charset in ("utf-8", "gb18030"):
        for cut in range(4):
            try:
                text = head[:len(head) - cut].decode(charset)
            except UnicodeDecodeError:
                continue
            printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
            return printable >= 0.95 * max(1, len(text))
    return False


def _title(data: bytes) -> str:
    match = re.search(rb"<title[^>]*>(.*?)</title>", data[:8192], re.I | re.S)
    if not match:
        return "untitled"
    raw = match.group(1).strip()
    for charset in ("utf-8", "gb18030"):
        try:
            return " ".join(raw.decode(charset).split())[:80] or "untitled"
        except UnicodeDecodeError:
            continue
    return "untitled"


def _snippet(data: bytes) -> str:
    for charset in ("utf-8", "gb18030"):
        try:
            return " ".join(data[:120].decode(charset, errors="strict").split())
        except UnicodeDecodeError:
            continue
    return " ".join(data[:120].decode("utf-8", errors="replace").split())


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
