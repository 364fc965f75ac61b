"""The replica's report attachments (.docx, .pdf) are valid files whose text is exactly the report.

Read here with the standard library and lxml only: the .docx as a zip of XML parts, the .pdf through its
xref table, inflated content streams and the ToUnicode CMap, so a regression in the builders shows up
without any PDF library.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib

import pytest
from lxml import etree

from gongkai_replica.documents import docx_bytes, pdf_bytes, signature_lines

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"

TITLE = "桃溪镇2023年工作总结和2024年工作思路"
PARAGRAPHS = [
    "2023年，桃溪镇在区委区政府的坚强领导下，坚持稳中求进工作总基调，全镇实现地区生产总值12.5亿元，"
    "同比增长8.3%，完成年度目标的102%。",
    "全镇上下凝心聚力、真抓实干，各项工作取得新成效。",
    "一、2023年工作回顾",
    "（一）经济运行稳中有进。全年完成固定资产投资3.2亿元，其中工业投资1.8亿元，增长15.6%；"
    "规上工业增加值同比增长9.1%，GDP增速居全区第2位。",
    "（二）生态环境持续改善。PM2.5平均浓度降至28微克/立方米，空气质量优良率达到95.6%，"
    "同比提高3.2个百分点；“五水共治”工作通过省级验收，出境断面水质稳定在Ⅱ类以上。",
    "（三）民生保障不断加强。新增城镇就业1250人，城乡居民人均可支配收入分别达到65320元和38760元，"
    "分别增长5.8%和7.2%。投入资金2300万元实施乡村振兴·共同富裕项目18个，完成农房改造326户。",
    "二、存在的问题",
    "一是项目储备不足，大项目、好项目偏少，对经济增长的支撑作用不强；二是产业结构不优，传统产业占比较高，"
    "新兴产业尚处于培育阶段；三是基层治理能力有待提升，网格化管理“最后一公里”仍未完全打通。",
    "三、2024年工作思路",
    "2024年，我镇将全面贯彻落实党的二十大精神，按照“稳进提质、除险保安、塑造变革”的总要求，"
    "力争全年实现地区生产总值13.5亿元，增长8%以上；完成固定资产投资3.5亿元，其中工业投资2亿元。",
    "推进 PM2.5 与 O3 协同治理，深化“千万工程”，打造衢州龙之梦·六春湖景区配套，年内完成"
    "罗樟源水库征地移民实物调查，签约率达到99.27%以上。",
]
TABLE = [["指标", "2023年", "同比增长"], ["GDP", "12.5亿元", "8.3%"], ["PM2.5", "28微克/立方米"]]
CLOSERS = "，。、；：！？）》”’%"

LEFT = 28 * 72 / 25.4
LINE_W = 28 * 16.0


def expected_lines(title: str, paragraphs: list[str], table: list[list[str]] | None = None) -> list[str]:
    cells = [c for row in table or [] for c in row]
    return [s for s in (title, *paragraphs, *cells, *signature_lines(title)) if s.strip()]


# ---------------------------------------------------------------------------------------------- docx


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        return {name: zf.read(name) for name in zf.namelist()}


def _text(el: etree._Element) -> str:
    """w:t texts under el, skipping anything inside a tracked deletion."""
    return "".join(t.text or "" for t in el.iter(f"{W}t") if not any(a.tag == f"{W}del" for a in t.iterancestors()))


def _docx_lines(data: bytes) -> list[str]:
    root = etree.fromstring(_parts(data)["word/document.xml"])
    return [text for p in root.iter(f"{W}p") if (text := _text(p)).strip()]


def test_signature_lines() -> None:
    assert signature_lines("桃溪镇2023年工作总结") == ["桃溪镇人民政府", "2024年7月26日"]
    assert signature_lines("柳城畲族镇2024年上半年工作总结")[0] == "柳城畲族镇人民政府"
    assert signature_lines("昌硕街道2023年工作总结")[0] == "昌硕街道办事处"
    assert signature_lines("2023年工作总结")[0] == "人民政府"


@pytest.mark.parametrize("ugly", [True, False])
def test_docx_is_a_well_formed_package(ugly: bool) -> None:
    parts = _parts(docx_bytes(TITLE, PARAGRAPHS, ugly=ugly, table=TABLE))
    required = {
        "[Content_Types].xml", "_rels/.rels", "word/document.xml", "word/_rels/document.xml.rels",
        "word/styles.xml", "word/settings.xml", "docProps/core.xml", "docProps/app.xml",
        "word/header1.xml", "word/footer1.xml",
    }
    assert required <= parts.keys()
    trees = {name: etree.fromstring(body) for name, body in parts.items()}  # every part is well-formed XML
    overrides = {o.get("PartName") for o in trees["[Content_Types].xml"]}
    assert {"/" + n for n in parts if not n.endswith(".rels") and n != "[Content_Types].xml"} <= overrides
    rels = {r.get("Id"): r.get("Target") for r in trees["word/_rels/document.xml.rels"]}
    assert all("word/" + target in parts for target in rels.values())
    sect = trees["word/document.xml"].find(f"{W}body/{W}sectPr")
    assert rels[sect.find(f"{W}headerReference").get(R_ID)] == "header1.xml"
    assert rels[sect.find(f"{W}footerReference").get(R_ID)] == "footer1.xml"
    footer = trees["word/footer1.xml"]
    instr = [f.get(f"{W}instr") for f in footer.iter(f"{W}fldSimple")] + [i.text for i in footer.iter(f"{W}instrText")]
    assert any("PAGE" in (i or "") for i in instr)
    assert _text(footer).startswith("— ") and _text(footer).endswith(" —")


@pytest.mark.parametrize("ugly", [True, False])
@pytest.mark.parametrize("table", [None, TABLE])
def test_docx_text_is_the_report(ugly: bool, table: list[list[str]] | None) -> None:
    assert _docx_lines(docx_bytes(TITLE, PARAGRAPHS, ugly=ugly, table=table)) == expected_lines(
        TITLE, PARAGRAPHS, table
    )


def test_ugly_docx_carries_word_artefacts() -> None:
    data = docx_bytes(TITLE, PARAGRAPHS)
    xml = _parts(data)["word/document.xml"].decode()
    root = etree.fromstring(xml.encode())
    for needle in ('w:proofErr w:type="spellStart"', 'w:proofErr w:type="spellEnd"', "<w:bookmarkStart ",
                   "<w:bookmarkEnd ", "<w:lastRenderedPageBreak/>", 'w:fldCharType="begin"',
                   'w:fldCharType="separate"', 'w:fldCharType="end"', "HYPERLINK", "<w:ins ",
                   "<w:delText>删除的字</w:delText>", 'w:firstLineChars="200"', "方正小标宋简体", "仿宋_GB2312"):
        assert needle in xml, needle
    assert "删除的字" not in "".join(_docx_lines(data))
    assert any(_text(ins) for ins in root.iter(f"{W}ins"))  # inserted text is part of the report
    assert any(t.text.startswith(" ") for t in root.iter(f"{W}t") if t.text)  # xml:space="preserve"
    body = [p for p in root.iter(f"{W}p") if p.find(f"{W}pPr/{W}ind") is not None and _text(p).strip()]
    runs = [[t.text or "" for t in p.iter(f"{W}t")] for p in body]
    assert all(len(r) >= 2 for r in runs if len("".join(r)) >= 12)
    pairs = [(a, b) for r in runs for a, b in zip(r, r[1:], strict=False)]
    assert any(a[-1:].isdigit() and b.startswith("%") for a, b in pairs)  # 8.3|%
    assert any(a[-1:].isdigit() and b[:1].isdigit() for a, b in pairs)  # 2|023
    assert len({etree.tostring(r) for r in root.iter(f"{W}rPr")}) >= 4
    jc = [p.find(f"{W}pPr/{W}jc").get(f"{W}val") for p in root.iter(f"{W}p") if p.find(f"{W}pPr/{W}jc") is not None]
    assert jc[0] == "center" and jc[-2:] == ["right", "right"]


def test_clean_docx_has_one_run_per_paragraph() -> None:
    root = etree.fromstring(_parts(docx_bytes(TITLE, PARAGRAPHS, ugly=False))["word/document.xml"])
    assert all(len(p.findall(f"{W}r")) <= 1 for p in root.iter(f"{W}p"))
    assert not list(root.iter(f"{W}del")) and not list(root.iter(f"{W}ins"))


# ----------------------------------------------------------------------------------------------- pdf

_TOKEN = re.compile(
    rb"\s*(?:(<<|>>|\[|\])|<([0-9A-Fa-f\s]*)>|\(((?:\\.|[^\\()])*)\)|/([^\s/\[\]<>()]+)"
    rb"|([-+]?(?:\d+\.?\d*|\.\d+))(?![\w.])|([A-Za-z'\"]+\*?))",
    re.S,
)
_OPERATORS = {"BT", "ET", "Tf", "Tm", "Td", "TJ", "Tj", "g", "G", "BDC", "BMC", "EMC", "q", "Q", "cm"}


def _tokens(data: bytes) -> list[object]:
    """Content-stream tokens: arrays as lists, dicts as dicts, hex strings as bytes, names as '/N', ops as str."""
    out: list[object] = []
    stack: list[list[object]] = [out]
    pos = 0
    while pos < len(data):
        m = _TOKEN.match(data, pos)
        if not m:
            assert not data[pos:].strip(), f"unparsable content at {pos}: {data[pos:pos + 40]!r}"
            break
        pos = m.end()
        punct, hexstr, lit, name, num, op = m.groups()
        if punct in (b"[", b"<<"):
            stack.append([])
        elif punct in (b"]", b">>"):
            items = stack.pop()
            stack[-1].append(items if punct == b"]" else dict(zip(items[::2], items[1::2], strict=True)))
        elif hexstr is not None:
            stack[-1].append(bytes.fromhex(hexstr.decode()))
        elif lit is not None:
            stack[-1].append(re.sub(rb"\\(.)", rb"\1", lit).decode("latin-1"))
        elif name is not None:
            stack[-1].append("/" + name.decode())
        elif num is not None:
            stack[-1].append(float(num))
        else:
            stack[-1].append(("op", op.decode()))
    assert len(stack) == 1
    return out


class Pdf:
    def __init__(self, data: bytes) -> None:
        self.data = data
        start = int(re.search(rb"startxref\r?\n(\d+)\r?\n%%EOF\r?\n?$", data).group(1))
        assert data[start:].startswith(b"xref")
        m = re.compile(rb"xref\r\n0 (\d+)\r\n").match(data, start)
        count = int(m.group(1))
        table = data[m.end() : m.end() + 20 * count]
        entries = [table[k : k + 20] for k in range(0, len(table), 20)]
        assert entries[0] == b"0000000000 65535 f\r\n"
        self.offsets = {}
        for num, entry in enumerate(entries[1:], 1):
            assert re.fullmatch(rb"\d{10} 00000 n\r\n", entry), entry
            self.offsets[num] = int(entry[:10])
        self.trailer = data[m.end() + 20 * count :]
        assert self.trailer.startswith(b"trailer")
        assert int(re.search(rb"/Size (\d+)", self.trailer).group(1)) == count

    def obj(self, num: int) -> bytes:
        off = self.offsets[num]
        head = f"{num} 0 obj".encode()
        assert self.data[off:].startswith(head), (num, self.data[off : off + 20])
        return self.data[off + len(head) : self.data.index(b"endobj", off)].strip()

    def ref(self, body: bytes, key: bytes) -> int:
        return int(re.search(rb"/" + key + rb"\s*(\d+) 0 R", body).group(1))

    def stream(self, num: int) -> bytes:
        body = self.obj(num)
        length = int(re.search(rb"/Length (\d+)", body).group(1))
        start = body.index(b"stream\r\n") + len(b"stream\r\n")
        assert body[start + length :].strip() == b"endstream"
        raw = body[start : start + length]
        return zlib.decompress(raw) if b"/FlateDecode" in body[:start] else raw

    def pages(self) -> list[int]:
        root = self.obj(self.ref(self.trailer, b"Root"))
        tree = self.obj(self.ref(root, b"Pages"))
        kids = [int(k) for k in re.findall(rb"(\d+) 0 R", re.search(rb"/Kids\[([^\]]*)\]", tree).group(1))]
        assert int(re.search(rb"/Count (\d+)", tree).group(1)) == len(kids)
        return kids


def _cmap(data: bytes) -> dict[int, str]:
    text = data.decode("ascii")
    out: dict[int, str] = {}
    blocks = re.findall(r"(\d+) begin(bfchar|bfrange)\n(.*?)\nend\2", text, re.S)
    assert blocks
    for count, kind, body in blocks:
        rows = [re.findall(r"<([0-9A-F]+)>", row) for row in body.splitlines()]
        assert len(rows) == int(count) <= 100
        for row in rows:
            if kind == "bfchar":
                out[int(row[0], 16)] = bytes.fromhex(row[1]).decode("utf-16-be")
            else:
                lo, hi, dst = int(row[0], 16), int(row[1], 16), int(row[2], 16)
                assert lo >> 8 == hi >> 8
                out.update({c: chr(dst + c - lo) for c in range(lo, hi + 1)})
    return out


def _widths(w: list[object]) -> dict[int, float]:
    out: dict[int, float] = {}
    k = 0
    while k < len(w):
        if isinstance(w[k + 1], list):
            out.update({int(w[k]) + i: v for i, v in enumerate(w[k + 1])})
            k += 2
        else:
            out.update({c: w[k + 2] for c in range(int(w[k]), int(w[k + 1]) + 1)})
            k += 3
    return out


class Fonts:
    """F1 (Type0, Identity-H, via ToUnicode) and F2 (TrueType, WinAnsi) of a page's /Resources."""

    def __init__(self, pdf: Pdf, page: bytes) -> None:
        self.f1, self.f2 = pdf.obj(pdf.ref(page, b"F1")), pdf.obj(pdf.ref(page, b"F2"))
        assert b"/Subtype/Type0" in self.f1 and b"/Encoding/Identity-H" in self.f1
        self.to_unicode = _cmap(pdf.stream(pdf.ref(self.f1, b"ToUnicode")))
        cid_font = pdf.obj(int(re.search(rb"/DescendantFonts\[(\d+) 0 R\]", self.f1).group(1)))
        assert b"/Subtype/CIDFontType2" in cid_font and b"/Ordering(Identity)/Registry(Adobe)" in cid_font
        assert b"/Type/FontDescriptor" in pdf.obj(pdf.ref(cid_font, b"FontDescriptor"))
        self.cid_widths = _widths(_tokens(re.search(rb"/W(\[.*\])\s*>>", cid_font, re.S).group(1))[0])
        assert b"/Subtype/TrueType" in self.f2 and b"/BaseFont/TimesNewRomanPSMT" in self.f2
        assert b"/Encoding/WinAnsiEncoding" in self.f2
        assert b"/Type/FontDescriptor" in pdf.obj(pdf.ref(self.f2, b"FontDescriptor"))
        first = int(re.search(rb"/FirstChar (\d+)", self.f2).group(1))
        widths = _tokens(pdf.obj(pdf.ref(self.f2, b"Widths")))[0]
        assert int(re.search(rb"/LastChar (\d+)", self.f2).group(1)) == first + len(widths) - 1
        self.ascii_widths = {first + k: v for k, v in enumerate(widths)}

    def decode(self, font: str, s: bytes | str) -> tuple[str, list[float]]:
        """(text, advance widths in 1/1000 em) of one shown string."""
        if font == "/F1":
            codes = [int.from_bytes(s[k : k + 2], "big") for k in range(0, len(s), 2)]
            missing = [c for c in codes if c not in self.to_unicode]
            assert not missing, f"codes without ToUnicode entry: {missing}"
            return "".join(self.to_unicode[c] for c in codes), [self.cid_widths[c] for c in codes]
        return s, [self.ascii_widths[ord(ch)] for ch in s]


