"""The text of report files (gongkai.ingest.documents): .docx and .pdf as Word and WPS save them, ugly parts
included, read character for character; everything else (and anything hostile) gives no text, never a
guess and never a crash."""

from __future__ import annotations

import io
import zipfile

import pytest

from gongkai.ingest import docx, pdf
from gongkai.ingest.documents import document_text
from gongkai.ingest.pages import (
    StagedFile,
    attachment_only,
    body_from_document,
    cover_note,
    is_pointer,
    read_files,
)
from gongkai.models import ArticleFields, Attachment
from gongkai_replica.documents import docx_bytes, pdf_bytes, signature_lines

TITLE = "桃溪镇2023年工作总结"
PARAGRAPHS = [
    "2023年，桃溪镇在县委、县政府的坚强领导下，坚持以习近平新时代中国特色社会主义思想为指导，全面贯彻落实党的二十大精神，"
    "全镇实现地区生产总值12.5亿元，同比增长8.3%，完成年度目标的102%。",
    "一、主要工作成效",
    "（一）经济运行稳中有进。全年完成固定资产投资3.26亿元，其中工业投资1.1亿元；规上工业产值增长15.7%，"
    "新增“小升规”企业2家；PM2.5平均浓度为21微克/立方米，空气质量优良率达98.6%。",
    "（二）民生保障持续加强。发放各类救助资金286.4万元，惠及困难群众1,024人次；新建村级居家养老服务照料中心3个，"
    "改造提升农村公路12.8公里，“四好农村路”覆盖率100%。",
    "（三）基层治理不断深化。深化“县乡一体、条抓块统”改革，调处矛盾纠纷146起，调处成功率97.3%；"
    "开展安全生产检查312次，整改隐患589处。",
    "二、存在问题",
    "一是产业结构仍需优化，GDP增速与先进乡镇相比仍有差距；二是项目储备不足；三是干部队伍能力与新形势要求还有差距。",
    "三、2024年工作思路",
    "2024年，我镇将紧紧围绕县委“一县一城”战略部署，聚焦项目攻坚、产业提质、民生改善三大任务，力争全年地区生产总值增长7%以上，"
    "实现村级集体经济总收入1,800万元，经营性收入50万元以上的村占比达到60%。抓好黄宅·溪口片区综合开发等重点工程。",
]
EXPECTED = [*PARAGRAPHS, *signature_lines(TITLE)]


def test_a_word_edited_docx_reads_exactly() -> None:
    """Runs split mid-number and between 8.3 and %, proofing marks, bookmarks, a tracked deletion (not
    the report's) and insertion (the report's), a hyperlink field (its shown text only)."""
    read = document_text(docx_bytes(TITLE, PARAGRAPHS, ugly=True))
    assert read.kind == "docx"
    assert read.lines == [TITLE, *EXPECTED]


def test_a_docx_table_is_one_line_per_row_with_cells_tab_separated() -> None:
    table = [["序号", "项目名称", "投资（万元）"], ["1", "黄宅·溪口片区综合开发", "3,260"]]
    read = document_text(docx_bytes(TITLE, PARAGRAPHS, ugly=True, table=table))
    assert read.lines == [TITLE, *PARAGRAPHS, *("\t".join(row) for row in table), *signature_lines(TITLE)]


@pytest.mark.parametrize("justified", [True, False])
def test_a_word_exported_pdf_reads_exactly(justified: bool) -> None:
    """Two pages of 公文 layout: lines wrapped at 28 characters (a paragraph runs across the page break),
    2-character first-line indents, justified lines set with kerning, ASCII runs in their own font,
    "— 1 —" page numbers. Paragraphs come back whole; nothing is added between two lines of Chinese."""
    read = document_text(pdf_bytes(TITLE, PARAGRAPHS, justified=justified))
    assert read.kind == "pdf"
    assert read.lines == [TITLE, *EXPECTED]


def test_a_long_title_wrapped_over_two_centred_lines_stays_one_line() -> None:
    title = "桃溪镇人民政府关于2023年度法治政府建设工作情况和2024年度工作安排的报告"
    read = document_text(pdf_bytes(title, PARAGRAPHS[:3]))
    assert read.lines[0] == title
    assert read.lines[1:] == [*PARAGRAPHS[:3], *signature_lines(title)]


def test_a_report_body_is_the_document_without_its_title() -> None:
    assert body_from_document(docx_bytes(TITLE, PARAGRAPHS), TITLE).splitlines() == EXPECTED
    assert body_from_document(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500, TITLE) == ""


