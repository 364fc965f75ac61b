"""The text of a .docx (Word, WPS), as Word shows it: one paragraph per line.

Runs are joined (a number Word split over runs stays whole), tracked deletions, field codes and ruby guides
are left out, insertions, field results, symbols, equations and text boxes are kept, auto-numbered
paragraphs get their label from numbering.xml (a 一、 heading's number is not in its text), a table row is
its cells joined by a tab. Headers and footers are not the report. Bounded: each part is decompressed to
at most MAX_XML_BYTES and parsed with no entity expansion and no network.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Iterator

from lxml import etree

from gongkai.ingest.html import collapse_ws

MAX_XML_BYTES = 32 * 1024 * 1024
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_M = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE_DOCUMENT = "/officeDocument"  # the relationship type's ending, transitional and strict alike
# Strict OOXML (ISO 29500 strict) names the same elements in other namespaces: read as transitional.
_STRICT = ((b"http://purl.oclc.org/ooxml/wordprocessingml/main",
            b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"),
           (b"http://purl.oclc.org/ooxml/officeDocument/math", b"http://schemas.openxmlformats.org/officeDocument/2006/math"))
_PARSER_OPTIONS = {"resolve_entities": False, "no_network": True, "huge_tree": False, "load_dtd": False}
_CELL_SEP = "\t"  # as in article bodies
_CONTAINERS = (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_W}ins", f"{_W}smartTag")
# What a paragraph walk never enters: deleted text, formatting, AlternateContent's duplicate, ruby guides.
_SKIPPED = frozenset({f"{_W}del", f"{_W}moveFrom", f"{_W}rPr", f"{_W}pPr", f"{_MC}Fallback", f"{_W}rt"})
# w:sym in the Symbol font: the code points Word reports use (≥ 95%, ±, ×, °, √…).
_SYMBOL_FONT = {0xA3: "≤", 0xB3: "≥", 0xB1: "±", 0xB4: "×", 0xB8: "÷", 0xB0: "°", 0xAE: "→", 0xAC: "←",
                0xB7: "•", 0xD6: "√", 0xB9: "≠", 0xBB: "≈", 0xA5: "∞", 0xE0: "◊", 0x2D: "−", 0xBC: "…"}


class NotADocx(ValueError):
    """A zip file with no Word main document part."""


def docx_lines(data: bytes) -> list[str]:
    """The paragraphs of a .docx's main document part, in reading order."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        part = _main_part(archive, names)
        if part is None:
            raise NotADocx("a zip file that is not a .docx")
        xml = read_member(archive, part)
        parts = {}
        for name in ("numbering.xml", "styles.xml"):
            path = posixpath.join(posixpath.dirname(part), name)
            parts[name] = _parse(read_member(archive, path)) if path in names else None
    root = _parse(xml)
    body = root.find(f"{_W}body")
    lines: list[str] = []
    if body is not None:
        _Reader(_Numbering(parts["numbering.xml"], parts["styles.xml"])).blocks(body, lines)
    return [line for line in lines if line]


def read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    """A member's bytes, decompressing no more than MAX_XML_BYTES whatever its header claims."""
    info = archive.getinfo(name)
    if info.file_size > MAX_XML_BYTES:
        raise ValueError(f"{name} is {info.file_size} bytes")
    with archive.open(info) as member:
        data = member.read(MAX_XML_BYTES + 1)
    if len(data) > MAX_XML_BYTES:
        raise ValueError(f"{name} is over {MAX_XML_BYTES} bytes")
    return data


def _parse(xml: bytes) -> etree._Element:
    for strict, transitional in _STRICT:
        xml = xml.replace(strict, transitional)
    return etree.fromstring(xml, etree.XMLParser(**_PARSER_OPTIONS))


def _main_part(archive: zipfile.ZipFile, names: set[str]) -> str | None:
    """The officeDocument the package's relationships name (WPS may call it word/document2.xml)."""
    if "_rels/.rels" in names:
        rels = _parse(read_member(archive, "_rels/.rels"))
        for rel in rels.iter(f"{_REL}Relationship"):
            if (rel.get("Type") or "").endswith(_OFFICE_DOCUMENT):
                target = posixpath.normpath((rel.get("Target") or "").lstrip("/"))
                if target in names:
                    return target
    return "word/document.xml" if "word/document.xml" in names else None