def _lines(data: bytes) -> tuple[list[dict], list[str], list[str]]:
    """Every BT..ET text line (page, x0, x1, y, text), the footers, and the operators used."""
    pdf = Pdf(data)
    lines: list[dict] = []
    footers: list[str] = []
    ops: list[str] = []
    for page_no, num in enumerate(pdf.pages(), 1):
        page = pdf.obj(num)
        assert b"/Resources" in page and b"/MediaBox[ 0 0 595.32 841.92]" in page
        fonts = Fonts(pdf, page)
        operands: list[object] = []
        tags: list[str] = []
        font, size, x, y, line = "", 0.0, 0.0, 0.0, None
        for tok in _tokens(pdf.stream(pdf.ref(page, b"Contents"))):
            if not (isinstance(tok, tuple) and tok[0] == "op"):
                operands.append(tok)
                continue
            op = tok[1]
            assert op in _OPERATORS, op
            ops.append(op)
            if op in ("BDC", "BMC"):
                tags.append(operands[0])
            elif op == "EMC":
                tags.pop()
            elif op == "BT":
                line = {"page": page_no, "x0": None, "x1": 0.0, "y": None, "text": "", "artifact": "/Artifact" in tags}
            elif op == "Tf":
                font, size = operands
            elif op == "Tm":
                assert operands[:4] == [1, 0, 0, 1]
                x, y = operands[4:]
                line["x0"] = x if line["x0"] is None else line["x0"]
                assert line["y"] in (None, y)
                line["y"] = y
            elif op in ("Tj", "TJ"):
                for item in operands[0] if op == "TJ" else operands:
                    if isinstance(item, float):
                        x -= item / 1000 * size
                        continue
                    text, widths = fonts.decode(font, item)
                    line["text"] += text
                    x += sum(widths) / 1000 * size
                line["x1"] = x
            elif op == "ET" and line["artifact"]:
                footers.append(line["text"])
            elif op == "ET":
                lines.append(line)
            operands = []
        assert not tags and not operands
    return lines, footers, ops


