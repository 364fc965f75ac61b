"""The text of a Word 97-2003 binary .doc, and of a WPS .wps (WPS Office writes the same compound-file
format), as Word shows it: one paragraph per line.

The file is an OLE compound file (olefile reads it); its WordDocument stream starts with the FIB, which
says how many characters the main document has (ccpText) and where the piece table (the CLX) is in the
0Table or 1Table stream. The piece table maps character positions to the bytes holding them: a piece is
either "compressed" (one byte a character, cp1252) or UTF-16LE. Only the main document is read (the CPs
0..ccpText): footnotes, headers and text boxes follow it in the stream and are not the report, as in
gongkai.ingest.docx.

Special characters (MS-DOC 2.8): 0x0D ends a paragraph, 0x0B is a manual line break (a new line, as
<w:br/> in a .docx), 0x07 ends a table cell or, on a paragraph marked as a table row end (sprmPFTtp),
the row; a row is its non-empty cells joined by a tab, a cell's paragraphs joined by a space. Fields
are 0x13 code 0x14 result 0x15: the code (HYPERLINK "…", PAGE, DATE \\@ …) is left out, the result kept.
Pictures, footnote marks, annotation marks and other control characters are left out; a tab is a space.
Which paragraphs are in tables is read from the paragraph properties (the PAPX FKPs the PlcBtePapx
points at).

Not read: encrypted or obfuscated files, Word 6/95 files (nFib below Word 97's), and "Insert Symbol"
characters stored as a "(" whose real character is in the run's properties (sprmCSymbol).

Bounded: the file is at most MAX_FILE_BYTES and each stream read at most MAX_STREAM_BYTES; nothing in
the file is decompressed. Pure: bytes in, lines out.
"""

from __future__ import annotations

import bisect
import io
import struct
from dataclasses import dataclass

from gongkai.ingest.metadata import collapse_ws

MAX_FILE_BYTES = 128 * 1024 * 1024
MAX_STREAM_BYTES = 32 * 1024 * 1024
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_WORD97_NFIB = 0xC0  # Word 97 writes 0xC1 (its betas 0xC0); Word 6/95 wrote 101-105
_FC_CLX = 33  # index of fcClx/lcbClx among the FIB's fc/lcb pairs
_FC_PLCF_BTE_PAPX = 13
_SPRM_IN_TABLE, _SPRM_TTP, _SPRM_ITAP = 0x2416, 0x2417, 0x6649
_SPRM_INNER_TTP, _SPRM_INNER_CELL = 0x244C, 0x244B
# Characters a font's private range holds for the Symbol font (≥ 95%): as gongkai.ingest.docx maps w:sym.
_SYMBOL_FONT = {0xA3: "≤", 0xB3: "≥", 0xB1: "±", 0xB4: "×", 0xB8: "÷", 0xB0: "°", 0xAE: "→", 0xAC: "←",
                0xB7: "•", 0xD6: "√", 0xB9: "≠", 0xBB: "≈", 0xA5: "∞", 0xE0: "◊", 0x2D: "−", 0xBC: "…"}
_DROPPED = {chr(c) for c in range(0x20) if c not in (0x07, 0x09, 0x0B, 0x0C, 0x0D, 0x13, 0x14, 0x15, 0x1E)}


class UnreadableDoc(ValueError):
    """A .doc/.wps whose text cannot be read: not a Word document, encrypted, Word 6/95, over a bound."""


def doc_lines(data: bytes) -> list[str]:
    """The paragraphs (and table rows) of a Word 97-2003 .doc or WPS .wps, in reading order."""
    import olefile

    if len(data) > MAX_FILE_BYTES:
        raise UnreadableDoc(f"a .doc of {len(data)} bytes: over the {MAX_FILE_BYTES >> 20} MB bound")
    if not data.startswith(OLE_MAGIC):
        raise UnreadableDoc("not an OLE compound file")
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            if not ole.exists("WordDocument"):
                raise UnreadableDoc("an OLE file with no WordDocument stream (not a Word document)")
            word = _stream(ole, "WordDocument")
            table_name = "1Table" if _fib_flags(word) & 0x0200 else "0Table"
            if not ole.exists(table_name):
                raise UnreadableDoc(f"a .doc without its {table_name} stream")
            table = _stream(ole, table_name)
    except (OSError, TypeError, IndexError, KeyError, struct.error) as exc:  # olefile on a broken file
        raise UnreadableDoc(f"a broken OLE compound file ({type(exc).__name__}: {exc})") from exc
    return word_lines(word, table)


