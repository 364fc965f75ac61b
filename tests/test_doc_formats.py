"""Report files in the formats portals publish besides .docx and text PDFs (issue 26): Word 97 .doc and WPS
.wps, .xls and .xlsx tables, scanned PDFs and images (OCR), and the downloads that are not files at all
(stubs, error pages, cut-short files). The files are in tests/fixtures/documents/, made by LibreOffice and
PIL (build.py there), each with its expected text beside it."""

from __future__ import annotations

import difflib
import io
import json
import struct
import zipfile
from pathlib import Path

import pytest

from gongkai.ingest import doc, documents, ocr, xls
from gongkai.ingest.documents import check_file, document_text
from gongkai.ingest.pages import StagedPage, attachment_filename, body_from_document, examine_page

FIXTURES = Path(__file__).parent / "fixtures" / "documents"
DOC = FIXTURES / "柳溪镇2023年工作总结.doc"
WPS = FIXTURES / "云岭乡2024年工作计划.wps"
XLS = FIXTURES / "2023年度重点项目推进情况表.xls"
XLSX = FIXTURES / "2024年一季度财政收支情况.xlsx"
SCAN_PDF = FIXTURES / "桃源镇2023年安全生产工作总结.pdf"
SCAN_JPG = FIXTURES / "河长制工作情况.jpg"


def expected(path: Path) -> list[str]:
    return (path.parent / f"{path.name}.expected.txt").read_text(encoding="utf-8").splitlines()


def similarity(read: list[str], want: list[str]) -> float:
    """Character-level similarity of two texts, whitespace aside (difflib's ratio: 2·matches / total)."""
    a, b = "".join("".join(want).split()), "".join("".join(read).split())
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


# --- Word 97 .doc and WPS .wps ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", [DOC, WPS], ids=["doc", "wps"])
def test_word97_and_wps_files_read_exactly(path: Path) -> None:
    """Paragraphs one a line, a table's rows as tab-separated cells, a HYPERLINK and a DATE field's shown
    text without their codes, no footnote mark, a manual line break a new line, a tab a space."""
    read = document_text(path.read_bytes())
    assert (read.kind, read.ocr, read.note) == ("doc", False, "")
    assert read.lines == expected(path)
    assert not any(code in line for line in read.lines for code in ("HYPERLINK", "DATE", "\x13", "\x02"))


def test_an_upper_case_extension_and_a_gbk_file_name_change_nothing() -> None:
    """Portals serve LXZ2023GZZJ.DOC with its real name in a GBK Content-Disposition: the name is decoded,
    the bytes say .doc whatever the case of the extension."""
    headers = json.loads((FIXTURES / "LXZ2023GZZJ.DOC.headers.json").read_text(encoding="ascii"))
    name = attachment_filename(headers)
    assert name == "柳溪镇2023年工作总结.DOC"
    data = (FIXTURES / "LXZ2023GZZJ.DOC").read_bytes()
    check = check_file(data, name)
    assert (check.kind, check.declared, check.is_file, check.matches_name) == ("doc", ".doc", True, True)
    assert document_text(data).lines == expected(DOC)
    assert body_from_document(data, "柳溪镇2023年工作总结").splitlines() == expected(DOC)[1:]


def _streams(path: Path) -> tuple[bytes, bytes]:
    import olefile

    with olefile.OleFileIO(str(path)) as ole:
        word = ole.openstream("WordDocument").read()
        table = ole.openstream("1Table" if struct.unpack_from("<H", word, 0x0A)[0] & 0x0200 else "0Table").read()
    return word, table


def _set_pair(word: bytes, index: int, fc: int, lcb: int) -> bytes:
    """The WordDocument stream with its FIB's fc/lcb pair `index` set."""
    pos = 32
    pos += 2 + 2 * struct.unpack_from("<H", word, pos)[0]
    pos += 2 + 4 * struct.unpack_from("<H", word, pos)[0]
    out = bytearray(word)
    struct.pack_into("<II", out, pos + 2 + 8 * index, fc, lcb)
    return bytes(out)