def _paragraph_lines(lines: list[dict]) -> list[list[dict]]:
    """The body lines grouped per paragraph, after the (centered) title lines."""
    k = 0
    title = ""
    while title != TITLE:
        title += lines[k]["text"]
        k += 1
    groups = []
    for para in PARAGRAPHS:
        group, text = [], ""
        while text != para:
            text += lines[k]["text"]
            group.append(lines[k])
            k += 1
        groups.append(group)
    return groups


@pytest.mark.parametrize("justified", [True, False])
def test_pdf_xref_and_text_round_trip(justified: bool) -> None:
    data = pdf_bytes(TITLE, PARAGRAPHS, justified=justified)
    assert data.startswith(b"%PDF-1.7")
    pdf = Pdf(data)
    for num in pdf.offsets:
        pdf.obj(num)  # each xref offset points at "N 0 obj"
    info = pdf.obj(pdf.ref(pdf.trailer, b"Info"))
    assert b"Microsoft\\256 Word 2016" in info and b"/CreationDate(D:20240726091500" in info
    assert b"FontFile" not in data
    lines, footers, ops = _lines(data)
    assert "".join(ln["text"] for ln in lines) == "".join(expected_lines(TITLE, PARAGRAPHS))
    assert len(pdf.pages()) >= 2
    assert footers == [f"— {k} —" for k in range(1, len(pdf.pages()) + 1)]
    assert ("TJ" in ops) == justified and ("Tj" in ops) != justified


