"""The text of a report's document file (.docx, .pdf): an attachment-only report (anatomy 3.5) or a listing
row that links straight to a file carries its text only there.

Pure: bytes in, lines out (one paragraph per line, like an article body). Bounded: a document's XML is
read to at most MAX_XML_BYTES decompressed (a zip bomb stops there); a PDF of more than MAX_PDF_PAGES
pages is not read (never half of it).
Formats we cannot read (.doc, .wps, .ofd, scanned PDFs, PDFs with no ToUnicode map) give no lines, never
guessed text.
"""

from __future__ import annotations

import io
import logging
import re
import statistics
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from gongkai.ingest.metadata import collapse_ws

MAX_XML_BYTES = 32 * 1024 * 1024
MAX_PDF_PAGES = 300
# A PDF whose glyphs mostly have no Unicode mapping gives "(cid:1234)" codes: such text is not the report's.
_MAX_UNMAPPED_SHARE = 0.02

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_CELL_SEP = "\t"  # as in article bodies: a table row is its cells joined by a tab


@dataclass
class DocumentText:
    """What a document file gave: its kind ("docx", "pdf", or "" when not one we read) and its lines."""

    kind: str
    lines: list[str]
    note: str = ""


def document_kind(data: bytes) -> str:
    """The file's format by its first bytes (names and Content-Types lie: a .doc may be a .docx)."""
    if data[:1024].lstrip().startswith(b"%PDF-") or b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return "zip"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"  # .doc / .wps / .xls: not read
    return ""


def document_text(data: bytes) -> DocumentText:
    """The report text of a .docx or .pdf file; no lines (with a note why) for anything else."""
    kind = document_kind(data)
    try:
        if kind == "pdf":
            return pdf_text(data)
        if kind == "zip":
            return docx_text(data)
    except (zipfile.BadZipFile, etree.XMLSyntaxError, ValueError, KeyError, OSError) as exc:
        return DocumentText("", [], f"unreadable {kind}: {type(exc).__name__}")
    except Exception as exc:  # noqa: BLE001 - pdfminer raises its own zoo on broken files
        return DocumentText("", [], f"unreadable {kind}: {type(exc).__name__}")
    return DocumentText("", [], "a file format whose text is not read (.doc, .wps, .ofd, images…)")


# --- DOCX -------------------------------------------------------------------------------------------------

def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    """A member's bytes, decompressing no more than MAX_XML_BYTES whatever its header claims."""
    info = archive.getinfo(name)
    if info.file_size > MAX_XML_BYTES:
        raise ValueError(f"{name} is {info.file_size} bytes")
    with archive.open(info) as member:
        data = member.read(MAX_XML_BYTES + 1)
    if len(data) > MAX_XML_BYTES:
        raise ValueError(f"{name} is over {MAX_XML_BYTES} bytes")
    return data


_PARSER_OPTIONS = {"resolve_entities": False, "no_network": True, "huge_tree": False, "load_dtd": False}


def docx_text(data: bytes) -> DocumentText:
    """Paragraphs of word/document.xml in reading order: runs joined as Word shows them, deletions and field
    codes left out, a table row as its cells joined by a tab. Headers and footers are not the report."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if "word/document.xml" not in archive.namelist():
            return DocumentText("", [], "a zip file that is not a .docx")
        xml = _read_member(archive, "word/document.xml")
    root = etree.fromstring(xml, etree.XMLParser(**_PARSER_OPTIONS))
    body = root.find(f"{_W}body")
    lines: list[str] = []
    if body is not None:
        _docx_blocks(body, lines)
    return DocumentText("docx", [line for line in lines if line])


def _docx_blocks(parent: etree._Element, lines: list[str]) -> None:
    for child in parent:
        tag = child.tag
        if tag == f"{_W}p":
            lines.extend(_docx_paragraph(child))
        elif tag == f"{_W}tbl":
            for row in child.iter(f"{_W}tr"):
                cells = []
                for cell in row.iterchildren(f"{_W}tc"):
                    cell_lines: list[str] = []
                    _docx_blocks(cell, cell_lines)
                    cells.append(" ".join(line for line in cell_lines if line))
                cells = [c for c in cells if c]
                if cells:
                    lines.append(_CELL_SEP.join(cells))
        elif tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_W}ins", f"{_W}smartTag"):
            _docx_blocks(child, lines)


def _docx_paragraph(p: etree._Element) -> list[str]:
    """One paragraph's text; a <w:br/> (a manual line break) starts a new line."""
    parts: list[str] = []
    lines: list[str] = []
    in_field_code = 0  # between fldChar begin and separate: the field's code, not its shown result

    def walk(el: etree._Element) -> None:
        nonlocal in_field_code
        for child in el:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            if tag in (f"{_W}del", f"{_W}moveFrom", f"{_W}rPr", f"{_W}pPr", f"{_MC}Fallback", f"{_W}txbxContent"):
                continue  # deleted text, formatting, the duplicate of an AlternateContent, text boxes
            if tag == f"{_W}fldChar":
                kind = child.get(f"{_W}fldCharType")
                if kind == "begin":
                    in_field_code += 1
                elif kind in ("separate", "end") and in_field_code:
                    in_field_code -= 1
            elif tag == f"{_W}t" and not in_field_code:
                parts.append(child.text or "")
            elif tag in (f"{_W}tab", f"{_W}ptab") and not in_field_code:
                parts.append(" ")
            elif tag in (f"{_W}br", f"{_W}cr") and child.get(f"{_W}type") not in ("page", "column"):
                lines.append("".join(parts))
                parts.clear()
            elif tag == f"{_W}noBreakHyphen":
                parts.append("-")
            else:
                walk(child)

    walk(p)
    lines.append("".join(parts))
    return [collapse_ws(line) for line in lines]