class _Reader:
    def __init__(self, numbering: _Numbering) -> None:
        self.numbering = numbering

    def blocks(self, parent: etree._Element, lines: list[str]) -> None:
        for child in parent:
            tag = child.tag
            if tag == f"{_W}p":
                lines.extend(self.paragraph(child))
            elif tag == f"{_W}tbl":
                for row in _children(child, f"{_W}tr"):  # its own rows: a nested table is its cell's
                    cells = []
                    for cell in _children(row, f"{_W}tc"):
                        cell_lines: list[str] = []
                        self.blocks(cell, cell_lines)
                        cells.append(" ".join(line for line in cell_lines if line))
                    cells = [c for c in cells if c]
                    if cells:
                        lines.append(_CELL_SEP.join(cells))
            elif tag in _CONTAINERS:
                self.blocks(child, lines)
            elif tag == f"{_MC}AlternateContent":
                chosen = child.find(f"{_MC}Choice")
                if chosen is None:
                    chosen = child.find(f"{_MC}Fallback")
                if chosen is not None:
                    self.blocks(chosen, lines)

    def paragraph(self, p: etree._Element) -> list[str]:
        """One paragraph's lines: its text boxes' paragraphs, then its own text with its list label; a
        manual line break (<w:br/>) starts a new line."""
        parts: list[str] = [self.numbering.label(p)]
        lines: list[str] = []
        boxes: list[str] = []
        in_field_code = 0  # between fldChar begin and separate: the field's code, not its shown result

        def walk(el: etree._Element) -> None:
            nonlocal in_field_code
            for child in el:
                tag = child.tag
                if not isinstance(tag, str) or tag in _SKIPPED:
                    continue
                if tag == f"{_W}txbxContent":
                    self.blocks(child, boxes)
                elif tag == f"{_W}fldChar":
                    kind = child.get(f"{_W}fldCharType")
                    if kind == "begin":
                        in_field_code += 1
                    elif kind in ("separate", "end") and in_field_code:
                        in_field_code -= 1
                elif in_field_code:
                    walk(child)
                elif tag in (f"{_W}t", f"{_M}t"):
                    parts.append(child.text or "")
                elif tag in (f"{_W}tab", f"{_W}ptab"):
                    parts.append(" ")
                elif tag in (f"{_W}br", f"{_W}cr"):
                    if child.get(f"{_W}type") not in ("page", "column"):
                        lines.append("".join(parts))
                        parts.clear()
                elif tag == f"{_W}noBreakHyphen":
                    parts.append("-")
                elif tag == f"{_W}sym":
                    parts.append(_symbol(child))
                else:
                    walk(child)

        walk(p)
        lines.append("".join(parts))
        return boxes + [collapse_ws(line) for line in lines]


def _children(parent: etree._Element, tag: str) -> Iterator[etree._Element]:
    """`parent`'s `tag` children, also those inside content controls and custom XML around them."""
    for child in parent:
        if child.tag == tag:
            yield child
        elif child.tag in _CONTAINERS:
            yield from _children(child, tag)


def _symbol(sym: etree._Element) -> str:
    """A w:sym's character: Symbol-font codes mapped to Unicode, others as the code says; U+FFFD where no
    character is known (marked, not dropped)."""
    try:
        code = int(sym.get(f"{_W}char") or "", 16)
    except ValueError:
        return "\ufffd"
    if 0xF000 <= code <= 0xF0FF:  # a font's private range: Symbol, Wingdings…
        if (sym.get(f"{_W}font") or "").lower() == "symbol" and code - 0xF000 in _SYMBOL_FONT:
            return _SYMBOL_FONT[code - 0xF000]
        code -= 0xF000
        return chr(code) if 0x20 <= code < 0x7F and (sym.get(f"{_W}font") or "").lower() == "symbol" else "\ufffd"
    return chr(code) if code >= 0x20 else "\ufffd"


class _Numbering:
    """Word's automatic list labels (numbering.xml): 一、 二、, 1. 2., （1）, ①, counted per list as Word does;
    bullets give no label (like an HTML <ul>)."""

    def __init__(self, root: etree._Element | None, styles: etree._Element | None = None) -> None:
        self.levels: dict[str, dict[int, tuple[int, str, str]]] = {}  # numId -> ilvl -> (start, format, text)
        self.style_levels: dict[tuple[str, str], int] = {}  # (numId, paragraph style) -> the level naming it
        self.counters: dict[str, dict[int, int]] = {}
        self.styles = _style_numbering(styles) if styles is not None else {}
        if root is None:
            return
        abstract: dict[str, dict[int, tuple[int, str, str]]] = {}
        abstract_styles: dict[str, dict[str, int]] = {}
        for node in root.iter(f"{_W}abstractNum"):
            key = node.get(f"{_W}abstractNumId") or ""
            abstract[key] = {
                _int(lvl.get(f"{_W}ilvl"), 0): (_int(_val(lvl, "start"), 1), _val(lvl, "numFmt") or "decimal",
                                                _val(lvl, "lvlText") or "")
                for lvl in node.iterchildren(f"{_W}lvl")}
            abstract_styles[key] = {_val(lvl, "pStyle") or "": _int(lvl.get(f"{_W}ilvl"), 0)
                                    for lvl in node.iterchildren(f"{_W}lvl") if _val(lvl, "pStyle")}
        for num in root.iter(f"{_W}num"):
            num_id, abstract_id = num.get(f"{_W}numId") or "", _val(num, "abstractNumId") or ""
            levels = dict(abstract.get(abstract_id, {}))
            for override in num.iterchildren(f"{_W}lvlOverride"):
                ilvl, start = _int(override.get(f"{_W}ilvl"), 0), _val(override, "startOverride")
                if start is not None and ilvl in levels:
                    levels[ilvl] = (_int(start, 1), *levels[ilvl][1:])
            self.levels[num_id] = levels
            for style, ilvl in abstract_styles.get(abstract_id, {}).items():
                self.style_levels[(num_id, style)] = ilvl

    def label(self, p: etree._Element) -> str:
        """The paragraph's list label, from its own numPr or its paragraph style's (标题 1 numbered 一、)."""
        p_pr = p.find(f"{_W}pPr")
        style = _val(p_pr, "pStyle") if p_pr is not None else None
        by_style = self.styles.get(style or "", (None, None))
        num_pr = p_pr.find(f"{_W}numPr") if p_pr is not None else None
        num_id = (_val(num_pr, "numId") if num_pr is not None else None) or by_style[0]
        if not num_id or num_id == "0":
            return ""
        ilvl_text = _val(num_pr, "ilvl") if num_pr is not None else None
        if ilvl_text is not None:
            ilvl = _int(ilvl_text, 0)
        elif by_style[1] is not None:
            ilvl = by_style[1]
        else:
            ilvl = self.style_levels.get((num_id, style or ""), 0)
        levels = self.levels.get(num_id)
        if not levels or ilvl not in levels or levels[ilvl][1] in ("bullet", "none"):
            return ""
        counters = self.counters.setdefault(num_id, {})
        counters[ilvl] = counters.get(ilvl, levels[ilvl][0] - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]  # a new 一、 restarts its （一）
        text = levels[ilvl][2]
        for k in range(9, 0, -1):
            if f"%{k}" in text and k - 1 in levels:
                start, fmt, _ = levels[k - 1]
                text = text.replace(f"%{k}", format_number(counters.get(k - 1, start), fmt))
        if not text:
            return ""
        return text if ord(text[-1]) > 0x2E7F else text + " "  # "一、" runs on; "1." is followed by a space