def test_pdf_layout_indent_wrap_and_justification() -> None:
    lines, _, ops = _lines(pdf_bytes(TITLE, PARAGRAPHS))
    groups = _paragraph_lines(lines)
    right = LEFT + LINE_W
    for group in groups:
        assert group[0]["x0"] == pytest.approx(LEFT + 32, abs=0.01)  # 2-character first-line indent
        assert all(ln["x0"] == pytest.approx(LEFT, abs=0.01) for ln in group[1:])
        for ln in group[:-1]:  # justified: full lines reach the right margin (or overhang by a closer)
            assert ln["x1"] == pytest.approx(right, abs=0.05) or (ln["x1"] > right and ln["text"][-1] in CLOSERS)
        assert all(ln["text"][0] not in CLOSERS for ln in group[1:])  # 行首禁则
        assert group[-1]["x1"] <= right + 16.01
    assert any(len({ln["page"] for ln in group}) == 2 for group in groups)  # a paragraph crosses a page break
    sign = lines[-2:]
    assert [ln["text"] for ln in sign] == signature_lines(TITLE)
    assert all(ln["x1"] == pytest.approx(right, abs=0.01) for ln in sign)
    body = [ln for group in groups for ln in group]
    assert all(a["y"] - b["y"] == pytest.approx(28.95, abs=0.01)  # 22 lines a page
               for a, b in zip(body, body[1:], strict=False) if a["page"] == b["page"])


