"""The text of report files (gongkai.ingest.documents): .docx and .pdf as Word and WPS save them, ugly parts
included, read character for character; everything else (and anything hostile) gives no text, never a
guess and never a crash."""

from __future__ import annotations

import io
import zipfile

import pytest

from gongkai.ingest import documents
from gongkai.ingest.documents import document_text
from gongkai.ingest.pages import attachment_only, body_from_document, fill_body_from_documents
from gongkai.models import ArticleFields, Attachment
from gongkai.replica.documents import docx_bytes, pdf_bytes, signature_lines

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
    monkeypatch.setattr(documents, "MAX_XML_BYTES", 1_000_000)
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


def test_an_attachment_only_article_takes_the_first_readable_documents_text() -> None:
    files = [Attachment("附件1.doc", "http://x.gov.cn/attach/0/a.doc"),
             Attachment("2023年工作总结.docx", "http://x.gov.cn/attach/0/b.docx")]
    fields = ArticleFields(title=TITLE, body="附件1.doc\n2023年工作总结.docx", attachments=files)
    documents_by_url = {files[0].url: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100,
                        files[1].url: docx_bytes(TITLE, PARAGRAPHS)}
    assert fill_body_from_documents(fields, documents_by_url)
    assert fields.body.splitlines() == EXPECTED and fields.attachments == files
    with_text = ArticleFields(title=TITLE, body="正文一段。", attachments=files)
    assert not fill_body_from_documents(with_text, documents_by_url) and with_text.body == "正文一段。"


def test_a_pdf_over_the_page_bound_is_not_read_at_all(monkeypatch) -> None:
    """Never half a report: a PDF longer than the bound gives no text, not its first pages."""
    pdf = pdf_bytes(TITLE, PARAGRAPHS)  # two pages
    monkeypatch.setattr(documents, "MAX_PDF_PAGES", 1)
    read = document_text(pdf)
    assert read.lines == [] and "over 1 pages" in read.note
    monkeypatch.setattr(documents, "MAX_PDF_PAGES", 2)
    assert document_text(pdf).lines == [TITLE, *EXPECTED]


def test_the_demo_reports_read_back_exactly_from_their_files() -> None:
    """Every demo report as a Word-edited .docx, and every sixth as a justified and a ragged PDF: lines
    ending short before an unbreakable "3584.27万元" or "“141”", a space the wrap fell on ("232 处"),
    headings as short as a centered title."""
    from gongkai.replica.demo import build_demo_sites

    articles = [a for site in build_demo_sites() for a in site.articles() if a.paragraphs]
    wrong = []
    for n, article in enumerate(articles):
        expected = [article.title, *(p.strip() for p in article.paragraphs if p.strip()),
                    *signature_lines(article.title)]
        files = [docx_bytes(article.title, article.paragraphs)]
        if n % 6 == 0:
            files += [pdf_bytes(article.title, article.paragraphs, justified=j) for j in (True, False)]
        wrong += [(article.title, n) for data in files if document_text(data).lines != expected]
    assert len(articles) > 100 and not wrong, wrong
