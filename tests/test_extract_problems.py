"""Bad input gives `problems`, never a crash or a silent empty body (issue 20.3, 24.2).

Each case builds the page it needs: no metadata block, an image-only or PDF-only article, an empty body,
mojibake, a 10.5 MB page whose title node alone is 10 MB, a body container holding a fraction of the text.
"""

from __future__ import annotations

import pytest

from gongkai.ingest.extract import (
    ATTACHMENT_ONLY,
    BODY_SHORT,
    EMPTY_BODY,
    IMAGE_ONLY,
    NO_METADATA_BLOCK,
    NO_TITLE,
    TITLE_CUT,
    extract_article,
)
from gongkai.ingest.title import TITLE_CUT_MARK

URL = "http://www.example.gov.cn/art/2024/1/24/art_1229_1.html"
META = ("<table><tr><td>索引号：</td><td>11331024734494628R/2024-129893</td><td>发布机构：</td><td>某某镇</td></tr>"
        "<tr><td>成文日期：</td><td>2024-01-20</td><td>组配分类：</td><td>计划总结</td></tr></table>")
PARAGRAPH = "2024年，某某镇坚持以习近平新时代中国特色社会主义思想为指导，全年实现财政总收入4225.26万元，同比增长8.5%。"


def _page(zoom: str, *, meta: str = META, title: str = "某某镇2023年工作总结", extra: str = "") -> str:
    return (f"<html><head><title>{title}</title><meta name='ArticleTitle' content='{title}'></head><body>"
            f"<div class='header'>某某县人民政府</div>{meta}<h1>{title}</h1><div id='zoom'>{zoom}</div>{extra}"
            "<div class='footer'>主办：某某县人民政府办公室</div></body></html>")


def test_a_clean_report_has_no_problem() -> None:
    assert extract_article(_page(f"<p>{PARAGRAPH}</p>"), URL).problems == []


def test_a_page_without_metadata_block_says_so() -> None:
    art = extract_article(_page(f"<p>{PARAGRAPH}</p>", meta="<p>来源：某某镇　发布时间：2024-01-24 10:00</p>"), URL)
    assert art.problems == [NO_METADATA_BLOCK] and art.body == PARAGRAPH and art.source == "某某镇"


def test_an_image_only_article_keeps_its_images_and_says_so() -> None:
    art = extract_article(_page("<p><img src='/picture/0/2401241.jpg'></p><p><img src='/picture/0/2401242.jpg'></p>"), URL)
    assert art.body == "" and [a.name for a in art.attachments] == ["2401241.jpg", "2401242.jpg"]
    assert art.problems == [IMAGE_ONLY]


@pytest.mark.parametrize("zoom", [
    "<p><a href='/module/download/downfile.jsp?classid=0&filename=ab12.pdf'>某某镇2023年工作总结.pdf</a></p>",
    "<p>附件：<a href='/attach/0/ab12.pdf'>某某镇2023年工作总结.pdf</a></p>",
    "<p>详见附件。</p><p>附件：<a href='/attach/0/ab12.pdf'>某某镇2023年工作总结.pdf</a></p>",
    "<iframe id='pdfshow' src='/attach/0/ab12.pdf'></iframe>",
])
def test_a_pdf_only_article_is_attachment_only(zoom: str) -> None:
    art = extract_article(_page(zoom), URL)
    assert art.attachments and ATTACHMENT_ONLY in art.problems and EMPTY_BODY not in art.problems


def test_an_empty_body_is_named_not_passed_off() -> None:
    art = extract_article(_page("<p>&nbsp;</p>"), URL)
    assert art.body == "" and art.problems == [EMPTY_BODY]


@pytest.mark.parametrize("html", ["", "<html>", "\x00\x01garbage", "<html><body><p>a</p></body></html>",
                                  "<?xml version='1.0' encoding='gbk'?><html><body></body></html>"])
def test_junk_never_crashes(html: str) -> None:
    art = extract_article(html, URL)
    assert isinstance(art.problems, list) and art.problems


def test_no_title_is_named() -> None:
    art = extract_article("<html><body><div id='zoom'><p>" + PARAGRAPH + "</p></div></body></html>", URL)
    assert art.title == "" and NO_TITLE in art.problems


def test_mojibake_is_named() -> None:
    garbled = PARAGRAPH.encode("utf-8").decode("latin-1")  # UTF-8 bytes read as Latin-1
    art = extract_article(_page(f"<p>{garbled}</p>", title="某某镇2023年工作总结".encode().decode("latin-1")), URL)
    assert "mojibake" in art.problems


def test_a_ten_megabyte_title_node_does_not_drop_the_body() -> None:
    """issue 24.2: libxml2 cuts a text node over 10 MB and drops everything after it unless huge_tree."""
    huge = "很长的标题" * (10 * 1024 * 1024 // 15 + 1)  # 10 MB of UTF-8 in one text node
    paragraphs = [f"第{i}段：{PARAGRAPH}" for i in range(4000)]
    html = _page("".join(f"<p>{p}</p>" for p in paragraphs), title="标题").replace("<h1>标题</h1>", f"<h1>{huge}</h1>")
    html = html.replace("<meta name='ArticleTitle' content='标题'>", "")
    assert len(html.encode("utf-8")) > 10.5 * 1024 * 1024
    art = extract_article(html.replace("<title>标题</title>", "<title></title>"), URL)
    assert art.body.split("\n") == paragraphs  # read whole, the last paragraph too
    assert art.title.endswith(TITLE_CUT_MARK) and len(art.title) <= 501 and TITLE_CUT in art.problems
    assert BODY_SHORT not in art.problems


def test_a_body_far_shorter_than_the_page_text_is_flagged() -> None:
    """A container that holds only the opening of the text (the rest in a sibling block) loses it silently."""
    rest = "".join(f"<p>第{i}段：{PARAGRAPH}</p>" for i in range(100))
    art = extract_article(_page(f"<p>{PARAGRAPH}</p>", extra=f"<div class='more'>{rest}</div>"), URL)
    assert art.body == PARAGRAPH and BODY_SHORT in art.problems
