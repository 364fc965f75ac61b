"""Article pages of a provincial intensive platform (one CMS for every county portal of a province): the
政府信息公开 page with its metadata list above the title, and the column page (规划信息, 计划总结) with only a
时间 line. Both put the text in <div class="article_content">, the container the body is read from: a short
body (详见附件 and a PDF) is too short for trafilatura to find. The pages below are ours, modelled on the
structure of the real pages proposed in docs/realpages-proposed (017, 018, 016): metadata list of <li>s with
&ensp;-padded labels, values in <font>, 无 for an empty 主题分类 or 发文字号, a 副标题 line under the title that
shows 无 (or the 文号), a 附件下载 block hidden by an avalon expression, QR and 关闭 widgets after the text.
"""

from __future__ import annotations

import pytest

from gongkai.ingest.extract import ATTACHMENT_ONLY, extract_article

URL = "https://www.example.gov.cn/zwgk/zfxxgk/bm/fdzdgknr/qtwj/202403/t20240311_4521.htm"
TITLE = "某某区农业农村局2023年工作总结和2024年工作计划"
P1 = "2023年，区农业农村局围绕乡村振兴目标，全年粮食播种面积稳定在3.2万亩，农村居民人均可支配收入增长7.1%。"
P2 = "下一步，将继续推进高标准农田建设1.5万亩，力争全年新增市场主体40家以上。"

HEADER = """<div class="header menu_hov"><ul class="clearflx"><li><a href="/">首页</a></li><li><a href="/zwgk/">政务公开</a></li>
<li><a href="/bsfw/">办事服务</a></li></ul><div class="search_top"><span>热门搜索：</span></div>
<div class="aged_link"><a href="javascript:void(0);">长者模式</a><a href="javascript:void(0);">无障碍浏览</a></div></div>"""
FOOTER = """<div class="footer"><p><span>网站标识码：1200000099</span>
<span><a href="https://beian.miit.gov.cn">某ICP备01234567号</a></span></p></div>"""
TAIL = """<div class="article_attachment" id="file_xmb" ms-if="''!=''||'{files}'!=''">
  <div class="title_base"><div class="title_icon_base"><text class="barrier-free-text">附件下载</text></div></div>
  <div class="list_base"><ul id="file_ul_fj">
    {items}
  </ul></div></div>
<div class="article_qrcode_area none_sm"><div class="article_qrcode"><p>扫一扫在手机上查看当前页面</p>
<div class="ewm-img" id="qrcode"></div></div></div>
<div class="article_btn_group none_sm"><button onclick="$close_window();" title="关闭">关闭</button></div>"""


def _xxgk_page(body: str, doc_no: str = "无", subtitle: str = "无", files: str = "") -> str:
    """The 政府信息公开 template: breadcrumb, metadata list, title, 副标题, 来源/时间 line, text, widgets."""
    items = (f'<li><a href="https://www.example.gov.cn/attachFiles/DATE_20240311/4521.pdf" title="{files}">{files}</a></li>'
             if files else "")
    return f"""<!DOCTYPE html><html ms-controller="windowRoot"><head><meta charset="UTF-8" />
<meta name="SiteName" content="某某区人民政府"/><meta name="ArticleTitle" content="{TITLE}"/>
<meta name="PubDate" content="2024-03-11 16:02"/>
<title>{TITLE}_其他文件_某某区人民政府</title></head><body><div class="warp">{HEADER}
<div class="main"><div class="breadcrumb"><span>当前位置：</span><ul><li><a href="../../">首页</a></li>
<li><a href="../">法定主动公开内容</a></li></ul></div>
<div class="index_box shadow_base pad_base"><ul class="trt-row">
  <li class="trt-col-12">
    索&ensp;引&ensp;号：
      <font>QX00201-0300-2024-00007</font>
  </li>
  <li class="trt-col-12">
    主题分类：
      <font>无</font>
  </li>
  <li class="trt-col-12">
    发文机关：
      <font>某某区农业农村局</font>
  </li>
  <li class="trt-col-12">成文日期：2024-03-08</li>
  <li class="trt-col-24">
    标&ensp;&ensp;&ensp;&ensp;题：
    <font>{TITLE}</font>
  </li>
  <li class="trt-col-12">
    发文字号：
      <font>{doc_no}</font>
  </li>
  <li class="trt-col-12">发布日期：2024-03-11</li>
  <li class="trt-col-12">
    有&ensp;效&ensp;性：
      <em class="red_base">有效</em>
  </li>
</ul></div>
<div class="article_component"><div class="article_title_group"><div class="article_title text_align_center">
  {TITLE}
</div></div>
<div class="article_title_sec mar_t_base"><font>{subtitle}</font></div>
<div class="article_extend"><span class="article_source">来源：某某区农业农村局</span>
<span class="article_time bf-pass">时间：2024-03-11 16:02</span></div>
<div class="word_con"><div class="article_area"><div class="article_content article_content_01 font_family_cn">
{body}
</div></div>
{TAIL.format(files=files, items=items)}
</div></div>
<div class="relnews"><div class="title_name">文字解读</div></div></div>{FOOTER}</div></body></html>"""