def test_compressed_cp1252_pieces_read_like_unicode_ones() -> None:
    """Word stores runs it can as "compressed" pieces (a byte a character, cp1252) beside UTF-16 ones: the
    same text split into both kinds of pieces, ASCII runs (2023, 6.5%, lx@example.gov.cn) compressed, reads
    the same. The paragraph and cell marks stay where they were (their properties are found by offset)."""
    word, table = _streams(DOC)
    fc_clx, lcb_clx = doc._fib(word).pairs[doc._FC_CLX]
    (piece,) = doc._pieces(table, fc_clx, lcb_clx)
    text = word[piece.fc:piece.fc + 2 * (piece.cp_end - piece.cp_start)].decode("utf-16-le")
    import re

    new_word = bytearray(word)
    cps, pcds = [0], []
    position = 0
    for match in re.finditer(r"[ -~]+|[^ -~]+", text):
        run = match.group(0)
        if run.isascii() and "\r" not in run and "\x07" not in run:
            offset = len(new_word)
            new_word += run.encode("cp1252")
            fc = (offset * 2) | 0x40000000
        else:
            fc = piece.fc + 2 * position
        position += len(run)
        cps.append(position)
        pcds.append(struct.pack("<HIH", 0, fc, 0))
    assert sum(p[2:6] != b"" and struct.unpack("<I", p[2:6])[0] & 0x40000000 != 0 for p in pcds) > 20
    plc = struct.pack(f"<{len(cps)}I", *cps) + b"".join(pcds)
    clx = b"\x02" + struct.pack("<I", len(plc)) + plc
    new_table = table + clx
    new_word = _set_pair(bytes(new_word), doc._FC_CLX, len(table), len(clx))
    assert doc.word_lines(new_word, new_table) == expected(DOC)


def test_without_paragraph_properties_a_second_cell_mark_ends_the_row() -> None:
    word, table = _streams(DOC)
    no_papx = _set_pair(word, doc._FC_PLCF_BTE_PAPX, 0, 0)
    assert doc.word_lines(no_papx, table) == expected(DOC)


def test_encrypted_and_word95_files_are_not_read_and_say_why() -> None:
    word, table = _streams(DOC)
    encrypted = bytearray(word)
    struct.pack_into("<H", encrypted, 0x0A, struct.unpack_from("<H", word, 0x0A)[0] | 0x0100)
    with pytest.raises(doc.UnreadableDoc, match="encrypted"):
        doc.word_lines(bytes(encrypted), table)
    word95 = bytearray(word)
    struct.pack_into("<H", word95, 2, 104)
    with pytest.raises(doc.UnreadableDoc, match="Word 6/95"):
        doc.word_lines(bytes(word95), table)


# --- spreadsheets ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, kind", [(XLS, "xls"), (XLSX, "xlsx")], ids=["xls", "xlsx"])
def test_spreadsheets_read_as_tables_exactly(path: Path, kind: str) -> None:
    """Rows as lines, cells tab-separated and shown as Excel shows them (12,600.00, 86.5%, -1.3%,
    2023年11月30日); a title merged over the columns is one cell, a category merged down the rows is in its
    first row only (its other rows start with an empty cell); sheets in order, named when more than one."""
    read = document_text(path.read_bytes())
    assert (read.kind, read.note) == (kind, "")
    assert read.lines == expected(path)


@pytest.mark.parametrize("value, fmt, shown", [
    (3260.5, "General", "3260.5"), (12600.0, "General", "12600"), (0.1 + 0.2, "General", "0.3"),
    (0.065, "0.0%", "6.5%"), (0.0865, "0%", "9%"), (-0.013, "0.0%", "-1.3%"), (1.0, "0.00%", "100.00%"),
    (1835, "#,##0", "1,835"), (18555.7, "#,##0.00", "18,555.70"), (2.675, "0.00", "2.68"),
    (-1234.5, "#,##0.00_);[Red](#,##0.00)", "(1,234.50)"), (1234.5, "#,##0.00_);[Red](#,##0.00)", "1,234.50"),
    (56.1, '0.0"万元"', "56.1万元"), (0, '0.00;-0.00;"-"', "-"), (-0.001, "0.00", "0.00"),
])
def test_number_formats_show_as_excel_shows_them(value: float, fmt: str, shown: str) -> None:
    assert xls.display_number(value, fmt) == shown


def test_date_formats() -> None:
    import datetime as dt

    moment = dt.datetime(2023, 9, 5, 14, 7)
    assert xls.display_date(moment, 'yyyy"年"m"月"d"日"') == "2023年9月5日"
    assert xls.display_date(moment, "yyyy\\年m\\月d\\日") == "2023年9月5日"
    assert xls.display_date(moment, "yyyy-mm-dd hh:mm") == "2023-09-05 14:07"
    assert xls.display_date(moment, "[$-F800]yyyy/m/d") == "2023/9/5"
    assert xls.display_date(moment, "General") == "2023-09-05 14:07:00"


