"""Decoding tests: WHATWG label rules (gb2312 -> gb18030), precedence BOM > header > head <meta>."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from gongkai.ingest.decode import decode_html

FIXTURES = Path(__file__).parent / "fixtures" / "jcms"
RARE = "喆堃昇镕"
TEXT = f"镇党委书记王{RARE}，龙之梦·六春湖——项目"


def _page(head_meta: str, body: str) -> str:
    return f"<html><head>{head_meta}<title>t</title></head><body><p>{body}</p></body></html>"


def test_gbk_fixture_labelled_gb2312_in_meta_only() -> None:
    raw = (FIXTURES / "005_gbk_dazhou.html").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("gb2312")  # proves the fixture would break a gb2312 decoder
    text = decode_html(raw, "text/html")
    for needle in ("王喆", "李堃", "陈昇", "朱镕", "龙之梦·六春湖", "——"):
        assert needle in text
    assert "\ufffd" not in text


def test_gb2312_label_in_header_is_decoded_as_gb18030() -> None:
    raw = _page("", TEXT).encode("gbk")
    text = decode_html(raw, "text/html; charset=gb2312")
    assert TEXT in text and "\ufffd" not in text


def test_middle_dot_is_not_the_gb2312_katakana_dot() -> None:
    raw = _page('<meta charset="gb2312">', "龙之梦·六春湖").encode("gbk")
    assert b"\xa1\xa4" in raw
    text = decode_html(raw, None)
    assert "龙之梦\u00b7六春湖" in text and "\u30fb" not in text


def test_header_charset_beats_meta() -> None:
    raw = _page('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">', TEXT).encode("utf-8")
    assert TEXT in decode_html(raw, "text/html; charset=UTF-8")


def test_meta_used_when_header_has_no_charset() -> None:
    raw = _page('<meta charset="gbk">', TEXT).encode("gbk")
    assert TEXT in decode_html(raw, "text/html")


def test_bom_beats_header() -> None:
    raw = codecs.BOM_UTF8 + _page("", TEXT).encode("utf-8")
    text = decode_html(raw, "text/html; charset=gbk")
    assert TEXT in text and not text.startswith("\ufeff")


def test_word_fragment_meta_in_body_does_not_override_head() -> None:
    raw = (
        '<html><head><meta charset="utf-8"><title>t</title></head><body><div id="zoom">'
        '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
        f"<p>{TEXT}</p></div></body></html>"
    ).encode()
    assert TEXT in decode_html(raw, "text/html")
    assert TEXT in decode_html(raw, None)


def test_body_meta_alone_is_not_a_declaration() -> None:
    """With no head declaration, a gb2312 meta inside <body> is ignored and detection decides."""
    paragraphs = "".join(f"<p>第{i}段：{TEXT}，全面推进重点项目建设，持续提升群众获得感和幸福感。</p>" for i in range(6))
    raw = (
        '<html><head><title>t</title></head><body><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
        f"{paragraphs}</body></html>"
    ).encode()
    assert TEXT in decode_html(raw, None)


def test_undeclared_gbk_is_detected() -> None:
    paragraphs = "".join(f"<p>第{i}段：{TEXT}，全面推进重点项目建设，持续提升群众获得感和幸福感。</p>" for i in range(6))
    raw = f"<html><head><title>工作总结</title></head><body>{paragraphs}</body></html>".encode("gbk")
    text = decode_html(raw, "text/html")
    assert TEXT in text and "\ufffd" not in text


@pytest.mark.parametrize("page", sorted(FIXTURES.glob("*.html")), ids=lambda p: p.stem)
def test_fixtures_decode_without_replacement_characters(page: Path) -> None:
    import json

    meta = json.loads(page.with_suffix(".meta.json").read_text("utf-8"))
    assert "\ufffd" not in decode_html(page.read_bytes(), meta.get("content_type"))


# -- labels that lie (issue: a GBK page stored as °²ÁëÏç…) ---------------------------------------------

REPORT = "安岭乡2022年上半年工作总结。一、主要工作：固定资产投资增长6.5%，龙之梦·六春湖项目完成。" * 3


def _lying(meta: str, text: str = REPORT) -> str:
    return f"<html><head>{meta}<title>安岭乡2022年上半年工作总结</title></head><body><p>{text}</p></body></html>"


@pytest.mark.parametrize("content_type", ["text/html; charset=UTF-8", "text/html; charset=iso-8859-1",
                                          "text/html", None])
def test_gbk_bytes_under_lying_labels_are_read_from_the_bytes(content_type: str | None) -> None:
    from gongkai.ingest.decode import decode_page

    raw = _lying("<meta charset=iso-8859-1>").encode("gbk")
    page = decode_page(raw, content_type)
    assert REPORT in page.text and "°²" not in page.text
    assert page.encoding == "gb18030" and page.problem is None


def test_utf8_bytes_labelled_gbk_in_header_and_meta_are_read_as_utf8() -> None:
    from gongkai.ingest.decode import decode_page

    raw = _lying('<meta http-equiv="Content-Type" content="text/html; charset=gbk">').encode("utf-8")
    page = decode_page(raw, "text/html; charset=GBK")
    assert REPORT in page.text and page.encoding == "utf-8"


def test_header_and_meta_that_disagree_are_settled_by_the_bytes() -> None:
    from gongkai.ingest.decode import decode_page

    raw = _lying('<meta charset="utf-8">').encode("gbk")
    assert REPORT in decode_page(raw, "text/html; charset=gb2312").text
    assert REPORT in decode_page(raw, "text/html; charset=utf-8").text


def test_a_western_page_in_latin1_stays_latin1() -> None:
    from gongkai.ingest.decode import decode_page

    raw = "<html><head><meta charset=iso-8859-1></head><body>Café résumé naïve über</body></html>".encode("cp1252")
    page = decode_page(raw, None)
    assert "Café résumé" in page.text and page.problem is None


def test_mojibake_and_replacement_runs_are_named_as_problems() -> None:
    from gongkai.ingest.decode import text_problem

    assert text_problem(REPORT.encode("gbk").decode("cp1252", errors="replace")).startswith("mojibake")
    assert text_problem(REPORT.encode("utf-8").decode("latin-1")).startswith("mojibake")
    assert text_problem("工作总结" + "\ufffd" * 12).startswith("undecodable")
    assert text_problem(REPORT) is None
    assert text_problem("Café, naïve, £5 — “quoted” …") is None