def _column_page(body: str) -> str:
    """The column template (规划信息 › 年度计划): breadcrumb, title, an empty 副标题, 时间 and a counter."""
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<meta name="ArticleTitle" content="{TITLE}"/><meta name="ContentSource" content="某某区人民政府"/>
<title>年度计划_某某区人民政府</title></head><body>{HEADER}
<div class="main"><div class="breadcrumb" role="navigation"><span>当前位置：</span><ul>
<li><a href="../../../">首页</a></li><li><a href="../../">规划信息</a></li><li><a href="../">年度计划</a></li></ul></div>
<div class="article_component"><div class="article_title_group"><div class="article_title text_align_center">
{TITLE}
</div><div class="article_title_sec">
</div></div>
<div class="article_extend"><span class="article_time">时间：2024-03-11 16:02</span>
<span class="article_views" ms-text="'浏览量：' + pvCount"></span></div>
<div class="article_area"><div class="article_content article_content_01 font_family_cn" ms-class="font{{{{detailFont}}}}">
<div class="detail_video" ms-include-src="videoBoxUrl"></div>
{body}
</div></div>
<div class="article_source">来源：某某区人民政府</div>
{TAIL.format(files="", items="")}
</div></div>{FOOTER}</body></html>"""


CHROME = ("当前位置", "索引号", "主题分类", "发文字号", "有效性", "时间：", "扫一扫", "关闭", "附件下载", "长者模式",
          "热门搜索", "网站标识码", "文字解读")


def _no_chrome(body: str) -> None:
    leaked = [c for c in CHROME if c in body]
    assert not leaked, leaked


def test_xxgk_list_page_reads_every_field_and_none_for_wu() -> None:
    """The list shows 无 for an empty 主题分类 and 发文字号: no value, not the string 无."""
    art = extract_article(_xxgk_page(f"<p>{P1}</p><p>{P2}</p>"), URL)
    assert (art.title, art.index_no, art.publisher) == (TITLE, "QX00201-0300-2024-00007", "某某区农业农村局")
    assert (art.written_date, art.published_date, art.source) == ("2024-03-08", "2024-03-11", "某某区农业农村局")
    assert art.doc_no is None and art.category is None
    assert art.body.split("\n") == [P1, P2] and art.problems == []


def test_subtitle_line_is_not_body() -> None:
    """The 副标题 line (无, or the 文号 it repeats) sits between the title and the info line: not the text."""
    art = extract_article(_xxgk_page(f"<p>{P1}</p>", doc_no="某农〔2024〕7号", subtitle="某农〔2024〕7号"), URL)
    assert art.doc_no == "某农〔2024〕7号" and art.body == P1
    assert "无" not in art.body.split("\n")


@pytest.mark.parametrize("page", [_xxgk_page, _column_page], ids=["xxgk_list", "column"])
def test_short_body_in_the_article_content_div_is_kept(page) -> None:
    """A two-line notice is too short for trafilatura to call it the article: the container is read."""
    art = extract_article(page("<p>根据工作安排，现将有关情况公布如下。</p><p>特此公告。</p>"), URL)
    assert art.body.split("\n") == ["根据工作安排，现将有关情况公布如下。", "特此公告。"]
    _no_chrome(art.body)


def test_attachment_only_report_keeps_its_pointer_and_file() -> None:
    """详见附件 and the PDF in the 附件下载 list: the body is the pointer, the report is attachment-only."""
    name = "某农〔2024〕7号_某某区农业农村局2024年工作计划.pdf"
    art = extract_article(_xxgk_page("\n  详见附件\n", doc_no="某农〔2024〕7号", subtitle="某农〔2024〕7号",
                                     files=name), URL)
    assert art.body == "详见附件" and [a.name for a in art.attachments] == [name]
    assert art.problems == [ATTACHMENT_ONLY] and art.doc_no == "某农〔2024〕7号"


def test_column_page_long_body_and_source_after_it() -> None:
    """The column page: 时间 line only, 来源 after the text, an empty 副标题 and a video include in the div."""
    art = extract_article(_column_page(f"<p>{P1}</p><p>{P2}</p>"), URL)
    assert art.title == TITLE and art.body.split("\n") == [P1, P2]
    assert art.published_date == "2024-03-11" and art.source == "某某区人民政府" and art.index_no is None
    _no_chrome(art.body)