def _style_numbering(styles: etree._Element) -> dict[str, tuple[str | None, int | None]]:
    """Paragraph style id -> (numId, ilvl) its numPr gives, through its basedOn chain."""
    own: dict[str, tuple[str | None, int | None, str | None]] = {}
    for style in styles.iter(f"{_W}style"):
        num_pr = style.find(f"{_W}pPr/{_W}numPr")
        ilvl = _val(num_pr, "ilvl") if num_pr is not None else None
        own[style.get(f"{_W}styleId") or ""] = (_val(num_pr, "numId") if num_pr is not None else None,
                                                 _int(ilvl, 0) if ilvl is not None else None, _val(style, "basedOn"))
    resolved: dict[str, tuple[str | None, int | None]] = {}
    for style_id in own:
        num_id, ilvl, parent, seen = *own[style_id][:2], own[style_id][2], {style_id}
        while num_id is None and parent in own and parent not in seen:  # a cycle of basedOn ends here
            seen.add(parent)
            num_id, ilvl = own[parent][0], ilvl if ilvl is not None else own[parent][1]
            parent = own[parent][2]
        resolved[style_id] = (num_id, ilvl)
    return resolved


_CN_DIGITS = "零一二三四五六七八九"
_HEAVENLY_STEMS = "甲乙丙丁戊己庚辛壬癸"


def format_number(n: int, fmt: str) -> str:
    """A list counter in a numFmt: decimal, chineseCounting (十一), ideographTraditional (甲), ①, A, iv…"""
    if fmt in ("chineseCounting", "chineseCountingThousand", "ideographDigital", "japaneseCounting",
               "taiwaneseCounting", "taiwaneseCountingThousand"):
        return _chinese_number(n)
    if fmt == "ideographTraditional" and 1 <= n <= 10:
        return _HEAVENLY_STEMS[n - 1]
    if fmt.startswith("decimalEnclosedCircle") and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if fmt == "decimalEnclosedParen" and 1 <= n <= 20:
        return chr(0x2474 + n - 1)
    if fmt == "decimalEnclosedFullstop" and 1 <= n <= 20:
        return chr(0x2488 + n - 1)
    if fmt.startswith("decimalFullWidth"):
        return "".join(chr(ord(c) + 0xFEE0) for c in str(n))
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("upperLetter", "lowerLetter") and n >= 1:
        letter = chr(ord("A") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return letter if fmt == "upperLetter" else letter.lower()
    if fmt in ("upperRoman", "lowerRoman") and 1 <= n < 4000:
        roman = _roman(n)
        return roman if fmt == "upperRoman" else roman.lower()
    return str(n)


def _chinese_number(n: int) -> str:
    if not 0 <= n < 1000:
        return str(n)
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    if not hundreds:
        if not tens:
            return _CN_DIGITS[ones]
        return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")
    text = _CN_DIGITS[hundreds] + "百"
    if rest == 0:
        return text
    if tens == 0:
        return text + "零" + _CN_DIGITS[ones]
    return text + _CN_DIGITS[tens] + "十" + (_CN_DIGITS[ones] if ones else "")


def _roman(n: int) -> str:
    out = ""
    for value, numeral in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"),
                           (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        count, n = divmod(n, value)
        out += numeral * count
    return out


def _val(el: etree._Element, name: str) -> str | None:
    child = el.find(f"{_W}{name}")
    return child.get(f"{_W}val") if child is not None else None


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