def test_files_whose_text_is_not_read_give_no_lines_and_say_why() -> None:
    ole = document_text(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500)  # .doc / .wps
    assert ole.lines == [] and ".doc" in ole.note
    broken = document_text(docx_bytes(TITLE, PARAGRAPHS)[:300])  # a download cut short
    assert broken.lines == [] and "unreadable" in broken.note
    not_word = io.BytesIO()
    with zipfile.ZipFile(not_word, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    assert document_text(not_word.getvalue()).lines == []
    cut_pdf = document_text(pdf_bytes(TITLE, PARAGRAPHS)[:200])
    assert cut_pdf.lines == []


def test_a_zip_bomb_is_not_inflated_past_the_bound(monkeypatch) -> None:
    monkeypatch.setattr(docx, "MAX_XML_BYTES", 1_000_000)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<w:document>" + b" " * 50_000_000 + b"</w:document>")
    assert len(bomb.getvalue()) < 100_000
    read = document_text(bomb.getvalue())
    assert read.lines == [] and "unreadable" in read.note


def test_a_docx_with_an_entity_or_external_dtd_is_not_expanded() -> None:
    """XXE / billion laughs: entities are not resolved, nothing is fetched."""
    xml = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "AAAAAAAAAA"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
           '<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
           '<w:p><w:r><w:t>正文&b;&x;</w:t></w:r></w:p></w:body></w:document>')
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("word/document.xml", xml)
    read = document_text(packed.getvalue())
    assert "AAAA" not in "".join(read.lines) and "root:" not in "".join(read.lines)


def test_a_pdf_without_a_unicode_map_gives_no_text_rather_than_cid_codes() -> None:
    pdf = pdf_bytes(TITLE, PARAGRAPHS)
    read = document_text(_without_to_unicode(pdf))
    assert read.lines == [] and "Unicode" in read.note


def _without_to_unicode(pdf: bytes) -> bytes:
    """The same PDF with its /ToUnicode references renamed away (offsets unchanged: same length)."""
    return pdf.replace(b"/ToUnicode", b"/NoUnicode")


def test_only_a_body_of_file_names_and_pointers_is_attachment_only() -> None:
    files = [Attachment("2023年工作总结(桃溪镇)0726.docx", "http://x.gov.cn/module/download/downfile.jsp?filename=a.docx")]
    assert attachment_only("2023年工作总结(桃溪镇)0726.docx", files)
    assert attachment_only("详见附件：\n2023年工作总结(桃溪镇)0726.docx", files)
    assert attachment_only("", files)
    assert not attachment_only("", [])
    assert not attachment_only("全镇实现地区生产总值12.5亿元。\n2023年工作总结(桃溪镇)0726.docx", files)


def test_a_pointer_page_is_file_names_or_a_short_note_whose_file_names_do_not_count() -> None:
    files = [Attachment("2023年度安全检查情况表.xls", "http://x.gov.cn/attach/0/jc.xls")]
    assert cover_note("检查情况详见附件\n附件：2023年度安全检查情况表.xls", files) == "检查情况详见附件"
    assert is_pointer("检查情况详见附件\n2023年度安全检查情况表.xls", files)
    assert is_pointer("附件：2023年度安全检查情况表.xls", files) and not is_pointer("检查情况详见附件", [])
    long_note = "全镇共排查企业126家，发现隐患358处，已整改352处，整改率98.3%。" * 3
    assert len(long_note) >= 100 and not is_pointer(long_note + "\n2023年度安全检查情况表.xls", files)


def test_an_attachment_only_article_takes_the_first_readable_documents_text() -> None:
    files = [Attachment("附件1.doc", "http://x.gov.cn/attach/0/a.doc"),
             Attachment("2023年工作总结.docx", "http://x.gov.cn/attach/0/b.docx")]
    fields = ArticleFields(title=TITLE, body="附件1.doc\n2023年工作总结.docx", attachments=files)
    broken = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100
    documents_by_url = {files[0].url: StagedFile(7, files[0].url, {}, broken),
                        files[1].url: StagedFile(8, files[1].url, {}, docx_bytes(TITLE, PARAGRAPHS))}
    assert read_files(fields, documents_by_url)
    assert fields.body.splitlines() == EXPECTED and fields.attachments == files
    assert fields.body_source == "attachment" and fields.cover_note is None  # file names are no cover note
    assert [f["used"] for f in fields.files] == [None, "body"]
    assert fields.files[0]["note"] and fields.files[1]["staged_page_id"] == 8
    # A page with a body of its own keeps it; the file's text is kept beside it.
    own = "全镇实现地区生产总值12.5亿元，同比增长6.7%，" * 5
    with_text = ArticleFields(title=TITLE, body=own, attachments=files)
    assert not read_files(with_text, documents_by_url) and with_text.body == own
    assert with_text.body_source == "page" and with_text.attachment_text.splitlines() == [TITLE, *EXPECTED]