# --- PDF --------------------------------------------------------------------------------------------------

# A page number printed as the page's footer: "— 1 —", "- 2 -", "第 3 页", "第3页 共5页", "3/5".
_PAGE_NUMBER_RE = re.compile(
    r"^[\s—–\-－―]*\d{1,4}[\s—–\-－―]*$|^第\s*\d{1,4}\s*页(\s*[,，/]?\s*共\s*\d{1,4}\s*页)?$|^\d{1,4}\s*/\s*\d{1,4}$"
)
_ASCII_WORD_CHAR_RE = re.compile(r"[A-Za-z0-9]")


@dataclass
class _Line:
    text: str
    x0: float
    x1: float
    top: float
    size: float
    lead: float = 0.0  # width of the line's first unbreakable piece ("“141”", "3584.27", "处，")


def pdf_text(data: bytes) -> DocumentText:
    """Paragraphs of a text PDF (Word's or WPS's export): its lines in reading order, joined into
    paragraphs by their layout: a paragraph starts where a line is indented or the line before it ended
    short. Page numbers go; no space is put between two lines of Chinese."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTChar, LTTextContainer, LTTextLine

    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    pages: list[list[_Line]] = []
    chars = unmapped = 0
    # A large word_margin: pdfminer's guessed spaces are not used (ours are put only between ASCII words).
    # boxes_flow=None: no ordering of text boxes (a tenth of the time); the lines are ordered here.
    params = LAParams(word_margin=10.0, char_margin=4.0, line_margin=0.3, boxes_flow=None)
    for page in extract_pages(io.BytesIO(data), laparams=params, maxpages=MAX_PDF_PAGES + 1):
        if len(pages) == MAX_PDF_PAGES:  # not a town's report; half of one would be a report with text lost
            return DocumentText("pdf", [], f"a PDF of over {MAX_PDF_PAGES} pages: not read")
        lines: list[_Line] = []
        stack = list(page)
        while stack:
            item = stack.pop()
            if isinstance(item, LTTextLine):
                glyphs = [c for c in item if isinstance(c, LTChar)]
                if not glyphs:
                    continue
                chars += len(glyphs)
                unmapped += sum(g.get_text().startswith("(cid:") for g in glyphs)
                lines.append(_Line(_glyph_text(glyphs), item.x0, item.x1, item.y1,
                                   statistics.median(g.size for g in glyphs), _lead_width(glyphs)))
            elif isinstance(item, LTTextContainer):
                stack.extend(item)
        pages.append(_merge_same_row(lines))
    if not chars:
        return DocumentText("pdf", [], "a PDF with no text (scanned pages?)")
    if unmapped > chars * _MAX_UNMAPPED_SHARE:
        return DocumentText("pdf", [], f"a PDF whose text has no Unicode map ({unmapped} of {chars} glyphs)")
    return DocumentText("pdf", _paragraphs(pages))


def _glyph_text(glyphs: list) -> str:
    """A line's characters; a space only between two ASCII word characters set apart by a gap."""
    out: list[str] = []
    previous = None
    for glyph in glyphs:
        text = glyph.get_text()
        if previous is not None and out and text.strip():
            gap = glyph.x0 - previous.x1
            if (gap > 0.2 * glyph.size and _ASCII_WORD_CHAR_RE.match(text)
                    and _ASCII_WORD_CHAR_RE.match(out[-1][-1:]) and out[-1][-1:] != " "):
                out.append(" ")
        out.append(text)
        previous = glyph
    return "".join(out)