def _stream(ole, name: str) -> bytes:
    size = ole.get_size(name)
    if size > MAX_STREAM_BYTES:
        raise UnreadableDoc(f"a .doc whose {name} stream is {size} bytes: over the {MAX_STREAM_BYTES >> 20} MB bound")
    with ole.openstream(name) as stream:
        data = stream.read(MAX_STREAM_BYTES + 1)
    if len(data) > MAX_STREAM_BYTES:
        raise UnreadableDoc(f"a .doc whose {name} stream is over the {MAX_STREAM_BYTES >> 20} MB bound")
    return data


def _fib_flags(word: bytes) -> int:
    if len(word) < 32 or struct.unpack_from("<H", word, 0)[0] != 0xA5EC:
        raise UnreadableDoc("a WordDocument stream without a Word FIB")
    return struct.unpack_from("<H", word, 0x0A)[0]


@dataclass
class _Fib:
    ccp_text: int
    pairs: list[tuple[int, int]]  # (fc, lcb) of the FIB's fibRgFcLcb


def _fib(word: bytes) -> _Fib:
    flags = _fib_flags(word)
    n_fib = struct.unpack_from("<H", word, 2)[0]
    if flags & 0x0100 or flags & 0x8000:
        raise UnreadableDoc("an encrypted .doc: not read")
    if n_fib < _WORD97_NFIB:
        raise UnreadableDoc(f"a Word 6/95 .doc (nFib {n_fib}): not read")
    try:
        pos = 32
        csw = struct.unpack_from("<H", word, pos)[0]
        pos += 2 + 2 * csw
        cslw = struct.unpack_from("<H", word, pos)[0]
        rg_lw = struct.unpack_from(f"<{cslw}i", word, pos + 2)
        pos += 2 + 4 * cslw
        cb_rg = struct.unpack_from("<H", word, pos)[0]
        pairs = [struct.unpack_from("<II", word, pos + 2 + 8 * i) for i in range(cb_rg)]
    except struct.error as exc:
        raise UnreadableDoc("a truncated FIB") from exc
    if cslw < 4 or len(pairs) <= _FC_CLX:
        raise UnreadableDoc("a FIB too short for Word 97")
    return _Fib(ccp_text=max(0, rg_lw[3]), pairs=pairs)


@dataclass
class _Piece:
    cp_start: int
    cp_end: int
    fc: int  # byte offset of the piece's first character in the WordDocument stream
    compressed: bool