def test_a_pdf_over_the_page_bound_is_not_read_at_all(monkeypatch) -> None:
    """Never half a report: a PDF longer than the bound gives no text, not its first pages."""
    two_pages = pdf_bytes(TITLE, PARAGRAPHS)
    monkeypatch.setattr(pdf, "MAX_PDF_PAGES", 1)
    with pytest.raises(pdf.UnreadablePdf, match="over 1 pages"):
        pdf.pdf_lines(two_pages)
    monkeypatch.setattr(pdf, "MAX_PDF_PAGES", 2)
    assert pdf.pdf_lines(two_pages) == [TITLE, *EXPECTED]


def test_the_demo_reports_read_back_exactly_from_their_files() -> None:
    """Every demo report as a Word-edited .docx, and every sixth as a justified and a ragged PDF: lines
    ending short before an unbreakable "3584.27万元" or "“141”", a space the wrap fell on ("232 处"),
    headings as short as a centered title."""
    from gongkai_replica.demo import build_demo_sites

    articles = [a for site in build_demo_sites() for a in site.articles() if a.paragraphs]
    wrong = []
    for n, article in enumerate(articles):
        expected = [article.title, *(p.strip() for p in article.paragraphs if p.strip()),
                    *signature_lines(article.title)]
        files = [docx_bytes(article.title, article.paragraphs)]
        if n % 6 == 0:
            files += [pdf_bytes(article.title, article.paragraphs, justified=j) for j in (True, False)]
        wrong += [(article.title, n) for data in files if _read(data) != expected]
    assert len(articles) > 100 and not wrong, wrong


def _read(data: bytes) -> list[str]:
    """In this process (the child process of document_text costs an interpreter start per PDF)."""
    return pdf.pdf_lines(data) if data.startswith(b"%PDF") else docx.docx_lines(data)


# --- found by the audit of the first version (helper-19): each failed before its fix ----------------------

_NS = ('xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
       'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
       'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
       'xmlns:m="http://schemas.openxmlformats.org/officeDocument/2006/math"')
_NUMBERING = ('<w:numbering xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
              '<w:abstractNum w:abstractNumId="0"><w:lvl w:ilvl="0"><w:start w:val="1"/>'
              '<w:numFmt w:val="chineseCounting"/><w:lvlText w:val="%1、"/></w:lvl>'
              '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="（%2）"/>'
              '</w:lvl></w:abstractNum><w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num></w:numbering>')


def _docx(body: str, part: str = "word/document.xml", extra: dict[str, str] | None = None,
          namespace: str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main") -> bytes:
    packed = io.BytesIO()
    rels = ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="r1"'
            f' Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="{part}"/>'
            "</Relationships>")
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("_rels/.rels", rels)
        archive.writestr(part, f'<w:document {_NS.replace(_W_NS, namespace)}><w:body>{body}</w:body></w:document>')
        for name, xml in (extra or {}).items():
            archive.writestr(name, xml)
    return packed.getvalue()


_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _p(*runs: str, pr: str = "") -> str:
    return f"<w:p>{pr}{''.join(runs)}</w:p>"


