"""Extraction tests: every fixture page against its hand-written expected JSON, plus focused cases."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from gongkai.dates import parse_date
from gongkai.ingest.classify import is_challenge_page
from gongkai.ingest.decode import decode_html
from gongkai.ingest.extract import extract_article
from gongkai.ingest.metadata import parse_metadata_block

FIXTURES = Path(__file__).parent / "fixtures" / "jcms"
PAGES = sorted(p for p in FIXTURES.glob("*.html"))
ARTICLE_PAGES = [p for p in PAGES if "is_challenge_page" not in json.loads(p.with_suffix(".expected.json").read_text("utf-8"))]
CHALLENGE_PAGES = [p for p in PAGES if p not in ARTICLE_PAGES]
FIELDS = ("title", "body", "index_no", "publisher", "doc_no", "written_date", "published_date", "category",
          "attachments", "metadata")
CHROME_WORDS = ("访问次数", "浏览次数", "分享", "打印本页", "关闭", "索引号", "信息来源", "字号", "Produced By",
                "当前位置", "网站标识码")


def _load(page: Path) -> tuple[str, str, dict]:
    meta = json.loads(page.with_suffix(".meta.json").read_text("utf-8"))
    expected = json.loads(page.with_suffix(".expected.json").read_text("utf-8"))
    text = decode_html(page.read_bytes(), meta.get("content_type"))
    return text, meta["url"], expected


def _diff(expected: object, actual: object) -> str:
    exp = json.dumps(expected, ensure_ascii=False, indent=1).replace("\\n", "\n").splitlines()
    act = json.dumps(actual, ensure_ascii=False, indent=1).replace("\\n", "\n").splitlines()
    return "\n".join(difflib.unified_diff(exp, act, "expected", "actual", lineterm=""))


def test_fixture_set_is_complete() -> None:
    assert len(ARTICLE_PAGES) >= 6 and CHALLENGE_PAGES
    for page in PAGES:
        assert page.with_suffix(".meta.json").exists(), page
        assert page.with_suffix(".expected.json").exists(), page


@pytest.mark.parametrize("page", ARTICLE_PAGES, ids=lambda p: p.stem)
@pytest.mark.parametrize("field", FIELDS)
def test_fixture_field(page: Path, field: str) -> None:
    text, url, expected = _load(page)
    actual = extract_article(text, url).to_dict()
    assert actual[field] == expected[field], f"{page.name} {field}:\n" + _diff(expected[field], actual[field])


@pytest.mark.parametrize("page", ARTICLE_PAGES, ids=lambda p: p.stem)
def test_articles_are_not_challenges(page: Path) -> None:
    text, _url, _expected = _load(page)
    assert not is_challenge_page(text)


@pytest.mark.parametrize("page", CHALLENGE_PAGES, ids=lambda p: p.stem)
def test_challenge_fixtures(page: Path) -> None:
    text, url, expected = _load(page)
    assert is_challenge_page(text) is expected["is_challenge_page"]


@pytest.mark.parametrize("page", ARTICLE_PAGES, ids=lambda p: p.stem)
def test_no_chrome_in_body(page: Path) -> None:
    text, url, _expected = _load(page)
    body = extract_article(text, url).body
    for word in CHROME_WORDS:
        assert word not in body, (page.name, word)
    for line in body.split("\n"):
        assert line and line == line.strip(), repr(line)


@pytest.mark.parametrize("page", ARTICLE_PAGES, ids=lambda p: p.stem)
def test_title_is_not_html_title(page: Path) -> None:
    text, url, _expected = _load(page)
    title = extract_article(text, url).title
    assert " - " not in title and "人民政府" not in title.split("镇")[-1]


def test_word_span_characters_survive() -> None:
    """Seed 001 lost 月/年/% that sat in their own <span>s; ours must keep them."""
    text, url, _expected = _load(FIXTURES / "001_qujiang_dazhou.html")
    body = extract_article(text, url).body
    for needle in ("于9月26日全面进场", "2025年3月份整体交付", "签约率达99.27%", "龙之梦·六春湖"):
        assert needle in body
    assert "于926日" not in body and "20253月份" not in body


def test_inline_spans_concatenate_and_nbsp_is_kept() -> None:
    html = (
        "<html><body><div id='zoom'><p>于<span>9</span><span>月</span><span>26</span>日，"
        "<span>99.27</span><span>%</span></p><p>共解决疑难纠纷&nbsp;&nbsp;起 a \n\t b</p>"
        "<p>\u3000\u3000缩进<br>换行</p><table><tr><td>指标</td><td></td><td>数值</td></tr></table></div></body></html>"
    )
    body = extract_article(html, "http://example.gov.cn/art/2024/1/2/art_1_2.html").body
    assert body.split("\n") == ["于9月26日，99.27%", "共解决疑难纠纷  起 a b", "缩进", "换行", "指标\t数值"]


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2024-08-05", "2024-08-05"),
        ("2024-08-05 10:23", "2024-08-05"),
        ("2023-12-20 14:19:21", "2023-12-20"),
        ("2017-03-28-00:00:00", "2017-03-28"),
        ("2024年1月24日", "2024-01-24"),
        ("2024年01月24日", "2024-01-24"),
        ("2024- 01- 24 14 : 53", "2024-01-24"),
        ("2025- 02- 19 11: 35", "2025-02-19"),
        ("[2024-08-05]", "2024-08-05"),
        ("2024/8/5", "2024-08-05"),
        ("2024.08.05", "2024-08-05"),
        ("发布日期：2024-05-23 09:21", "2024-05-23"),
        ("", None),
        ("无", None),
        ("abc", None),
        ("2024-13-05", None),
        ("2023-02-30", None),
        ("12024-08-05", None),
    ],
)
def test_parse_date(text: str, iso: str | None) -> None:
    assert parse_date(text) == iso


def test_metadata_layouts_inline_and_dl() -> None:
    import lxml.html

    root = lxml.html.document_fromstring(
        "<html><body><div>索引号: LH331082-080/2024-131280 公开方式: 主动公开</div>"
        "<dl><dt>文&emsp;&emsp;号：</dt><dd>无</dd><dt>发布单位</dt><dd>上盘镇</dd></dl>"
        "<p>发布时间 2023-12-20 14:19:21 点击数 12</p></body></html>"
    )
    assert parse_metadata_block(root) == {
        "索引号": "LH331082-080/2024-131280",
        "公开方式": "主动公开",
        "文号": "无",
        "发布单位": "上盘镇",
        "发布时间": "2023-12-20 14:19:21",
    }


def test_empty_or_none_fields_and_url_date_fallback() -> None:
    html = "<html><body><table><tr><td>文号：</td><td>无</td></tr></table><div id='zoom'><p>正文</p></div></body></html>"
    art = extract_article(html, "http://www.example.gov.cn/art/2021/3/9/art_1229_1.html")
    assert art.doc_no is None and art.metadata["文号"] == "无"
    assert art.published_date == "2021-03-09"


@pytest.mark.parametrize(
    "html",
    [
        "<html><head><script>$_ts=window['$_ts'];if(!$_ts)$_ts=window['$_ts']={};$_ts.nsd=84521;</script>"
        "<script src='/4QbVtADbnLVIc/c.FxJzG50F.dfe1675.js' r='m'></script></head><body></body></html>",
        "<html><body><script>document.cookie=('__jsl_clearance_s=')+('1700000000.1|0|abc');"
        "location.href=location.pathname+location.search</script></body></html>",
        "<html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>",
        "<html><body><div id='safeline_bot_challenge'>请稍候…</div></body></html>",
        "<html><body><h3>访问过于频繁，请输入验证码</h3><img src='/captcha.jpg'><input name='code'></body></html>",
    ],
)
def test_challenge_shells(html: str) -> None:
    assert is_challenge_page(html)


def test_article_mentioning_captcha_is_not_a_challenge() -> None:
    paragraphs = "".join(f"<p>第{i}项：群众可通过手机短信验证码登录浙里办办理社保事项，全年累计办件一千余件。</p>" for i in range(8))
    html = (
        "<html><head><meta name='ArticleTitle' content='某镇2024年工作总结'></head><body>"
        f"<div id='zoom'>{paragraphs}</div></body></html>"
    )
    assert not is_challenge_page(html)
    assert not is_challenge_page(html.replace("<meta name='ArticleTitle' content='某镇2024年工作总结'>", ""))