def _pieces(table: bytes, fc_clx: int, lcb_clx: int) -> list[_Piece]:
    """The piece table: the Pcdt of the CLX, after any number of Prc (property modifier) blocks."""
    clx = table[fc_clx:fc_clx + lcb_clx]
    if lcb_clx == 0 or len(clx) < lcb_clx:
        raise UnreadableDoc("a .doc without a piece table")
    pos = 0
    while pos < len(clx) and clx[pos] == 0x01:  # Prc: clxt, cbGrpprl (int16), grpprl
        (cb,) = struct.unpack_from("<h", clx, pos + 1)
        pos += 3 + max(0, cb)
    if pos >= len(clx) or clx[pos] != 0x02:
        raise UnreadableDoc("a .doc whose piece table is broken")
    (lcb,) = struct.unpack_from("<I", clx, pos + 1)
    plc = clx[pos + 5:pos + 5 + lcb]
    n = (len(plc) - 4) // 12
    if n <= 0 or len(plc) < lcb:
        raise UnreadableDoc("a .doc whose piece table is broken")
    cps = struct.unpack_from(f"<{n + 1}I", plc, 0)
    pieces = []
    for i in range(n):
        (fc_raw,) = struct.unpack_from("<I", plc, 4 * (n + 1) + 8 * i + 2)
        compressed = bool(fc_raw & 0x40000000)
        fc = fc_raw & 0x3FFFFFFF
        pieces.append(_Piece(cps[i], cps[i + 1], fc // 2 if compressed else fc, compressed))
    return pieces


def _decode_compressed(raw: bytes) -> str:
    """Compressed text: cp1252 (the five bytes cp1252 leaves undefined are the same code points)."""
    return raw.decode("cp1252", errors="surrogateescape").translate(_UNDEFINED_CP1252)


_UNDEFINED_CP1252 = {0xDC00 + b: b for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}


def _main_text(word: bytes, pieces: list[_Piece], ccp_text: int) -> tuple[str, _Offsets]:
    """The main document's characters (CP 0..ccp_text) and where each one's bytes are (its FC)."""
    chars: list[str] = []
    offsets = _Offsets()
    position = 0
    for piece in pieces:
        start, end = piece.cp_start, min(piece.cp_end, ccp_text)
        if end <= start:
            continue
        count = end - start
        width = 1 if piece.compressed else 2
        raw = word[piece.fc:piece.fc + count * width]
        if len(raw) < count * width:
            raise UnreadableDoc("a .doc whose text runs past its WordDocument stream (truncated?)")
        chars.append(_decode_compressed(raw) if piece.compressed else raw.decode("utf-16-le", errors="replace"))
        offsets.add(position, piece.fc, width)
        position += count
    return "".join(chars), offsets


class _Offsets:
    """Character index in the main text -> byte offset (FC) in the WordDocument stream, piece by piece."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.pieces: list[tuple[int, int]] = []  # (fc of the piece's first character, bytes a character)

    def add(self, index: int, fc: int, width: int) -> None:
        self.starts.append(index)
        self.pieces.append((fc, width))

    def __getitem__(self, index: int) -> int:
        k = bisect.bisect_right(self.starts, index) - 1
        fc, width = self.pieces[k]
        return fc + (index - self.starts[k]) * width


@dataclass
class _Para:
    in_table: bool = False
    row_end: bool = False


class _ParagraphProperties:
    """Table membership of the paragraph holding a byte offset, from the PAPX FKPs (MS-DOC 2.9.175)."""

    def __init__(self, word: bytes, table: bytes, fc: int, lcb: int) -> None:
        self.starts: list[int] = []
        self.runs: list[tuple[int, _Para]] = []  # (fc end, properties), ordered by start
        plc = table[fc:fc + lcb]
        n = (len(plc) - 4) // 8
        if n <= 0:
            return
        for i in range(n):
            (pn,) = struct.unpack_from("<I", plc, 4 * (n + 1) + 4 * i)
            page = word[(pn & 0x3FFFFF) * 512:(pn & 0x3FFFFF) * 512 + 512]
            if len(page) < 512:
                continue
            crun = page[511]
            if 4 * (crun + 1) + 13 * crun > 511:
                continue
            rgfc = struct.unpack_from(f"<{crun + 1}I", page, 0)
            for k in range(crun):
                b_offset = page[4 * (crun + 1) + 13 * k] * 2
                self.starts.append(rgfc[k])
                self.runs.append((rgfc[k + 1], _papx(page, b_offset) if b_offset else _Para()))
        order = sorted(range(len(self.starts)), key=self.starts.__getitem__)
        self.starts = [self.starts[i] for i in order]
        self.runs = [self.runs[i] for i in order]

    def __bool__(self) -> bool:
        return bool(self.starts)

    def at(self, fc: int) -> _Para:
        i = bisect.bisect_right(self.starts, fc) - 1
        if i >= 0 and fc < self.runs[i][0]:
            return self.runs[i][1]
        return _Para()


def _papx(page: bytes, offset: int) -> _Para:
    """The table flags of a PapxInFkp: cb (or 0 then cb'), istd, then the sprms."""
    if offset >= 511:
        return _Para()
    cb = page[offset]
    if cb:
        start, size = offset + 1, 2 * cb - 1
    else:
        start, size = offset + 2, 2 * page[offset + 1] if offset + 1 < 511 else 0
    grpprl = page[start + 2:min(start + size, 511)]
    para = _Para()
    pos = 0
    while pos + 2 <= len(grpprl):
        (sprm,) = struct.unpack_from("<H", grpprl, pos)
        pos += 2
        spra = sprm >> 13
        if spra in (0, 1):
            size_op = 1
        elif spra in (2, 4, 5):
            size_op = 2
        elif spra == 3:
            size_op = 4
        elif spra == 7:
            size_op = 3
        else:  # variable: a length byte (sprmTDefTable: a 2-byte one counting itself + 1)
            if sprm == 0xD608 and pos + 2 <= len(grpprl):
                size_op = struct.unpack_from("<H", grpprl, pos)[0] + 1
            elif pos < len(grpprl):
                size_op = 1 + grpprl[pos]
            else:
                break
        operand = grpprl[pos:pos + size_op]
        pos += size_op
        value = operand[0] if operand else 0
        if sprm in (_SPRM_IN_TABLE, _SPRM_INNER_CELL) and value:
            para.in_table = True
        elif sprm == _SPRM_ITAP and len(operand) >= 4 and struct.unpack_from("<i", operand)[0] > 0:
            para.in_table = True
        elif sprm in (_SPRM_TTP, _SPRM_INNER_TTP) and value:
            para.in_table = para.row_end = True
    return para


def word_lines(word: bytes, table: bytes) -> list[str]:
    """The lines of a Word 97 document from its WordDocument and table streams (no OLE container: the
    tests build these streams with odd piece tables)."""
    fib = _fib(word)
    fc_clx, lcb_clx = fib.pairs[_FC_CLX]
    text, fcs = _main_text(word, _pieces(table, fc_clx, lcb_clx), fib.ccp_text)
    fc_bte, lcb_bte = fib.pairs[_FC_PLCF_BTE_PAPX]
    props = _ParagraphProperties(word, table, fc_bte, lcb_bte)
    return _Assembler(props).run(text, fcs)


class _Assembler:
    """Characters to lines: fields, paragraphs, manual breaks, table cells and rows."""

    def __init__(self, props: _ParagraphProperties) -> None:
        self.props = props
        self.lines: list[str] = []
        self.parts: list[str] = []  # the current paragraph's pieces of text
        self.para_lines: list[str] = []  # its lines so far (manual breaks)
        self.cell: list[str] = []  # the current table cell's lines
        self.cells: list[str] = []  # the current table row's cells
        self.last_was_cell_end = False

    def run(self, text: str, fcs: _Offsets) -> list[str]:
        fields: list[bool] = []  # per open field: True while in its code (before 0x14)
        codes = 0  # how many of them are in their code: linear time however deep a (broken) file nests them
        for i, ch in enumerate(text):
            if ch == "\x13":
                fields.append(True)
                codes += 1
                continue
            if ch == "\x14":
                if fields and fields[-1]:
                    fields[-1] = False
                    codes -= 1
                continue
            if ch == "\x15":
                if fields and fields.pop():
                    codes -= 1
                continue
            if codes and ch not in "\r\x07":
                continue  # a field's code (HYPERLINK "http://…", PAGE, DATE \@ "yyyy年M月d日")
            if ch in "\r\x0c":
                self.paragraph_end(self.props.at(fcs[i]) if self.props else _Para())
            elif ch == "\x07":
                self.cell_end(self.props.at(fcs[i]) if self.props else None)
            elif ch == "\x0b":
                self.para_lines.append("".join(self.parts))
                self.parts.clear()
            elif ch == "\t":
                self.parts.append(" ")
            elif ch == "\x1e":
                self.parts.append("-")  # non-breaking hyphen
            elif ch in _DROPPED or ch == "\x1f":
                continue  # pictures (0x01), footnote (0x02) and annotation (0x05) marks, optional hyphens
            elif "\uf020" <= ch <= "\uf0ff":
                self.parts.append(_SYMBOL_FONT.get(ord(ch) - 0xF000, "\ufffd"))
            else:
                self.parts.append(ch)
            if ch != "\x07":
                self.last_was_cell_end = False
        self.paragraph_end(_Para())
        self.row_end()
        return [line for line in self.lines if line]

    def _take_paragraph(self) -> list[str]:
        self.para_lines.append("".join(self.parts))
        self.parts.clear()
        lines = [collapse_ws(line) for line in self.para_lines]
        self.para_lines = []
        return [line for line in lines if line]

    def paragraph_end(self, para: _Para) -> None:
        lines = self._take_paragraph()
        if para.in_table and not para.row_end:
            self.cell.extend(lines)  # one of a cell's paragraphs (or a nested table's)
            return
        self.row_end()
        self.lines.extend(lines)

    def cell_end(self, para: _Para | None) -> None:
        """0x07: a cell ends; on a row-end paragraph (TTP), the row. Without paragraph properties, a second
        0x07 right after one ends the row (Word writes the row's own mark after its last cell's)."""
        row_end = para.row_end if para is not None else self.last_was_cell_end
        lines = self._take_paragraph()
        if row_end:
            self.row_end()
        else:
            self.cell.extend(lines)
            self.cells.append(" ".join(self.cell))
            self.cell = []
        self.last_was_cell_end = not row_end

    def row_end(self) -> None:
        if self.cell:
            self.cells.append(" ".join(self.cell))
            self.cell = []
        cells = [c for c in self.cells if c]
        if cells:
            self.lines.append("\t".join(cells))
        self.cells = []
