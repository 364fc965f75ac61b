"""Faithful .docx and .pdf files of a county report, as real township portals attach them.

Many reports are published only as an attachment saved by Word 2016 / WPS, and an extractor that reads a
tidy file (one run per paragraph, one Tj per line) breaks on the real ones. So these builders reproduce
what makes real files hard: a .docx whose text is split into runs at arbitrary points (mid-number,
between a digit and its %), with proofing marks, bookmarks, a field and tracked changes; a .pdf laid out
like a 公文 (A4, 28 characters a line at 三号, Chinese line-breaking rules, paragraphs crossing pages),
with CJK text in an Identity-H Type0 font decoded only through its ToUnicode CMap, ASCII runs switched
to a second font, and justified lines drawn with TJ kerning.

The text a correct extractor must recover is `[title, *paragraphs, *signature_lines(title)]` (plus,
for a .docx built with `table=`, the non-empty cells row by row before the signature); empty paragraphs
do not count. Everything is a pure function of the arguments: the same input gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import random
import re
import zipfile
import zlib
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

__all__ = ["docx_bytes", "pdf_bytes", "signature_lines"]

# One fixed moment (Beijing time) for every timestamp, so output never depends on the clock.
SIGN_DATE = "2024年7月26日"
_W3CDTF = "2024-07-26T01:15:00Z"  # 2024-07-26 09:15 +08:00, as Word stores it (UTC)
_REVISION_DATE = "2024-07-26T09:15:00Z"  # Word writes tracked-change dates in local time marked Z
_PDF_DATE = "D:20240726091500+08'00'"

_TOWN = re.compile(r"^(?:关于|中共)?([^\d\W]{1,12}?(?:街道|镇|乡(?!村)))")


def signature_lines(title: str) -> list[str]:
    """The two right-aligned signature lines both builders append: issuing body and date.

    The body is the township named at the start of the title (桃溪镇2023年… -> 桃溪镇人民政府, a 街道 signs as
    its 办事处), else a bare 人民政府; tests need this to know a document's full expected text.
    """
    m = _TOWN.match(title)
    if not m:
        return ["人民政府", SIGN_DATE]
    town = m.group(1)
    return [town + ("办事处" if town.endswith("街道") else "人民政府"), SIGN_DATE]


# ---------------------------------------------------------------------------------------------- docx

_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_W_NS = (
    'xmlns:wpc="http://schemas.microsoft.com/office/word/2010/wordprocessingCanvas" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:o="urn:schemas-microsoft-com:office:office" '
    f'xmlns:r="{_R}" '
    'xmlns:m="http://schemas.openxmlformats.org/officeDocument/2006/math" '
    'xmlns:v="urn:schemas-microsoft-com:vml" '
    'xmlns:wp14="http://schemas.microsoft.com/office/word/2010/wordprocessingDrawing" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:w10="urn:schemas-microsoft-com:office:word" '
    f'xmlns:w="{_W}" '
    'xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml" '
    'xmlns:w15="http://schemas.microsoft.com/office/word/2012/wordml" '
    'xmlns:wpg="http://schemas.microsoft.com/office/word/2010/wordprocessingGroup" '
    'xmlns:wpi="http://schemas.microsoft.com/office/word/2010/wordprocessingInk" '
    'xmlns:wne="http://schemas.microsoft.com/office/word/2006/wordml" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'mc:Ignorable="w14 w15 wp14"'
)

_FS = "仿宋_GB2312"
_TITLE_FONT = "方正小标宋简体"
_TEXT_TWIPS = 11906 - 1588 - 1474  # A4 width minus the 公文 left (28mm) and right (26mm) margins

_BODY_RPR = f'<w:rFonts w:ascii="{_FS}" w:eastAsia="{_FS}" w:hAnsi="{_FS}"/><w:sz w:val="32"/><w:szCs w:val="32"/>'
_TITLE_RPR = (
    f'<w:rFonts w:ascii="{_TITLE_FONT}" w:eastAsia="{_TITLE_FONT}" w:hAnsi="{_TITLE_FONT}"/>'
    '<w:sz w:val="44"/><w:szCs w:val="44"/>'
)
# What runs of one pasted-and-edited paragraph carry: the same look, spelled several ways.
_BODY_RPR_VARIANTS = (
    _BODY_RPR,
    f'<w:rFonts w:ascii="Times New Roman" w:eastAsia="{_FS}" w:hAnsi="Times New Roman" w:hint="eastAsia"/>'
    '<w:sz w:val="32"/><w:szCs w:val="32"/><w:lang w:val="en-US" w:eastAsia="zh-CN"/>',
    f'<w:rFonts w:hint="eastAsia" w:ascii="{_FS}" w:eastAsia="{_FS}"/><w:color w:val="000000"/>'
    '<w:kern w:val="0"/><w:sz w:val="32"/><w:lang w:eastAsia="zh-CN"/>',
    f'<w:rFonts w:eastAsia="{_FS}"/><w:sz w:val="32"/><w:szCs w:val="32"/><w:lang w:val="zh-CN"/>',
    f'<w:rFonts w:ascii="{_FS}" w:eastAsia="{_FS}" w:hAnsi="宋体" w:cs="宋体"/><w:kern w:val="0"/>'
    '<w:sz w:val="30"/><w:szCs w:val="30"/><w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar"/>',
)
_TITLE_RPR_VARIANTS = (
    _TITLE_RPR,
    f'<w:rFonts w:ascii="Times New Roman" w:eastAsia="{_TITLE_FONT}" w:hAnsi="Times New Roman" '
    'w:hint="eastAsia"/><w:sz w:val="44"/><w:szCs w:val="44"/><w:lang w:val="en-US" w:eastAsia="zh-CN"/>',
)
_BODY_PPR = '<w:spacing w:line="579" w:lineRule="exact"/><w:ind w:firstLineChars="200" w:firstLine="640"/>'
_REV = 'w:author="Administrator" w:date="' + _REVISION_DATE + '"'


def _wt(text: str) -> str:
    space = ' xml:space="preserve"' if text != text.strip(" \t\r\n") else ""  # else Word drops the spaces
    return f"<w:t{space}>{escape(text)}</w:t>"


def _run(text: str, rpr: str, rsid: str = "", before: str = "") -> str:
    attr = f' w:rsidR="{rsid}"' if rsid else ""
    return f"<w:r{attr}><w:rPr>{rpr}</w:rPr>{before}{_wt(text)}</w:r>"


class _Ids:
    """Deterministic rsids, w14:paraIds and annotation ids for one document."""

    def __init__(self, rng: random.Random, ugly: bool) -> None:
        self.rng = rng
        self.ugly = ugly
        pool: list[str] = []
        while len(pool) < 6:
            rsid = f"00{rng.getrandbits(24):06X}"
            if rsid not in pool:
                pool.append(rsid)
        self.rsids = pool
        self._next = 0

    def next_id(self) -> int:
        self._next += 1
        return self._next

    def rsid(self) -> str:
        return self.rng.choice(self.rsids) if self.ugly else ""

    def p_attrs(self) -> str:
        if not self.ugly:
            return ""
        r = self.rng
        return (
            f' w14:paraId="{r.getrandbits(31):08X}" w14:textId="{r.getrandbits(31):08X}"'
            f' w:rsidR="{r.choice(self.rsids)}" w:rsidRDefault="{self.rsids[0]}"'
        )


def _para(ids: _Ids, ppr: str, content: str) -> str:
    return f"<w:p{ids.p_attrs()}><w:pPr>{ppr}</w:pPr>{content}</w:p>"


def _digit_cuts(text: str) -> set[int]:
    """Where Word tends to start a new run: at every digit/non-digit boundary and before a %."""
    cuts = {i for i in range(1, len(text)) if text[i].isdigit() != text[i - 1].isdigit()}
    cuts |= {i for i in range(1, len(text)) if text[i] in "%％"}
    return cuts


def _segments(text: str, cuts: set[int]) -> list[tuple[int, int]]:
    edges = [0, *sorted(c for c in cuts if 0 < c < len(text)), len(text)]
    return [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]


def _simple_runs(ids: _Ids, text: str, variants: tuple[str, ...], cuts: set[int]) -> str:
    if not ids.ugly:
        return _run(text, variants[0]) if text else ""
    return "".join(_run(text[a:b], ids.rng.choice(variants), ids.rsid()) for a, b in _segments(text, cuts))


def _ugly_body(ids: _Ids, text: str, feats: set[str]) -> str:
    """One body paragraph's runs, split and decorated the way an edited Word file has them."""
    rng, n = ids.rng, len(text)
    cuts: set[int] = set()
    if n > 1:
        cuts |= {rng.randint(1, n - 1) for _ in range(max(2, n // 14))}
    cuts |= {i for i in range(1, n) if text[i] in "%％" and text[i - 1].isdigit()}  # 8.3|%
    cuts |= {i for i in range(n) if text[i] == " "}  # the next run starts with a space: xml:space
    number = re.search(r"\d{2,}", text)
    if number:
        cuts.add((number.start() + number.end()) // 2)  # 20|23, 10|2
    spans: dict[str, tuple[int, int]] = {}
    if "insdel" in feats:
        a = max(1, int(n * 0.15))
        spans["ins"] = (a, a + max(1, min(4, int(n * 0.25))))
        cuts.add(int(n * 0.45))
    if "field" in feats:
        a = int(n * 0.55)
        spans["field"] = (a, a + max(1, min(6, int(n * 0.3))))
    # proofing marks wrap ASCII words (spell) or, in a paragraph without any, two Chinese chars (grammar)
    proof = [(m.start(), m.end(), "spell") for m in re.finditer(r"[A-Za-z][A-Za-z0-9.]*", text)]
    if "proof" in feats and n > 3 and not proof:
        a = rng.randint(1, n - 3)
        proof.append((a, a + 2, "gram"))
    cuts |= {c for a, b, _ in proof for c in (a, b)}
    for a, b in spans.values():  # a tracked insertion and a field result are one run each
        cuts = {c for c in cuts if not a < c < b} | {a, b}
    ends = cuts | {0, n}
    marks_open: dict[int, list[str]] = {}
    marks_close: dict[int, list[str]] = {}

    def mark(a: int, b: int, start: str, end: str) -> None:
        marks_open.setdefault(a, []).append(start)
        marks_close.setdefault(b, []).insert(0, end)

    for a, b, kind in proof:
        if a in ends and b in ends:
            mark(a, b, f'<w:proofErr w:type="{kind}Start"/>', f'<w:proofErr w:type="{kind}End"/>')
    segs = _segments(text, cuts)
    if "bookmark" in feats and len(segs) >= 3:
        bid = ids.next_id()
        mark(segs[1][0], segs[2][1], f'<w:bookmarkStart w:id="{bid}" w:name="_Hlk{170000000 + bid}"/>',
             f'<w:bookmarkEnd w:id="{bid}"/>')
    plain = [a for a, b in segs[1:] if (a, b) not in spans.values()]
    page_break_at = plain[len(plain) // 2] if "lrpb" in feats and plain else -1
    out: list[str] = []
    for a, b in segs:
        out += marks_close.get(a, [])
        if "insdel" in feats and a == int(n * 0.45):
            out.append(f'<w:del w:id="{ids.next_id()}" {_REV}><w:r w:rsidDel="{ids.rsids[-1]}">'
                       f"<w:rPr>{_BODY_RPR}</w:rPr><w:delText>删除的字</w:delText></w:r></w:del>")
        out += marks_open.get(a, [])
        rpr = rng.choice(_BODY_RPR_VARIANTS)
        seg = text[a:b]
        if spans.get("ins") == (a, b):
            out.append(f'<w:ins w:id="{ids.next_id()}" {_REV}>{_run(seg, rpr, ids.rsids[-1])}</w:ins>')
        elif spans.get("field") == (a, b):
            out.append(
                f"<w:r><w:rPr>{rpr}</w:rPr><w:fldChar w:fldCharType=\"begin\"/></w:r>"
                f"<w:r><w:rPr>{rpr}</w:rPr>"
                '<w:instrText xml:space="preserve"> HYPERLINK "http://www.zjzwfw.gov.cn/" </w:instrText></w:r>'
                f"<w:r><w:rPr>{rpr}</w:rPr><w:fldChar w:fldCharType=\"separate\"/></w:r>"
                + _run(seg, '<w:rStyle w:val="a8"/>' + rpr, ids.rsid())
                + f"<w:r><w:rPr>{rpr}</w:rPr><w:fldChar w:fldCharType=\"end\"/></w:r>"
            )
        else:
            out.append(_run(seg, rpr, ids.rsid(), "<w:lastRenderedPageBreak/>" if a == page_break_at else ""))
    out += marks_close.get(n, [])
    if "goback" in feats:
        out.append('<w:bookmarkStart w:id="0" w:name="_GoBack"/><w:bookmarkEnd w:id="0"/>')
    return "".join(out)


def _features(paragraphs: list[str]) -> dict[int, set[str]]:
    """Which body paragraph carries which Word artefact (each appears once, when there is text)."""
    feats: dict[int, set[str]] = {i: set() for i in range(len(paragraphs))}
    long = [i for i, p in enumerate(paragraphs) if len(p) >= 12]
    if long:
        feats[long[0]].add("insdel")
        feats[long[min(1, len(long) - 1)]].add("field")
        feats[long[-1]].add("bookmark")
        feats[long[len(long) // 2]].add("lrpb")
    for i in range(0, len(paragraphs), 3):
        feats[i].add("proof")
    if paragraphs:
        feats[len(paragraphs) - 1].add("goback")
    return feats


def _table_xml(ids: _Ids, table: list[list[str]]) -> str:
    cols = max(len(row) for row in table)
    width = _TEXT_TWIPS // cols
    grid = "".join(f'<w:gridCol w:w="{width}"/>' for _ in range(cols))
    borders = "".join(
        f'<w:{side} w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
        for side in ("top", "left", "bottom", "right", "insideH", "insideV")
    )
    rpr = '<w:rFonts w:ascii="仿宋_GB2312" w:eastAsia="仿宋_GB2312" w:hAnsi="仿宋_GB2312"/><w:sz w:val="28"/>'
    rows = []
    for row in table:
        cells = []
        for k, cell in enumerate(row):
            span = cols - len(row) + 1 if k == len(row) - 1 else 1
            tcpr = f'<w:tcW w:w="{width * span}" w:type="dxa"/>'
            tcpr += f'<w:gridSpan w:val="{span}"/>' if span > 1 else ""
            runs = _simple_runs(ids, cell, (rpr,), _digit_cuts(cell))
            cells.append(f'<w:tc><w:tcPr>{tcpr}<w:vAlign w:val="center"/></w:tcPr>'
                         + _para(ids, f'<w:jc w:val="center"/><w:rPr>{rpr}</w:rPr>', runs) + "</w:tc>")
        rows.append("<w:tr>" + "".join(cells) + "</w:tr>")
    return (
        '<w:tbl><w:tblPr><w:tblStyle w:val="a7"/><w:tblW w:w="0" w:type="auto"/><w:jc w:val="center"/>'
        f'<w:tblBorders>{borders}</w:tblBorders><w:tblLook w:val="04A0" w:firstRow="1" w:lastRow="0" '
        'w:firstColumn="1" w:lastColumn="0" w:noHBand="0" w:noVBand="1"/></w:tblPr>'
        f"<w:tblGrid>{grid}</w:tblGrid>" + "".join(rows) + "</w:tbl>"
    )


def _document_xml(ids: _Ids, title: str, paragraphs: list[str], table: list[list[str]] | None) -> str:
    ugly = ids.ugly
    body = [
        _para(ids, f'<w:spacing w:line="700" w:lineRule="exact"/><w:jc w:val="center"/><w:rPr>{_TITLE_RPR}</w:rPr>',
              _simple_runs(ids, title, _TITLE_RPR_VARIANTS, _digit_cuts(title))),
        _para(ids, f"{_BODY_PPR}<w:rPr>{_BODY_RPR}</w:rPr>",
              _run("    ", _BODY_RPR, ids.rsid()) if ugly else ""),
    ]
    feats = _features(paragraphs)
    for i, text in enumerate(paragraphs):
        runs = _ugly_body(ids, text, feats[i]) if ugly and text else _simple_runs(ids, text, (_BODY_RPR,), set())
        body.append(_para(ids, f'{_BODY_PPR}<w:jc w:val="both"/><w:rPr>{_BODY_RPR}</w:rPr>', runs))
    if table:
        body.append(_table_xml(ids, table))
    body.append(_para(ids, f"{_BODY_PPR}<w:rPr>{_BODY_RPR}</w:rPr>", ""))
    for line in signature_lines(title):
        body.append(_para(ids, f'<w:spacing w:line="579" w:lineRule="exact"/><w:jc w:val="right"/>'
                               f"<w:rPr>{_BODY_RPR}</w:rPr>",
                          _simple_runs(ids, line, _BODY_RPR_VARIANTS, _digit_cuts(line))))
    sect = (
        '<w:sectPr><w:headerReference w:type="default" r:id="rId4"/>'
        '<w:footerReference w:type="default" r:id="rId5"/>'
        '<w:pgSz w:w="11906" w:h="16838"/>'
        '<w:pgMar w:top="2098" w:right="1474" w:bottom="1984" w:left="1588" w:header="851" w:footer="1304" '
        'w:gutter="0"/><w:cols w:space="425"/>'
        '<w:docGrid w:type="linesAndChars" w:linePitch="579" w:charSpace="-842"/></w:sectPr>'
    )
    return f"{_XML_DECL}<w:document {_W_NS}><w:body>{''.join(body)}{sect}</w:body></w:document>"


def _header_xml() -> str:
    return (
        f'{_XML_DECL}<w:hdr {_W_NS}><w:p><w:pPr><w:pStyle w:val="a3"/>'
        '<w:pBdr><w:bottom w:val="none" w:sz="0" w:space="0" w:color="auto"/></w:pBdr></w:pPr></w:p></w:hdr>'
    )


def _footer_xml(ugly: bool) -> str:
    rpr = '<w:rPr><w:rFonts w:ascii="宋体" w:hAnsi="宋体"/><w:sz w:val="28"/><w:szCs w:val="28"/></w:rPr>'
    if ugly:
        field = (
            f'<w:r>{rpr}<w:fldChar w:fldCharType="begin"/></w:r>'
            f'<w:r>{rpr}<w:instrText xml:space="preserve"> PAGE   \\* MERGEFORMAT </w:instrText></w:r>'
            f'<w:r>{rpr}<w:fldChar w:fldCharType="separate"/></w:r>'
            f"<w:r>{rpr}<w:t>1</w:t></w:r>"
            f'<w:r>{rpr}<w:fldChar w:fldCharType="end"/></w:r>'
        )
    else:
        field = f'<w:fldSimple w:instr=" PAGE "><w:r>{rpr}<w:t>1</w:t></w:r></w:fldSimple>'
    return (
        f'{_XML_DECL}<w:ftr {_W_NS}><w:p><w:pPr><w:pStyle w:val="a5"/><w:jc w:val="center"/></w:pPr>'
        f'<w:r>{rpr}<w:t xml:space="preserve">— </w:t></w:r>{field}'
        f'<w:r>{rpr}<w:t xml:space="preserve"> —</w:t></w:r></w:p></w:ftr>'
    )


def _styles_xml() -> str:
    latent = '<w:uiPriority w:val="99"/><w:semiHidden/><w:unhideWhenUsed/>'
    border = '<w:{0} w:val="single" w:sz="4" w:space="0" w:color="auto"/>'
    grid = "".join(border.format(s) for s in ("top", "left", "bottom", "right", "insideH", "insideV"))
    tabs = '<w:tabs><w:tab w:val="center" w:pos="4153"/><w:tab w:val="right" w:pos="8306"/></w:tabs>'
    small = '<w:rPr><w:sz w:val="18"/><w:szCs w:val="18"/></w:rPr>'
    return (
        f'{_XML_DECL}<w:styles xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
        f'xmlns:r="{_R}" xmlns:w="{_W}" xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml" '
        'mc:Ignorable="w14"><w:docDefaults><w:rPrDefault><w:rPr>'
        '<w:rFonts w:ascii="Times New Roman" w:eastAsia="宋体" w:hAnsi="Times New Roman" w:cs="Times New Roman"/>'
        '<w:kern w:val="2"/><w:sz w:val="21"/><w:szCs w:val="22"/>'
        '<w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/></w:rPr></w:rPrDefault><w:pPrDefault/>'
        "</w:docDefaults>"
        '<w:style w:type="paragraph" w:default="1" w:styleId="a"><w:name w:val="Normal"/><w:qFormat/>'
        '<w:pPr><w:widowControl w:val="0"/><w:jc w:val="both"/></w:pPr></w:style>'
        '<w:style w:type="character" w:default="1" w:styleId="a0"><w:name w:val="Default Paragraph Font"/>'
        '<w:uiPriority w:val="1"/><w:semiHidden/><w:unhideWhenUsed/></w:style>'
        f'<w:style w:type="table" w:default="1" w:styleId="a1"><w:name w:val="Normal Table"/>{latent}'
        '<w:tblPr><w:tblInd w:w="0" w:type="dxa"/><w:tblCellMar><w:top w:w="0" w:type="dxa"/>'
        '<w:left w:w="108" w:type="dxa"/><w:bottom w:w="0" w:type="dxa"/><w:right w:w="108" w:type="dxa"/>'
        "</w:tblCellMar></w:tblPr></w:style>"
        f'<w:style w:type="numbering" w:default="1" w:styleId="a2"><w:name w:val="No List"/>{latent}</w:style>'
        '<w:style w:type="paragraph" w:styleId="a3"><w:name w:val="header"/><w:basedOn w:val="a"/>'
        '<w:link w:val="a4"/><w:uiPriority w:val="99"/><w:unhideWhenUsed/><w:pPr>'
        f'<w:pBdr><w:bottom w:val="single" w:sz="6" w:space="1" w:color="auto"/></w:pBdr>{tabs}'
        f'<w:snapToGrid w:val="0"/><w:jc w:val="center"/></w:pPr>{small}</w:style>'
        '<w:style w:type="character" w:customStyle="1" w:styleId="a4"><w:name w:val="页眉 字符"/>'
        f'<w:basedOn w:val="a0"/><w:link w:val="a3"/><w:uiPriority w:val="99"/>{small}</w:style>'
        '<w:style w:type="paragraph" w:styleId="a5"><w:name w:val="footer"/><w:basedOn w:val="a"/>'
        f'<w:link w:val="a6"/><w:uiPriority w:val="99"/><w:unhideWhenUsed/><w:pPr>{tabs}'
        f'<w:snapToGrid w:val="0"/><w:jc w:val="left"/></w:pPr>{small}</w:style>'
        '<w:style w:type="character" w:customStyle="1" w:styleId="a6"><w:name w:val="页脚 字符"/>'
        f'<w:basedOn w:val="a0"/><w:link w:val="a5"/><w:uiPriority w:val="99"/>{small}</w:style>'
        '<w:style w:type="table" w:styleId="a7"><w:name w:val="Table Grid"/><w:basedOn w:val="a1"/>'
        f'<w:uiPriority w:val="39"/><w:tblPr><w:tblBorders>{grid}</w:tblBorders></w:tblPr></w:style>'
        '<w:style w:type="character" w:styleId="a8"><w:name w:val="Hyperlink"/><w:basedOn w:val="a0"/>'
        '<w:uiPriority w:val="99"/><w:unhideWhenUsed/><w:rPr><w:color w:val="0563C1"/><w:u w:val="single"/>'
        "</w:rPr></w:style></w:styles>"
    )


def _settings_xml(ids: _Ids) -> str:
    rsids = f'<w:rsidRoot w:val="{ids.rsids[0]}"/>' + "".join(f'<w:rsid w:val="{r}"/>' for r in sorted(ids.rsids))
    return (
        f'{_XML_DECL}<w:settings xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
        f'xmlns:r="{_R}" xmlns:w="{_W}" xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml" '
        'mc:Ignorable="w14"><w:zoom w:percent="100"/><w:bordersDoNotSurroundHeader/>'
        '<w:bordersDoNotSurroundFooter/><w:proofState w:spelling="clean" w:grammar="clean"/>'
        '<w:defaultTabStop w:val="420"/><w:drawingGridVerticalSpacing w:val="579"/>'
        '<w:displayHorizontalDrawingGridEvery w:val="0"/><w:displayVerticalDrawingGridEvery w:val="2"/>'
        '<w:characterSpacingControl w:val="compressPunctuation"/><w:compat><w:spaceForUL/>'
        '<w:balanceSingleByteDoubleByteWidth/><w:doNotLeaveBackslashAlone/><w:ulTrailSpace/>'
        '<w:doNotExpandShiftReturn/><w:adjustLineHeightInTable/><w:useFELayout/>'
        '<w:compatSetting w:name="compatibilityMode" w:uri="http://schemas.microsoft.com/office/word" '
        'w:val="15"/></w:compat>'
        f'<w:rsids>{rsids}</w:rsids><w:themeFontLang w:val="en-US" w:eastAsia="zh-CN"/>'
        '<w:decimalSymbol w:val="."/><w:listSeparator w:val=","/></w:settings>'
    )


def _font_table_xml() -> str:
    fonts = (
        ("Times New Roman", "", "02020603050405020304", "00", "roman", "variable"),
        ("宋体", "SimSun", "02010600030101010101", "86", "auto", "variable"),
        (_FS, "仿宋", "", "86", "modern", "fixed"),
        (_TITLE_FONT, "", "", "86", "script", "fixed"),
    )
    body = "".join(
        f"<w:font w:name={quoteattr(name)}>"
        + (f"<w:altName w:val={quoteattr(alt)}/>" if alt else "")
        + (f'<w:panose1 w:val="{panose}"/>' if panose else "")
        + f'<w:charset w:val="{charset}"/><w:family w:val="{family}"/><w:pitch w:val="{pitch}"/></w:font>'
        for name, alt, panose, charset, family, pitch in fonts
    )
    return f'{_XML_DECL}<w:fonts xmlns:r="{_R}" xmlns:w="{_W}">{body}</w:fonts>'


def _content_types_xml() -> str:
    wml = "application/vnd.openxmlformats-officedocument.wordprocessingml."
    parts = (
        ("/word/document.xml", wml + "document.main+xml"),
        ("/word/styles.xml", wml + "styles+xml"),
        ("/word/settings.xml", wml + "settings+xml"),
        ("/word/fontTable.xml", wml + "fontTable+xml"),
        ("/word/header1.xml", wml + "header+xml"),
        ("/word/footer1.xml", wml + "footer+xml"),
        ("/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"),
        ("/docProps/app.xml", "application/vnd.openxmlformats-officedocument.extended-properties+xml"),
    )
    overrides = "".join(f'<Override PartName="{p}" ContentType="{t}"/>' for p, t in parts)
    return (
        f'{_XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Default Extension="xml" ContentType="application/xml"/>{overrides}</Types>'
    )


def _rels_xml(rels: tuple[tuple[str, str, str], ...]) -> str:
    items = "".join(
        f'<Relationship Id="{rid}" Type="{kind}" Target="{target}"/>' for rid, kind, target in rels
    )
    return f'{_XML_DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{items}</Relationships>'


_OD = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_PACKAGE_RELS = (
    ("rId3", _OD + "extended-properties", "docProps/app.xml"),
    ("rId2", "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
     "docProps/core.xml"),
    ("rId1", _OD + "officeDocument", "word/document.xml"),
)
_DOCUMENT_RELS = (
    ("rId1", _OD + "styles", "styles.xml"),
    ("rId2", _OD + "settings", "settings.xml"),
    ("rId3", _OD + "fontTable", "fontTable.xml"),
    ("rId4", _OD + "header", "header1.xml"),
    ("rId5", _OD + "footer", "footer1.xml"),
)


def _core_xml() -> str:
    return (
        f'{_XML_DECL}<cp:coreProperties '
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<dc:title></dc:title><dc:subject></dc:subject><dc:creator>Administrator</dc:creator>"
        "<cp:keywords></cp:keywords><dc:description></dc:description><cp:lastModifiedBy>Lenovo</cp:lastModifiedBy>"
        f'<cp:revision>3</cp:revision><dcterms:created xsi:type="dcterms:W3CDTF">{_W3CDTF}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{_W3CDTF}</dcterms:modified></cp:coreProperties>'
    )


def _app_xml(lines: list[str], pages: int, layout_lines: int) -> str:
    text = "".join(lines)
    words = sum(1 for ch in text if ord(ch) > 127) + len(re.findall(r"[!-~]+", text))
    no_space = len(re.sub(r"\s", "", text))
    return (
        f'{_XML_DECL}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        f"<Template>Normal.dotm</Template><TotalTime>12</TotalTime><Pages>{pages}</Pages><Words>{words}</Words>"
        f"<Characters>{no_space}</Characters><Application>Microsoft Office Word</Application>"
        f"<DocSecurity>0</DocSecurity><Lines>{layout_lines}</Lines><Paragraphs>{len(lines)}</Paragraphs>"
        "<ScaleCrop>false</ScaleCrop><Company></Company><LinksUpToDate>false</LinksUpToDate>"
        f"<CharactersWithSpaces>{len(text)}</CharactersWithSpaces><SharedDoc>false</SharedDoc>"
        "<HyperlinksChanged>false</HyperlinksChanged><AppVersion>16.0000</AppVersion></Properties>"
    )


def _zip(parts: list[tuple[str, str]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, xml in parts:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # what Word stamps every entry with
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            zf.writestr(info, xml.encode("utf-8"))
    return buf.getvalue()


def docx_bytes(
    title: str, paragraphs: list[str], *, ugly: bool = True, table: list[list[str]] | None = None
) -> bytes:
    """A .docx of the report as Word 2016 saves it; `ugly` splits and decorates runs like an edited file.

    Expected text: title, the non-empty paragraphs, the non-empty `table` cells (row by row), then
    `signature_lines(title)`. Tracked deletions (删除的字) and field instructions are not part of it.
    """
    rng = random.Random("docx\x00" + title + "\x00" + "\x00".join(paragraphs))
    ids = _Ids(rng, ugly)
    cells = [c for row in table or [] for c in row]
    expected = [s for s in (title, *paragraphs, *cells, *signature_lines(title)) if s.strip()]
    pages = _layout(title, paragraphs, justified=True)
    parts = [
        ("[Content_Types].xml", _content_types_xml()),
        ("_rels/.rels", _rels_xml(_PACKAGE_RELS)),
        ("word/document.xml", _document_xml(ids, title, paragraphs, table or None)),
        ("word/_rels/document.xml.rels", _rels_xml(_DOCUMENT_RELS)),
        ("word/header1.xml", _header_xml()),
        ("word/footer1.xml", _footer_xml(ugly)),
        ("word/styles.xml", _styles_xml()),
        ("word/settings.xml", _settings_xml(ids)),
        ("word/fontTable.xml", _font_table_xml()),
        ("docProps/core.xml", _core_xml()),
        ("docProps/app.xml", _app_xml(expected, len(pages), sum(len(p) for p in pages))),
    ]
    return _zip(parts)


# ----------------------------------------------------------------------------------------------- pdf

_MM = 72 / 25.4
_PAGE_W, _PAGE_H = 595.32, 841.92  # A4 as Word writes its MediaBox
_TOP = 37 * _MM
_LEFT = 28 * _MM
_TEXT_H = 225 * _MM
_BODY_SIZE = 16.0  # 三号
_LINE_W = 28 * _BODY_SIZE  # 28 characters a line (156mm ≈ 442pt; Word's grid squeezes, we keep 16pt cells)
_PITCH = 28.95  # 22 lines a page (docGrid linePitch 579 twips)
_TITLE_SIZE, _TITLE_PITCH = 22.0, 35.0  # 二号 title, fixed 35pt line spacing
_FOOTER_SIZE = 14.0  # 四号 page number
_INDENT = 2 * _BODY_SIZE
_EPS = 1e-6

# 行首禁则 / 行尾禁则: characters that never start (resp. end) a line in Word's zh-CN defaults
_CLOSERS = frozenset("，。、；：！？）》」』】〕〉〗’”…·～％‰℃°,.;:!?)]}%")
_OPENERS = frozenset("（《「『【〔〈〖‘“([{")

_CJK_FONT = b"/#B7#C2#CB#CE_GB2312"  # 仿宋_GB2312, GBK bytes escaped, the way Word names it
_ASCII_FONT = b"/TimesNewRomanPSMT"
_PRODUCER = rb"(Microsoft\256 Word 2016)"  # ® in PDFDocEncoding


def _is_ascii(ch: str) -> bool:
    return ord(ch) < 128


def _width(text: str, size: float) -> float:
    """Half a cell for ASCII (Times New Roman), a full cell for everything else (仿宋)."""
    return sum(size * (0.5 if _is_ascii(ch) else 1.0) for ch in text)


def _units(text: str, max_w: float, size: float) -> list[str]:
    """Unbreakable pieces: one CJK char, or an ASCII word (12.5, PM2.5, 8.3%) unless wider than a line."""
    units: list[str] = []
    for m in re.finditer(r"[!-~]+|.", text, re.S):
        u = m.group()
        if len(u) > 1 and _width(u, size) > max_w:
            chunk = ""
            for ch in u:
                if chunk and _width(chunk + ch, size) > max_w:
                    units.append(chunk)
                    chunk = ""
                chunk += ch
            units.append(chunk)
        else:
            units.append(u)
    return units


def _wrap(text: str, size: float, first_avail: float, avail: float) -> list[str]:
    """Greedy line breaking with the Chinese rules: closers hang, openers move down."""
    lines: list[str] = []
    cur: list[str] = []
    cur_w, limit = 0.0, first_avail
    for u in _units(text, avail, size):
        w = _width(u, size)
        if not cur or cur_w + w <= limit + _EPS or u == " " or (u in _CLOSERS and cur_w <= limit + _EPS):
            cur.append(u)  # one closer (or a space) that does not fit overhangs the right margin
            cur_w += w
            continue
        if u in _CLOSERS:  # a second one would too: the char before the hanging closers moves down with them
            k = len(cur) - 1
            while k > 0 and cur[k] in _CLOSERS:
                k -= 1
            if k == 0:  # nothing to move down: let it overhang too
                cur.append(u)
                cur_w += w
                continue
            carry = cur[k:]
            del cur[k:]
        else:  # an opener never ends a line
            carry = [cur.pop()] if len(cur) > 1 and cur[-1] in _OPENERS else []
        lines.append("".join(cur))
        cur = [*carry, u]
        cur_w, limit = _width("".join(cur), size), avail
    if cur:
        lines.append("".join(cur))
    return lines


def _expandable(text: str, i: int) -> bool:
    """Justification stretches every gap except inside an ASCII word (Word never letter-spaces one)."""
    a, b = text[i], text[i + 1]
    return not (_is_ascii(a) and _is_ascii(b) and a != " " and b != " ")


@dataclass(frozen=True)
class _Line:
    text: str
    x: float
    baseline: float
    size: float
    spread: float = 0.0  # extra points after each expandable gap (justified lines)


def _normalize(text: str) -> str:
    return "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in text)


def _layout(title: str, paragraphs: list[str], *, justified: bool) -> list[list[_Line]]:
    """Lines placed on A4 pages: title, blank line, paragraphs (crossing pages), blank, signature."""
    # (text, x offset, available width, size, pitch, align, stretch)
    flow: list[tuple[str, float, float, float, float, str, bool]] = []
    for line in _wrap(_normalize(title), _TITLE_SIZE, _LINE_W, _LINE_W):
        flow.append((line, 0.0, _LINE_W, _TITLE_SIZE, _TITLE_PITCH, "center", False))
    flow.append(("", 0.0, _LINE_W, _BODY_SIZE, _PITCH, "left", False))
    for para in paragraphs:
        lines = _wrap(_normalize(para), _BODY_SIZE, _LINE_W - _INDENT, _LINE_W) or [""]
        for k, line in enumerate(lines):
            indent = _INDENT if k == 0 else 0.0
            flow.append((line, indent, _LINE_W - indent, _BODY_SIZE, _PITCH, "left",
                         justified and k < len(lines) - 1))
    flow.append(("", 0.0, _LINE_W, _BODY_SIZE, _PITCH, "left", False))
    for line in signature_lines(title):
        flow.append((line, 0.0, _LINE_W, _BODY_SIZE, _PITCH, "right", False))

    pages: list[list[_Line]] = [[]]
    cursor = 0.0
    for text, indent, avail, size, pitch, align, stretch in flow:
        if cursor + pitch > _TEXT_H + 0.01:
            pages.append([])
            cursor = 0.0
        baseline = _PAGE_H - _TOP - cursor - pitch + (pitch - size) / 2 + 0.14 * size
        cursor += pitch
        if not text:
            continue
        natural = _width(text.rstrip(" "), size)
        x = _LEFT + indent
        if align == "center":
            x += (avail - natural) / 2
        elif align == "right":
            x += avail - natural
        spread = 0.0
        body = text.rstrip(" ")
        gaps = sum(1 for i in range(len(body) - 1) if _expandable(body, i))
        if stretch and gaps and avail - natural > 0.01:
            spread = (avail - natural) / gaps
        pages[-1].append(_Line(text, x, baseline, size, spread))
    return pages


def _n(x: float) -> str:
    s = f"{x:.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def _literal(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def _show(text: str, spread_after: list[float], size: float, cids: dict[str, int], tj: bool) -> str:
    """One run as TJ (with the justification kerning after each glyph) or Tj."""
    def enc(s: str) -> str:
        if _is_ascii(s[:1] or " "):
            return _literal(s)
        return "<" + "".join(f"{cids[ch]:04X}" for ch in s) + ">"

    if not tj:
        return f"{enc(text)} Tj"
    parts: list[str] = []
    buf = ""
    for k, ch in enumerate(text):
        buf += ch
        if k < len(text) - 1 and spread_after[k] > 0:
            parts += [enc(buf), _n(-spread_after[k] * 1000 / size)]
            buf = ""
    parts.append(enc(buf))
    return "[" + " ".join(parts) + "] TJ"


def _line_ops(line: _Line, cids: dict[str, int], tj: bool) -> list[str]:
    text, n = line.text, len(line.text)
    body_len = len(text.rstrip(" "))
    after = [line.spread if i < body_len - 1 and _expandable(text, i) else 0.0 for i in range(n)]
    ops = ["BT"]
    x, i = line.x, 0
    while i < n:
        asc = _is_ascii(text[i])
        j = i
        while j < n and _is_ascii(text[j]) == asc:
            j += 1
        ops.append(f"/{'F2' if asc else 'F1'} {_n(line.size)} Tf")
        ops.append(f"1 0 0 1 {_n(x)} {_n(line.baseline)} Tm")
        ops.append(_show(text[i:j], after[i:j], line.size, cids, tj))
        x += _width(text[i:j], line.size) + sum(after[i:j])
        i = j
    ops.append("ET")
    return ops


def _footer(page_no: int) -> _Line:
    text = f"— {page_no} —"
    x = _LEFT + (_LINE_W - _width(text, _FOOTER_SIZE)) / 2
    baseline = _PAGE_H - _TOP - _TEXT_H - 7 * _MM - _FOOTER_SIZE * 0.86
    return _Line(text, x, baseline, _FOOTER_SIZE)


def _page_content(lines: list[_Line], footer: _Line, cids: dict[str, int], tj: bool,
                  header: _Line | None = None) -> bytes:
    ops: list[str] = []
    if header is not None:  # a running header (the report's or the office's name), drawn first as Word does
        ops += ["/Artifact <</Type /Pagination /Subtype /Header>> BDC", "0 g", *_line_ops(header, cids, tj), "EMC"]
    for mcid, line in enumerate(lines):  # marked-content ids restart on every page
        ops += [f"/P <</MCID {mcid}>> BDC", "0 g", "0 G", *_line_ops(line, cids, tj), "EMC"]
    ops += ["/Artifact <</Type /Pagination /Subtype /Footer>> BDC", "0 g",
            *_line_ops(footer, cids, tj), "EMC"]
    return ("\r\n".join(ops) + "\r\n").encode("ascii")


def _to_unicode(cids: dict[str, int]) -> bytes:
    """The ToUnicode CMap: bfrange for runs of consecutive code+char, bfchar otherwise, ≤100 per block."""
    pairs = sorted((cid, ch) for ch, cid in cids.items())
    singles: list[str] = []
    ranges: list[str] = []
    i = 0
    while i < len(pairs):
        j = i
        while (
            j + 1 < len(pairs)
            and pairs[j + 1][0] == pairs[j][0] + 1
            and ord(pairs[j + 1][1]) == ord(pairs[j][1]) + 1
            and pairs[j + 1][0] >> 8 == pairs[i][0] >> 8
            and ord(pairs[j + 1][1]) >> 8 == ord(pairs[i][1]) >> 8
            and ord(pairs[j + 1][1]) < 0x10000
        ):
            j += 1
        if j > i:
            ranges.append(f"<{pairs[i][0]:04X}> <{pairs[j][0]:04X}> <{ord(pairs[i][1]):04X}>")
        else:
            singles.append(f"<{pairs[i][0]:04X}> <{pairs[i][1].encode('utf-16-be').hex().upper()}>")
        i = j + 1
    out = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        "<0000> <FFFF>",
        "endcodespacerange",
    ]
    for entries, kind in ((singles, "bfchar"), (ranges, "bfrange")):
        for k in range(0, len(entries), 100):
            block = entries[k : k + 100]
            out += [f"{len(block)} begin{kind}", *block, f"end{kind}"]
    out += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return ("\n".join(out) + "\n").encode("ascii")


class _PdfObjects:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def reserve(self) -> int:
        self.bodies.append(b"")
        return len(self.bodies)

    def set(self, num: int, body: bytes) -> int:
        self.bodies[num - 1] = body
        return num

    def add(self, body: bytes) -> int:
        return self.set(self.reserve(), body)

    def stream(self, data: bytes, extra: bytes = b"") -> int:
        packed = zlib.compress(data, 6)
        head = b"<</Filter/FlateDecode/Length %d%s>>" % (len(packed), extra)
        return self.add(head + b"stream\r\n" + packed + b"\r\nendstream")

    def serialize(self, root: int, info: int) -> bytes:
        out = bytearray(b"%PDF-1.7\r\n%\xb5\xb5\xb5\xb5\r\n")
        offsets = []
        for num, body in enumerate(self.bodies, 1):
            offsets.append(len(out))
            out += b"%d 0 obj\r\n%s\r\nendobj\r\n" % (num, body)
        xref = len(out)
        digest = hashlib.md5(bytes(out)).hexdigest().upper().encode()
        out += b"xref\r\n0 %d\r\n0000000000 65535 f\r\n" % (len(self.bodies) + 1)
        out += b"".join(b"%010d 00000 n\r\n" % off for off in offsets)
        out += b"trailer\r\n<</Size %d/Root %d 0 R/Info %d 0 R/ID[<%s><%s>] >>\r\n" % (
            len(self.bodies) + 1, root, info, digest, digest)
        out += b"startxref\r\n%d\r\n%%%%EOF\r\n" % xref
        return bytes(out)


def _utf16(text: str) -> bytes:
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def pdf_bytes(title: str, paragraphs: list[str], *, justified: bool = True, header: str | None = None) -> bytes:
    """A PDF of the report as Word's "Save as PDF" exports a 公文: A4, 28 chars a line, two fonts, paged.

    `justified` draws every full line with TJ kerning that stretches it to the text width (the last
    line of a paragraph stays ragged); otherwise each run is one Tj. Expected text:
    `[title, *paragraphs, *signature_lines(title)]`, plus a "— n —" footer on each page (and `header`, a
    running header in 10.5pt at the top of each page, when given).
    """
    pages = _layout(title, paragraphs, justified=justified)
    footers = [_footer(k) for k in range(1, len(pages) + 1)]
    running = None
    if header:
        running = _Line(header, _LEFT + (_LINE_W - _width(header, 10.5)) / 2, _PAGE_H - 15 * _MM - 10.5, 10.5)
    used = sorted({ch for page in pages for line in page for ch in line.text if not _is_ascii(ch)}
                  | {ch for f in footers for ch in f.text if not _is_ascii(ch)}
                  | {ch for ch in (header or "") if not _is_ascii(ch)})
    cids = {ch: k for k, ch in enumerate(used, 3)}  # 0-2: .notdef, .null, CR, as in a Word subset

    objs = _PdfObjects()
    catalog, page_tree = objs.reserve(), objs.reserve()
    f1, f2 = objs.reserve(), objs.reserve()
    resources = (
        b"<</Font<</F1 %d 0 R/F2 %d 0 R>>/ExtGState<</GS7 %d 0 R>>/ProcSet[/PDF/Text/ImageB/ImageC/ImageI] >>"
    )
    gstate = objs.reserve()
    kids = []
    for lines, footer in zip(pages, footers, strict=True):
        page = objs.reserve()
        contents = objs.stream(_page_content(lines, footer, cids, justified, running))
        objs.set(page, b"<</Type/Page/Parent %d 0 R/Resources" % page_tree + resources % (f1, f2, gstate)
                 + b"/MediaBox[ 0 0 %s %s] /Contents %d 0 R/Group<</Type/Group/S/Transparency/CS/DeviceRGB>>"
                 % (_n(_PAGE_W).encode(), _n(_PAGE_H).encode(), contents) + b"/Tabs/S>>")
        kids.append(page)
    objs.set(gstate, b"<</Type/ExtGState/BM/Normal/ca 1>>")

    cjk_desc = objs.add(
        b"<</Type/FontDescriptor/FontName" + _CJK_FONT + b"/Flags 32/ItalicAngle 0/Ascent 859/Descent -141"
        b"/CapHeight 859/AvgWidth 1000/MaxWidth 1000/FontWeight 400/XHeight 250/Leading 141/StemV 50"
        b"/FontBBox[ 0 -141 1000 859] >>"
    )
    widths = b" ".join(b"1000" for _ in used)
    cid_font = objs.add(
        b"<</BaseFont" + _CJK_FONT + b"/Subtype/CIDFontType2/Type/Font/CIDToGIDMap/Identity/DW 1000"
        b"/CIDSystemInfo<</Ordering(Identity)/Registry(Adobe)/Supplement 0>>/FontDescriptor %d 0 R"
        b"/W[ 3[ %s] ] >>" % (cjk_desc, widths)
    )
    to_unicode = objs.stream(_to_unicode(cids))
    objs.set(f1, b"<</Type/Font/Subtype/Type0/BaseFont" + _CJK_FONT + b"/Encoding/Identity-H"
             b"/DescendantFonts[%d 0 R]/ToUnicode %d 0 R>>" % (cid_font, to_unicode))
    tnr_desc = objs.add(
        b"<</Type/FontDescriptor/FontName" + _ASCII_FONT + b"/Flags 32/ItalicAngle 0/Ascent 891/Descent -216"
        b"/CapHeight 693/AvgWidth 401/MaxWidth 2614/FontWeight 400/XHeight 250/Leading 42/StemV 40"
        b"/FontBBox[ -568 -216 2046 693] >>"
    )
    tnr_widths = objs.add(b"[ " + b" ".join(b"500" for _ in range(32, 127)) + b"]")
    objs.set(f2, b"<</Type/Font/Subtype/TrueType/Name/F2/BaseFont" + _ASCII_FONT + b"/Encoding/WinAnsiEncoding"
             b"/FontDescriptor %d 0 R/FirstChar 32/LastChar 126/Widths %d 0 R>>" % (tnr_desc, tnr_widths))

    objs.set(page_tree, b"<</Type/Pages/Count %d/Kids[ %s] >>"
             % (len(kids), b" ".join(b"%d 0 R" % k for k in kids)))
    objs.set(catalog, b"<</Type/Catalog/Pages %d 0 R/Lang(zh-CN) >>" % page_tree)
    info = objs.add(
        b"<</Title" + _utf16(title) + b"/Author(Administrator) /Creator" + _PRODUCER + b" /CreationDate("
        + _PDF_DATE.encode() + b") /ModDate(" + _PDF_DATE.encode() + b") /Producer" + _PRODUCER + b" >>"
    )
    return objs.serialize(catalog, info)