def test_pdf_tounicode_covers_every_code() -> None:
    data = pdf_bytes(TITLE, PARAGRAPHS + ["一丁七万丈三上下"])  # consecutive code points: a bfrange
    pdf = Pdf(data)
    page = pdf.obj(pdf.pages()[0])
    fonts = Fonts(pdf, page)
    cmap = pdf.stream(pdf.ref(fonts.f1, b"ToUnicode")).decode()
    assert "beginbfchar" in cmap and "beginbfrange" in cmap
    used = {ch for s in expected_lines(TITLE, PARAGRAPHS + ["一丁七万丈三上下"]) for ch in s if ord(ch) > 127}
    assert set(fonts.to_unicode.values()) == used | {"—"}
    assert set(fonts.cid_widths) == set(fonts.to_unicode) and set(fonts.cid_widths.values()) == {1000}
    assert set(fonts.ascii_widths.values()) == {500}


def test_documents_are_deterministic() -> None:
    assert docx_bytes(TITLE, PARAGRAPHS, table=TABLE) == docx_bytes(TITLE, PARAGRAPHS, table=TABLE)
    assert docx_bytes(TITLE, PARAGRAPHS, ugly=False) == docx_bytes(TITLE, PARAGRAPHS, ugly=False)
    assert pdf_bytes(TITLE, PARAGRAPHS) == pdf_bytes(TITLE, PARAGRAPHS)
    assert pdf_bytes(TITLE, PARAGRAPHS, justified=False) == pdf_bytes(TITLE, PARAGRAPHS, justified=False)
    assert pdf_bytes(TITLE, PARAGRAPHS) != pdf_bytes(TITLE, PARAGRAPHS[:-1])
