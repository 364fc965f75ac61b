"""Article layouts beyond the jcms seeds (issue 8): TRS WCM, Huzhou platform, xxgk, ivs, Linhai inline run,
Songyang info line, Shengzhou dates, beilun's doubled <dl> block, a page without metadata.

Every fixture page in tests/fixtures/layouts/ is compared field by field with its hand-written
expected JSON; the focused tests pin the individual rules those pages exercise.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import lxml.html
import pytest

from gongkai.ingest.classify import is_challenge_page
from gongkai.ingest.decode import decode_html
from gongkai.ingest.extract import extract_article
from gongkai.ingest.metadata import parse_metadata_block

FIXTURES = Path(__file__).parent / "fixtures" / "layouts"
PAGES = sorted(FIXTURES.glob("*.html"))
FIELDS = ("title", "body", "index_no", "publisher", "doc_no", "written_date", "published_date", "category",
          "attachments", "metadata")
CHROME_WORDS = ("访问次数", "浏览次数", "点击数", "分享", "打印", "关闭", "索引号", "信息来源", "字号", "字体",
                "Produced By", "当前位置", "网站标识码", "老年模式", "原文链接", "ICP")


def _load(page: Path) -> tuple[str, str, dict]:
    meta = json.loads(page.with_suffix(".meta.json").read_text("utf-8"))
    expected = json.loads(page.with_suffix(".expected.json").read_text("utf-8"))
    return decode_html(page.read_bytes(), meta.get("content_type")), meta["url"], expected


def _diff(expected: object, actual: object) -> str:
    exp = json.dumps(expected, ensure_ascii=False, indent=1).replace("\\n", "\n").replace("\\t", "→").splitlines()
    act = json.dumps(actual, ensure_ascii=False, indent=1).replace("\\n", "\n").replace("\\t", "→").splitlines()
    return "\n".join(difflib.unified_diff(exp, act, "expected", "actual", lineterm=""))


def _article(name: str) -> dict:
    text, url, _expected = _load(FIXTURES / f"{name}.html")
    return extract_article(text, url).to_dict()


def test_fixture_set_is_complete() -> None:
    assert len(PAGES) >= 10
    for page in PAGES:
        assert page.with_suffix(".meta.json").exists(), page
        assert page.with_suffix(".expected.json").exists(), page


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
@pytest.mark.parametrize("field", FIELDS)
def test_fixture_field(page: Path, field: str) -> None:
    text, url, expected = _load(page)
    actual = extract_article(text, url).to_dict()
    assert actual[field] == expected[field], f"{page.name} {field}:\n" + _diff(expected[field], actual[field])


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_no_chrome_and_not_a_challenge(page: Path) -> None:
    text, url, _expected = _load(page)
    assert not is_challenge_page(text)
    body = extract_article(text, url).body
    for word in CHROME_WORDS:
        assert word not in body, (page.name, word)
    for line in body.split("\n"):
        assert line and line == line.strip(), repr(line)


# ---- focused tests: one rule each -------------------------------------------------------------------------


def _meta(html: str, title: str | None = None) -> dict[str, str]:
    return parse_metadata_block(lxml.html.document_fromstring(html), title=title)


def test_dl_with_emsp_padded_labels_and_wu_values() -> None:
    meta = _meta(
        "<html><body><dl><dt>索&ensp;引&ensp;号：</dt><dd>11330206002954449B/2024-198521</dd>"
        "<dt>文&emsp;&emsp;号：</dt><dd>无</dd><dt>有&ensp;效&ensp;性：</dt><dd>有效</dd>"
        "<dt>统一编号：</dt><dd>无</dd><dt>成文日期：</dt><dd>2024年01月24日</dd></dl></body></html>"
    )
    assert meta == {"索引号": "11330206002954449B/2024-198521", "文号": "无", "有效性": "有效", "统一编号": "无",
                    "成文日期": "2024年01月24日"}
    art = _article("beilun_dagi_twice_dl")
    assert art["doc_no"] is None and art["metadata"]["文号"] == "无"


def test_doubled_block_first_occurrence_wins() -> None:
    """beilun prints the block as <dl> and again as mobile div/span rows with another date shape."""
    art = _article("beilun_dagi_twice_dl")
    assert art["metadata"]["成文日期"] == "2024年01月24日" and art["written_date"] == "2024-01-24"


def test_div_span_rows_with_nbsp_padding() -> None:
    meta = _meta(
        "<html><body><div class='m'><div><span>索&nbsp;引&nbsp;号</span><span>330523/2023-01586</span></div>"
        "<div><span>文&nbsp;&nbsp;&nbsp;&nbsp;号</span><span>无</span></div>"
        "<div><span>公开形式</span><span>主动公开</span></div><div><span>公开时限</span><span>长期公开</span></div>"
        "<div><span>生成日期</span><span>2024- 01- 24</span></div></div></body></html>"
    )
    assert meta == {"索引号": "330523/2023-01586", "文号": "无", "公开形式": "主动公开", "公开时限": "长期公开",
                    "生成日期": "2024- 01- 24"}


def test_huzhou_dot_separated_run_with_empty_values() -> None:
    art = _article("huzhou_anji_changshuo")
    assert art["metadata"]["文件编号"] == "" and art["metadata"]["文件效力"] == ""
    assert art["doc_no"] is None


def test_empty_last_label_never_takes_the_heading() -> None:
    html = ("<html><body><div class='box'><div><span>发布机构</span> <span>某镇</span> · <span>文件效力</span> "
            "<span></span></div><h2>某镇2023年工作总结</h2></div></body></html>")
    assert _meta(html) == {"发布机构": "某镇", "文件效力": ""}


def test_linhai_inline_run_and_date_line() -> None:
    art = _article("linhai_shangpan_inline")
    assert art["metadata"]["日期"] == "2024-02-01" and art["doc_no"] is None
    assert art["index_no"] == "LH331082-080/2024-131280"


def test_bare_riqi_label_only_at_word_start() -> None:
    assert _meta("<html><body><p>更新日期：2024-03-01</p><p>日期：2024-02-01 来源：某镇</p></body></html>") == {
        "日期": "2024-02-01", "来源": "某镇"}


def test_songyang_info_line_keeps_date_drops_counter_and_links() -> None:
    art = _article("songyang_zhaitan_info")
    assert art["metadata"]["发布时间"] == "2023-12-20 14:19:21"
    assert not {"点击数", "原文链接"} & set(art["metadata"])


def test_shengzhou_dates() -> None:
    old = _article("ivs_shengzhou_sanjiang_attachment")
    assert old["metadata"]["公开日期"] == "2017-03-28-00:00:00" and old["published_date"] == "2017-03-28"
    new = _article("ivs_shengzhou_ganlin_br")
    assert new["metadata"]["发布时间"] == "2025- 01- 09 16: 02"
    assert new["metadata"]["公开日期"] == "2025-01-09 16:02:30" and new["published_date"] == "2025-01-09"


def test_br_body_with_fullwidth_indents_and_title_dropped_once() -> None:
    html = ("<html><head><meta name='ArticleTitle' content='某镇2023年工作总结'></head><body>"
            "<div id='ivs_content'>　　某镇2023年工作总结<br/><br/>&emsp;&emsp;第一段。<br/>　　某镇2023年工作总结<br/>"
            "　　末段　有空格。<br/></div></body></html>")
    body = extract_article(html, "http://www.example.gov.cn/art/2024/1/2/art_1_2.html").body
    assert body.split("\n") == ["第一段。", "某镇2023年工作总结", "末段　有空格。"]


def test_statistics_table_row_by_row() -> None:
    lines = _article("songyang_zhaitan_info")["body"].split("\n")
    assert lines[1:6] == ["斋坛乡2023年主要指标完成情况", "指标名称\t单位\t目标值\t完成值",
                          "农村居民人均可支配收入\t元\t31500\t32186", "村级集体经济经营性收入\t万元\t260\t287.5",
                          "新增市场主体\t家\t40"]
    assert "项目\t2023年" in _article("beilun_dagi_twice_dl")["body"].split("\n")


def test_attachment_only_report_keeps_body_and_records_file() -> None:
    art = _article("ivs_shengzhou_sanjiang_attachment")
    assert art["body"].startswith("详见附件")
    assert [a["name"] for a in art["attachments"]] == ["城南新区（三江街道）2017年工作计划.doc"]


@pytest.mark.parametrize(
    ("name", "needles"),
    [
        ("trs_jiangshan_hecun", ("徐镕", "江郎山·廿八都", "2023—2025年")),
        ("trs_longyou_huzhen_nocharset", ("周堃", "余昇", "舍利塔·湖镇老街", "2025—2027年")),
        ("ivs_shengzhou_ganlin_br", ("钱喆", "越剧小镇·施家岙")),
        ("linhai_shangpan_inline", ("陈昇",)),
        ("xxgk_shangyu_zhangzhen", ("何堃",)),
    ],
)
def test_names_outside_gb2312_and_middle_dot(name: str, needles: tuple[str, ...]) -> None:
    body = _article(name)["body"]
    for needle in needles:
        assert needle in body
    assert "\ufffd" not in body and "\u30fb" not in body  # no replacement char, no gb2312-codec katakana dot


def test_trs_page_is_gbk_labelled_only_in_meta() -> None:
    raw = (FIXTURES / "trs_jiangshan_hecun.html").read_bytes()
    assert b"charset=gb2312" in raw and "镕".encode("gbk") in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("gb2312")


def test_title_from_heading_when_title_tag_is_glued() -> None:
    html = ("<html><head><title>某镇2023年工作总结-某县人民政府</title></head><body><div class='nav'><h2>导航</h2></div>"
            "<h2>某镇</h2><h2 class='tit'>某镇2023年工作总结</h2><div id='zoom'><p>正文。</p></div></body></html>")
    assert extract_article(html, "http://www.example.gov.cn/a.html").title == "某镇2023年工作总结"
    bare = "<html><head><meta name='SiteName' content='某县人民政府'><title>某镇2023年工作总结-某县人民政府</title></head></html>"
    assert extract_article(bare, "http://www.example.gov.cn/a.html").title == "某镇2023年工作总结"


def test_wrapper_with_info_line_and_short_body_is_not_a_metadata_block() -> None:
    """A small page wrapper shows 来源 and 发布时间 but also holds the body: only the info line is chrome."""
    art = _article("nometa_qiantang_baiyang")
    assert art["body"].startswith("2022年，白杨街道") and art["metadata"] == {"来源": "白杨街道",
                                                                         "发布时间": "2023-01-12 10:30"}


@pytest.mark.parametrize(
    ("url", "iso"),
    [
        ("http://www.longyou.gov.cn/zwgk/jhzj/202502/t20250219_4870321.html", "2025-02-19"),
        ("https://www.anji.gov.cn/hzgov/front/s587/zwgk/zfgzbg/20230224/i3513966.html", "2023-02-24"),
        ("http://www.ts.gov.cn/art/2024/1/24/art_1229659527_4218588.html", "2024-01-24"),
        ("http://www.example.gov.cn/col/col1229659527/index.html", None),
    ],
)
def test_publish_date_from_url_path(url: str, iso: str | None) -> None:
    html = "<html><body><div id='zoom'><p>正文。</p></div></body></html>"
    assert extract_article(html, url).published_date == iso


@pytest.mark.parametrize(
    ("text", "iso"),
    [("2024- 01- 24", "2024-01-24"), ("2025- 01- 09 16: 02", "2025-01-09"), ("2024年01月24日", "2024-01-24"),
     ("2017-03-28-00:00:00", "2017-03-28"), ("2025-01-09 16:02:30", "2025-01-09")],
)
def test_layout_date_shapes(text: str, iso: str) -> None:
    from gongkai.dates import parse_date

    assert parse_date(text) == iso
