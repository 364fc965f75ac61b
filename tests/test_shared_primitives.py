"""The parsers every stage shares: one date parser, one URL form, one file-link detector.

Property tests (hypothesis) for the date parser: every way a portal prints a real date reads back as
that date, an impossible date is never read, and no text makes it raise.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from gongkai.dates import parse_date
from gongkai.filelinks import is_document_link, is_file_link, linked_file_names
from gongkai.urls import file_name, host_key, requested_forms, wire_url

DATES = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31))
_CN = "〇一二三四五六七八九"


def _cn_number(n: int) -> str:
    if n < 10:
        return _CN[n]
    tens, units = divmod(n, 10)
    return ("" if tens == 1 else _CN[tens]) + "十" + (_CN[units] if units else "")


def _printed(d: dt.date, shape: int) -> str:
    """The shapes portals print dates in (listing rows, metadata blocks, 落款)."""
    y, m, day = d.year, d.month, d.day
    return [
        f"{y}-{m:02d}-{day:02d}",
        f"{y}/{m}/{day}",
        f"{y}.{m:02d}.{day:02d}",
        f"{y}年{m}月{day}日",
        f"{y}- {m:02d}- {day:02d} 14 : 53",  # jcms pads with spaces
        f"发布日期：{y}年{m:02d}月{day:02d}日 10:31",
        "".join(chr(ord(c) + 0xFEE0) if c.isdigit() or c == "-" else c for c in f"{y}-{m:02d}-{day:02d}"),  # full width
        "".join(_CN[int(c)] for c in str(y)) + f"年{_cn_number(m)}月{_cn_number(day)}日",  # 二〇二五年一月八日
    ][shape]


@settings(max_examples=300, deadline=None)
@given(DATES, st.integers(min_value=0, max_value=7))
def test_every_printed_shape_of_a_real_date_reads_back(d: dt.date, shape: int) -> None:
    assert parse_date(_printed(d, shape)) == d.isoformat()


@settings(max_examples=200, deadline=None)
@given(st.integers(1900, 2100), st.integers(1, 12), st.integers(1, 40), st.sampled_from(["{}-{}-{}", "{}年{}月{}日"]))
def test_an_impossible_date_is_never_read(year: int, month: int, day: int, shape: str) -> None:
    try:
        real = dt.date(year, month, day)
    except ValueError:
        real = None
    got = parse_date(shape.format(year, month, day))
    assert got == (real.isoformat() if real else None)


def test_impossible_dates_named_in_the_issue() -> None:
    assert parse_date("2024年2月30日") is None
    assert parse_date("2023-13-01") is None
    assert parse_date("2023-02-29") is None
    assert parse_date("2024-02-29") == "2024-02-29"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_no_text_makes_the_parser_raise_and_any_answer_is_a_real_date(text: str) -> None:
    got = parse_date(text)
    if got is not None:
        assert dt.date.fromisoformat(got)


@settings(max_examples=200, deadline=None)
@given(DATES, st.integers(1, 9))
def test_digits_glued_to_a_date_are_a_serial_not_a_date(d: dt.date, digit: int) -> None:
    assert parse_date(f"{digit}{d.year}-{d.month:02d}-{d.day:02d}{digit}") is None


def test_a_later_real_date_is_read_after_an_impossible_one() -> None:
    assert parse_date("2024-02-30 更正为 2024-03-01") == "2024-03-01"


def test_wire_url_is_the_form_requests_carry() -> None:
    assert wire_url("http://h/a b/c'd;e.html") == "http://h/a%20b/c'd;e.html"
    assert wire_url(" http://h/x.html ") == "http://h/x.html"
    assert wire_url(wire_url("http://h/工作 总结.html")) == wire_url("http://h/工作 总结.html")  # idempotent
    assert wire_url("http://h/d.jsp?filename=工作.docx", "gbk") == "http://h/d.jsp?filename=%B9%A4%D7%F7.docx"
    assert requested_forms("http://h/d.jsp?filename=工作.docx") == {
        "http://h/d.jsp?filename=%E5%B7%A5%E4%BD%9C.docx", "http://h/d.jsp?filename=%B9%A4%D7%F7.docx"}


def test_host_key_and_file_name() -> None:
    assert host_key("http://WWW.Example.gov.cn:8080/a") == "www.example.gov.cn:8080"
    assert host_key("https://example.gov.cn/a") == "example.gov.cn"
    assert file_name("http://h/attach/0/%E5%B7%A5%E4%BD%9C%E6%80%BB%E7%BB%93.PDF") == "工作总结.PDF"


def test_file_links_by_path_or_gateway_name_in_either_case() -> None:
    gateway = "http://h/module/download/downfile.jsp?classid=0&filename=2023%E5%B9%B4%E6%80%BB%E7%BB%93.DOCX"
    assert is_file_link("http://h/attach/0/a.PDF") and is_document_link("http://h/attach/0/a.PDF")
    assert is_file_link(gateway) and is_document_link(gateway)
    assert linked_file_names(gateway)[1] == "2023年总结.DOCX"
    assert is_file_link("http://h/module/download/downfile.jsp?classid=0")  # an attachment, name unknown
    assert not is_document_link("http://h/module/download/downfile.jsp?classid=0")
    assert is_file_link("http://h/a/b.XLS") and is_document_link("http://h/a/b.XLS")  # a table is fetched and read
    assert is_document_link("http://h/a/b.xlsx") and is_document_link("http://h/a/b.et")
    assert is_file_link("http://h/a/b.rar") and not is_document_link("http://h/a/b.rar")  # an archive is not
    assert not is_file_link("http://h/art/2023/1/1/art_1_2.html")
    assert not is_file_link("http://h/a.pdf.html")