def _r(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>'


def test_word_auto_numbered_headings_keep_their_numbers() -> None:
    """一、 and （一） come from numbering.xml, not the text: without them a heading loses its number."""
    level = '<w:pPr><w:numPr><w:ilvl w:val="{}"/><w:numId w:val="1"/></w:numPr></w:pPr>'
    body = (_p(_r("主要成效"), pr=level.format(0)) + _p(_r("经济平稳"), pr=level.format(1))
            + _p(_r("民生改善"), pr=level.format(1)) + _p(_r("全年经济平稳。"))
            + _p(_r("存在问题"), pr=level.format(0)) + _p(_r("项目不足"), pr=level.format(1)))
    assert document_text(_docx(body, extra={"word/numbering.xml": _NUMBERING})).lines == [
        "一、主要成效", "（一）经济平稳", "（二）民生改善", "全年经济平稳。", "二、存在问题", "（一）项目不足"]


def test_nested_tables_are_read_once_and_in_linear_time() -> None:
    inner = "<w:tbl><w:tr><w:tc>" + _p(_r("内1")) + "</w:tc><w:tc>" + _p(_r("内2")) + "</w:tc></w:tr></w:tbl>"
    outer = ("<w:tbl><w:tr><w:tc>" + _p(_r("外")) + inner + "<w:p/></w:tc><w:tc>" + _p(_r("右"))
             + "</w:tc></w:tr></w:tbl>")
    assert document_text(_docx(outer)).lines == ["外 内1\t内2\t右"]
    deep = _p(_r("底"))
    for k in range(40):  # each level cost 4x before: 20 levels took 25 s and gave 3.1 M characters
        deep = f"<w:tbl><w:tr><w:tc>{_p(_r(str(k)))}{deep}</w:tc></w:tr></w:tbl><w:p/>"
    (line,) = document_text(_docx(deep)).lines
    assert line.split() == [*(str(k) for k in range(39, -1, -1)), "底"]


def test_symbols_equations_text_boxes_and_content_controls_keep_their_text() -> None:
    body = (_p(_r("完成率"), '<w:r><w:sym w:font="Symbol" w:char="F0B3"/></w:r>', _r("95%"))
            + _p(_r("增长"), "<m:oMath><m:r><m:t>5%</m:t></m:r></m:oMath>")
            + _p('<w:r><w:ruby><w:rubyPr/><w:rt><w:r><w:t>pin</w:t></w:r></w:rt><w:rubyBase><w:r><w:t>拼</w:t></w:r>'
                 "</w:rubyBase></w:ruby></w:r>")
            + _p('<w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:txbx><w:txbxContent>'
                 + _p(_r("柳政〔2024〕12号")) + "</w:txbxContent></wps:txbx></w:drawing></mc:Choice><mc:Fallback>"
                 "<w:pict><w:txbxContent>" + _p(_r("柳政〔2024〕12号")) + "</w:txbxContent></w:pict></mc:Fallback>"
                 "</mc:AlternateContent></w:r>", _r("正文"))
            + "<w:tbl><w:tr><w:sdt><w:sdtContent><w:tc>" + _p(_r("单元")) + "</w:tc></w:sdtContent></w:sdt><w:tc>"
            + _p(_r("二")) + "</w:tc></w:tr></w:tbl>"
            + '<mc:AlternateContent><mc:Choice Requires="w14">' + _p(_r("选择")) + "</mc:Choice><mc:Fallback>"
            + _p(_r("选择")) + "</mc:Fallback></mc:AlternateContent>")
    assert document_text(_docx(body)).lines == [
        "完成率≥95%", "增长5%", "拼", "柳政〔2024〕12号", "正文", "单元\t二", "选择"]


def test_a_docx_whose_main_part_has_another_name_or_strict_namespaces_is_read() -> None:
    assert document_text(_docx(_p(_r("正文。")), part="word/document2.xml")).lines == ["正文。"]  # WPS
    strict = _docx(_p(_r("正文。")), namespace="http://purl.oclc.org/ooxml/wordprocessingml/main")
    assert document_text(strict).lines == ["正文。"]


LONG = ("全年完成地区生产总值12.3亿元，同比增长6.7%，规模以上工业增加值增长8.1%，固定资产投资完成5.6亿元，"
        "社会消费品零售总额增长7.2%，各项主要经济指标保持平稳增长。")


@pytest.mark.parametrize("justified", [True, False])
def test_one_line_items_outnumbering_full_lines_stay_paragraphs(justified: bool) -> None:
    """The text's right edge is not the most common one: 14 one-line items of one length outvoted the
    full lines and were all glued onto the long paragraph."""
    paragraphs = ["一、主要成效", LONG, *(f"{i}.完成第{i}项民生实事。" for i in range(1, 15))]
    assert pdf.pdf_lines(pdf_bytes(TITLE, paragraphs, justified=justified)) == [
        TITLE, *paragraphs, *signature_lines(TITLE)]


@pytest.mark.parametrize("number", ["2024", "12", "第1页"])
def test_a_paragraph_that_is_only_a_number_is_not_taken_for_a_page_number(number: str) -> None:
    paragraphs = ["上年度主要指标如下。", number, "以上。"]
    assert pdf.pdf_lines(pdf_bytes(TITLE, paragraphs)) == [TITLE, *paragraphs, *signature_lines(TITLE)]


def test_a_running_header_on_every_page_is_dropped_and_splits_no_paragraph() -> None:
    """The same line at the top of every page (the office's or the report's name) is page furniture, like
    "— 1 —": before, it was in the body once per page, cutting paragraphs that cross pages."""
    paragraphs = PARAGRAPHS * 3
    read = pdf.pdf_lines(pdf_bytes(TITLE, paragraphs, header="桃溪镇人民政府工作报告"))
    assert read == [TITLE, *paragraphs, *signature_lines(TITLE)]


def test_a_pdf_that_inflates_to_gigabytes_is_not_read_and_the_ingest_survives() -> None:
    """pdfminer inflates whole streams: a 1.5 MB file asked for 3 GB. Read in a child process with a
    memory limit, it gives no text and a note."""
    import zlib

    compressor, bomb = zlib.compressobj(9), b""
    chunk = b" " * (1 << 24)
    for _ in range(80):  # 1.3 GB of spaces, ~1.3 MB compressed
        bomb += compressor.compress(chunk)
    bomb += compressor.flush()
    data = pdf_bytes(TITLE, PARAGRAPHS[:2])
    # One more object, the bomb, as the page's second content stream (offsets: appended after the xref is
    # redone by an incremental update, as editors save).
    start = int(data.rsplit(b"startxref", 1)[1].split()[0])
    size = int(data.split(b"/Size", 1)[1].split(b"/", 1)[0].split(b">", 1)[0])
    page = int(data.split(b"/Type/Page/", 1)[0].rsplit(b" 0 obj", 1)[0].rsplit(b"\n", 1)[-1])
    page_obj = data.split(b"%d 0 obj" % page, 1)[1].split(b"endobj", 1)[0]
    contents = page_obj.split(b"/Contents ", 1)[1].split(b" 0 R", 1)[0]
    new_page = page_obj.replace(b"/Contents %s 0 R" % contents, b"/Contents[%s 0 R %d 0 R]" % (contents, size))
    update = bytearray(data)
    offsets = {page: len(update)}
    update += b"%d 0 obj" % page + new_page + b"endobj\n"
    offsets[size] = len(update)
    update += b"%d 0 obj\n<</Length %d/Filter/FlateDecode>>stream\n" % (size, len(bomb)) + bomb
    update += b"\nendstream\nendobj\n"
    xref = len(update)
    update += b"xref\n" + b"".join(b"%d 1\n%010d 00000 n\r\n" % (n, offsets[n]) for n in sorted(offsets))
    root = data.split(b"/Root ", 1)[1].split(b" 0 R", 1)[0]
    update += b"trailer\n<</Size %d/Root %s 0 R/Prev %d>>\nstartxref\n%d\n%%%%EOF\n" % (size + 1, root, start, xref)
    read = document_text(bytes(update))
    assert read.lines == [] and "could not read within" in read.note, read


def test_headings_numbered_through_their_paragraph_style_keep_their_numbers() -> None:
    """Word's own way for 标题 1 / 标题 2: the numPr is on the style (and the level names the style), the
    paragraph only says pStyle; a style based on a numbered one is numbered too."""
    numbering = _NUMBERING.replace('<w:lvl w:ilvl="0"><w:start w:val="1"/>',
                                   '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:pStyle w:val="1"/>')
    numbering = numbering.replace('<w:lvl w:ilvl="1"><w:start w:val="1"/>',
                                  '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:pStyle w:val="2"/>')
    styles = ('<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
              '<w:style w:type="paragraph" w:styleId="1"><w:name w:val="heading 1"/>'
              '<w:pPr><w:numPr><w:numId w:val="1"/></w:numPr></w:pPr></w:style>'
              '<w:style w:type="paragraph" w:styleId="2"><w:name w:val="heading 2"/>'
              '<w:pPr><w:numPr><w:ilvl w:val="1"/><w:numId w:val="1"/></w:numPr></w:pPr></w:style>'
              '<w:style w:type="paragraph" w:styleId="a5"><w:basedOn w:val="1"/></w:style></w:styles>')
    style = '<w:pPr><w:pStyle w:val="{}"/></w:pPr>'
    body = (_p(_r("主要成效"), pr=style.format("1")) + _p(_r("经济平稳"), pr=style.format("2"))
            + _p(_r("正文。")) + _p(_r("存在问题"), pr=style.format("a5"))
            + _p(_r("不编号"), pr='<w:pPr><w:pStyle w:val="1"/><w:numPr><w:numId w:val="0"/></w:numPr></w:pPr>'))
    read = document_text(_docx(body, extra={"word/numbering.xml": numbering, "word/styles.xml": styles}))
    assert read.lines == ["一、主要成效", "（一）经济平稳", "正文。", "二、存在问题", "不编号"]