def test_a_row_of_many_empty_cells_is_trimmed_in_linear_time() -> None:
    """A fuzzed .xls claimed 300,000 columns: trimming a row's trailing empty cells one copy at a time
    took 25 s."""
    import time

    started = time.perf_counter()
    assert list(xls._rows([["合计", "", "18,555.70"] + [""] * 300_000, [""] * 300_000])) == ["合计\t\t18,555.70"]
    assert time.perf_counter() - started < 1.0


def test_a_zip_bomb_xlsx_is_not_inflated(monkeypatch) -> None:
    monkeypatch.setattr(xls, "MAX_PART_BYTES", 1_000_000)
    bomb = io.BytesIO()
    with zipfile.ZipFile(XLSX) as source, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<sheetData>", b"<sheetData>" + b" " * 50_000_000)
            archive.writestr(info.filename, data)
    assert len(bomb.getvalue()) < 200_000
    read = document_text(bomb.getvalue())
    assert read.lines == [] and "inflates to over" in read.note


def test_a_workbook_over_the_cell_bound_is_not_read_at_all(monkeypatch) -> None:
    monkeypatch.setattr(xls, "MAX_CELLS", 10)
    for path in (XLS, XLSX):
        read = document_text(path.read_bytes())
        assert read.lines == [] and "cells: not read" in read.note


# --- scans: OCR ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scans() -> dict[str, documents.DocumentText]:
    """Each scan read once, as ingest reads it (the OCR child process)."""
    return {path.name: document_text(path.read_bytes()) for path in (SCAN_PDF, SCAN_JPG)}


@pytest.mark.parametrize("path, kind", [(SCAN_PDF, "pdf"), (SCAN_JPG, "image")], ids=["scanned-pdf", "jpg"])
def test_scans_are_read_by_ocr_to_at_least_95_percent(scans, path: Path, kind: str) -> None:
    """A 2-page image-only PDF (a paragraph running across the page break) and a .jpg, 150 dpi with dust,
    tilt and blur: the text marked as OCR, with its confidence; 95 % of the characters at least, and the
    paragraphs as printed (lines joined where they wrapped, even before 12.5%， which did not fit)."""
    read = scans[path.name]
    assert (read.kind, read.ocr) == (kind, True), read.note
    assert read.confidence is not None and read.confidence > 0.9
    assert "read by OCR" in read.note
    score = similarity(read.lines, expected(path))
    assert score >= 0.95, (score, read.lines)
    assert len(read.lines) == len(expected(path)), read.lines


def test_scans_can_be_left_unread_for_a_first_cheap_pass() -> None:
    """document_text(ocr=False): what a caller uses to look for a file with a text layer before paying
    for OCR; a scan says it is one."""
    for path in (SCAN_PDF, SCAN_JPG):
        read = document_text(path.read_bytes(), ocr=False)
        assert read.lines == [] and read.note.startswith(documents.SCAN_NOT_READ) and not read.ocr
    assert document_text(DOC.read_bytes(), ocr=False).lines == expected(DOC)


def test_a_blank_scan_or_a_broken_image_gives_no_text_and_a_note() -> None:
    from PIL import Image

    blank = io.BytesIO()
    Image.new("L", (600, 800), 255).save(blank, format="PDF", resolution=72.0)
    read = document_text(blank.getvalue())
    assert read.lines == [] and "no text OCR could read" in read.note
    broken = document_text(SCAN_JPG.read_bytes()[:20] + b"\0" * 5000 + b"\xff\xd9")
    assert broken.lines == [] and broken.note


def test_a_scan_over_the_page_bound_is_not_read(monkeypatch) -> None:
    monkeypatch.setattr(ocr, "OCR_MAX_PAGES", 1)
    with pytest.raises(ocr.UnreadableScan, match="over the 1-page bound"):
        ocr.ocr_pdf(SCAN_PDF.read_bytes(), engine=object())