_OPENING = set("“‘《〈（([【〔「『")
_CLOSING = set("，。、；：！？）)]】〕」』》〉”’…%")
_WORD_GLYPH_RE = re.compile(r"[A-Za-z0-9.,%\-_/:]")


def _lead_width(glyphs: list) -> float:
    """Width of what a line-breaker could not have split at the line's start: opening marks, then an
    ASCII word or one character, then the closing marks that may not begin a line."""
    texts = [g.get_text() for g in glyphs]
    i = 0
    while i < len(texts) and texts[i] in _OPENING:
        i += 1
    if i < len(texts) and _WORD_GLYPH_RE.match(texts[i]):
        while i < len(texts) and _WORD_GLYPH_RE.match(texts[i]):
            i += 1
    else:
        i += 1
    while i < len(texts) and texts[i] in _CLOSING:
        i += 1
    end = min(i, len(glyphs)) - 1
    return glyphs[end].x1 - glyphs[0].x0 if end >= 0 else 0.0


def _merge_same_row(lines: list[_Line]) -> list[_Line]:
    """Lines top to bottom; pieces of one printed row (table cells, a split run) joined left to right."""
    lines.sort(key=lambda line: (-line.top, line.x0))
    rows: list[list[_Line]] = []
    for line in lines:
        if rows and abs(rows[-1][0].top - line.top) < 0.5 * line.size:
            rows[-1].append(line)
        else:
            rows.append([line])
    merged = []
    for row in rows:
        row.sort(key=lambda line: line.x0)
        text = row[0].text
        for before, after in zip(row, row[1:], strict=False):
            text += (_CELL_SEP if after.x0 - before.x1 > before.size else "") + after.text
        merged.append(_Line(text, row[0].x0, row[-1].x1, row[0].top, max(r.size for r in row), row[0].lead))
    return merged


def _paragraphs(pages: list[list[_Line]]) -> list[str]:
    body = [[line for line in page if not _PAGE_NUMBER_RE.match(line.text.strip())] for page in pages]
    every = [line for page in body for line in page]
    if not every:
        return []
    size = statistics.median(line.size for line in every)
    left = _mode(line.x0 for line in every)
    # Where full lines end (the most common right edge: a hanging 。 or ， may stick out past it).
    right = _mode(line.x1 for line in every if abs(line.size - size) < 0.5)
    center = (left + right) / 2
    # Where a paragraph's first line starts (2 characters in, in a 公文): a line there is a paragraph, not a
    # centered title, even when it happens to end as far from the right margin.
    first_lines = [line.x0 for line in every if size < line.x0 - left < 6 * size]
    indent = _mode(first_lines) if first_lines else None
    paragraphs: list[str] = []
    previous: _Placed | None = None
    for line in every:
        text = collapse_ws(line.text)
        if not text:
            continue
        indented = line.x0 - left > 1.0 * size
        centered = (indented and line.x1 < right - size and abs((line.x0 + line.x1) / 2 - center) < size
                    and (indent is None or abs(line.x0 - indent) > 0.25 * size))
        same_size = previous is not None and abs(line.size - previous.size) < 0.5
        if previous is None:
            starts = True
        elif same_size and (line.size > 1.15 * size or centered and previous.centered):
            starts = False  # a title (larger type, or centered) wrapped onto a second line
        elif not same_size:
            starts = True
        else:
            # A line ending short ends its paragraph, unless what begins the next line would not have fit
            # in the room left (a ragged line wrapped before "3584.27万元"): then the wrap was forced.
            room = right - previous.x1
            starts = indented or previous.centered or (room > 1.5 * size and room >= line.lead + 0.5 * size)
        if starts or not paragraphs:
            paragraphs.append(text)
        else:
            # A line wrapped at a space keeps it (drawn at the line's end: "232 " / "处"); two words split
            # by the wrap get one back; two lines of Chinese join with nothing between.
            spaced = previous.space_after or line.text[:1].isspace() or (
                _ASCII_WORD_CHAR_RE.match(paragraphs[-1][-1:]) and _ASCII_WORD_CHAR_RE.match(text))
            paragraphs[-1] += (" " if spaced else "") + text
        previous = _Placed(line.x1, line.size, centered, line.text[-1:].isspace())
    return paragraphs


@dataclass
class _Placed:
    x1: float
    size: float
    centered: bool
    space_after: bool


def _mode(values: Iterable[float]) -> float:
    """The most common value, to the nearest point: the margin most lines begin (or end) at."""
    counts = Counter(round(v) for v in values)
    return float(max(counts, key=lambda v: (counts[v], -v)))
