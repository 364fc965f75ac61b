"""What a fetched file's bytes are, whatever its name or Content-Type says: check_file tells the real kind
by magic numbers and structure (%PDF and its %%EOF; a zip with its central directory and a word/, xl/,
ppt/ or OFD.xml part; an OLE compound file with a WordDocument, Workbook or PowerPoint stream and every
sector its FAT uses; JPEG, PNG, GIF, BMP, TIFF, RAR, 7z), and says when a body is NOT the file: empty, a
stub of a few bytes, an HTML or text error page served under a .doc name, a download cut short.

A bottom-layer module (standard library and olefile only), so the crawl can verify a download before
staging it as the file, and ingest can say why a file gave no text.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from dataclasses import dataclass

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


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
    start = head.find(b"%PDF-")  # junk may precede it (the spec allows 1 KB), a web page may not
    if start >= 0 and not re.search(rb"<(html|!doctype|head|body)\b", head[:start], re.I):
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