def test_ocr_lines_become_paragraphs_by_layout() -> None:
    """Without the engine: boxes as OCR gives them (pixel noise in the edges), a centred title, an indented
    paragraph wrapped over three lines, one ending short before an unbreakable number, a page number."""
    box = ocr.Box
    page = [box("桃源镇工作总结", 300, 100, 700, 150, 0.99),
            box("全年组织检查418次，发现隐患735处，已整改729处，整改率", 216, 200, 1076, 240, 0.99),
            box("99.2%；对3家企业依法实施停产整顿。", 150, 260, 700, 300, 0.98),
            box("一、落实安全责任", 214, 320, 480, 360, 0.99),
            box("镇党委、政府与26个村（社区）、58家企业签订安全生产", 213, 380, 1079, 420, 0.99),
            box("责任书。", 149, 440, 280, 480, 0.99),
            box("— 1 —", 580, 1500, 660, 1540, 0.9)]
    assert ocr.paragraphs([page]) == [
        "桃源镇工作总结", "全年组织检查418次，发现隐患735处，已整改729处，整改率99.2%；对3家企业依法实施停产整顿。",
        "一、落实安全责任", "镇党委、政府与26个村（社区）、58家企业签订安全生产责任书。"]
    assert ocr._clean("巡河1，248次，达标率99．5%") == "巡河1,248次，达标率99.5%"


# --- not a file -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, problem", [
    ("stub.doc", "stub"), ("error_page.doc", "html"), ("truncated.doc", "truncated")])
def test_stubs_error_pages_and_cut_downloads_are_not_files(name: str, problem: str) -> None:
    data = (FIXTURES / name).read_bytes()
    check = check_file(data, name)
    assert (check.problem, check.failed_fetch, check.is_file) == (problem, True, False), check
    assert check.detail
    read = document_text(data)
    assert read.lines == [] and read.note


def test_an_error_page_names_its_title_and_is_not_a_report() -> None:
    check = check_file((FIXTURES / "error_page.doc").read_bytes(), "error_page.doc")
    assert check.kind == "html" and "系统提示" in check.detail and not check.matches_name


@pytest.mark.parametrize("path", [DOC, XLSX, SCAN_PDF, SCAN_JPG], ids=["doc", "xlsx", "pdf", "jpg"])
def test_any_file_cut_short_is_truncated_and_whole_ones_are_files(path: Path) -> None:
    data = path.read_bytes()
    assert check_file(data, path.name).is_file
    cut = check_file(data[: len(data) // 2], path.name)
    assert (cut.problem, cut.failed_fetch) == ("truncated", True), cut


@pytest.mark.parametrize("data, kind, problem", [
    (b"", "empty", "empty"), (b"ok", "stub", "stub"), (b'{"code":500,"msg":"\xe6\x96\x87\xe4\xbb\xb6\xe4\xb8\x8d'
                                                        b'\xe5\xad\x98\xe5\x9c\xa8"}' + b" " * 80, "text", "text"),
    (b"\x00\x01\x02\x03" * 100, "", "unknown"), (b"Rar!\x1a\x07\x00" + b"\x00" * 100, "rar", "")])
def test_what_the_bytes_are(data: bytes, kind: str, problem: str) -> None:
    check = check_file(data, "x.doc")
    assert (check.kind, check.problem) == (kind, problem), check


def test_kinds_by_bytes_whatever_the_name() -> None:
    assert check_file(XLSX.read_bytes(), "a.xls").kind == "xlsx"
    assert not check_file(XLSX.read_bytes(), "a.doc").matches_name
    assert check_file(XLS.read_bytes(), "a.et").kind == "xls"
    assert check_file(SCAN_PDF.read_bytes()).kind == "pdf"


def test_a_huge_ole_stream_gives_no_text_and_a_note() -> None:
    """A directory entry claiming a 2 GB WordDocument stream: not read, nothing allocated for it."""
    data = bytearray(DOC.read_bytes())
    name = "WordDocument".encode("utf-16-le")
    entry = data.index(name)  # the directory entry: its stream size is at byte 120
    assert entry % 128 == 0
    struct.pack_into("<I", data, entry + 120, 0x7FFF_FFF0)
    read = document_text(bytes(data))
    assert read.lines == [] and read.note
    assert not check_file(bytes(data)).is_file


def test_a_stream_over_the_bound_is_not_read(monkeypatch) -> None:
    monkeypatch.setattr(doc, "MAX_STREAM_BYTES", 4096)
    read = document_text(DOC.read_bytes())
    assert read.lines == [] and "bound" in read.note


def test_a_file_served_as_a_page_is_examined_as_a_file() -> None:
    """pages.examine_page still takes an OLE body for a file (what ingest reads with its article)."""
    page = StagedPage(1, "http://x.gov.cn/a/LXZ.DOC", "http://x.gov.cn/a/LXZ.DOC", "x", 200,
                      {"Content-Type": ["application/msword"]}, DOC.read_bytes(), None, listing_title="柳溪镇2023年工作总结")
    outcome = examine_page(page)
    assert outcome.kind == "article" and outcome.fields.body.splitlines() == expected(DOC)[1:]
