"""Issue 20's extraction rules, one focused test each (the real pages and the replica layouts test them whole).

Each rule is about page structure or text, never a host: the page snippets below are the shapes the
templates named in each docstring share.
"""

from __future__ import annotations

import lxml.html
import pytest

from gongkai.ingest.extract import extract_article
from gongkai.ingest.metadata import parse_metadata_block

URL = "http://www.example.gov.cn/zwgk/a.html"
P1 = "2024年，某某镇坚持以习近平新时代中国特色社会主义思想为指导，全年实现财政总收入4225.26万元，同比增长8.5%。"
P2 = "二是民生保障持续改善。全年发放各类救助资金126.5万元，新增城镇就业岗位320个。"


def _meta(html: str) -> dict[str, str]:
    return parse_metadata_block(lxml.html.document_fromstring(html))


def test_bare_fenlei_label_is_the_category_but_not_inside_a_word() -> None:
    """gkmlpt (分类：综合政务、计划总结) and 吉林 xxgk (分&nbsp;&nbsp;类：)."""
    html = ("<html><body><table><tr><td>索引号：</td><td>006939748/2024-00345</td><td>分&nbsp;&nbsp;类：</td>"
            "<td>综合政务、计划总结</td></tr></table><h1>某某镇2023年工作总结</h1><div id='zoom'><p>" + P1
            + "</p><p>垃圾分类：全镇覆盖率达98%</p></div></body></html>")
    art = extract_article(html, URL)
    assert art.category == "综合政务、计划总结" and art.body.endswith("垃圾分类：全镇覆盖率达98%")


def test_an_empty_label_never_takes_the_next_label_as_its_value() -> None:
    """wanzai (来源：<b></b> 访问量：199) and nfra (主题分类：<span></span> 办文部门：<span></span>)."""
    assert _meta("<html><body><div><span>来源：<b></b></span><span>访问量：<b>199</b></span>"
                 "<span>发布日期：2017-05-15</span></div></body></html>") == {"来源": "", "发布日期": "2017-05-15"}
    assert _meta("<html><body><div><span>主题分类：<span></span></span><span>办文部门：<span></span></span>"
                 "<span>文号：<span></span></span></div></body></html>") == {"主题分类": "", "文号": ""}


def test_source_value_ends_at_the_editor() -> None:
    """bynr (来源：巴彦淖尔日报 &ensp;编辑：苏亮) and the 编辑/责任编辑 of the jcms info lines."""
    assert _meta("<html><body><ul><li>来源：巴彦淖尔日报 &ensp;&ensp;编辑：苏亮</li></ul></body></html>")["来源"] == "巴彦淖尔日报"


@pytest.mark.parametrize("hidden", ["class='ng-hide'", "class='row hidden'", "class='d-none'", "hidden"])
def test_framework_hidden_copies_are_not_read(hidden: str) -> None:
    """nfra's ng-hide red-header block with empty labels; Bootstrap hidden/d-none print copies."""
    html = (f"<html><body><div {hidden}><span>文号：</span><span>某政发〔2024〕1号</span><p>{P2}</p></div>"
            f"<h1>某某镇2023年工作总结</h1><div id='zoom'><p>{P1}</p></div></body></html>")
    art = extract_article(html, URL)
    assert art.doc_no is None and art.body == P1


def test_a_disclaimer_block_is_chrome_whatever_it_says() -> None:
    """振兴东北网版权与免责声明：<br>① … (a <p>) and nfra's 版权与免责声明 div of numbered clauses."""
    for notice in ("<p><b>本网版权与免责声明：</b><br>① 凡本网注明“来源：本网”的所有作品，版权均属于本网。<br>"
                   "② 凡本网注明“来源：XXX”的作品，均转载自其它媒体。</p>",
                   "<div><div>版权与免责声明</div><div>1.凡本站注明“文章类型：原创”的所有作品，其版权属于本站。</div></div>"):
        html = f"<html><body><h1>某某镇2023年工作总结</h1><div class='text'><p>{P1}</p><p>{P2}</p></div>{notice}</body></html>"
        body = extract_article(html, URL).body
        assert P1 in body and "声明" not in body and "凡本" not in body


def test_a_page_laid_out_in_tables_is_read_cell_by_cell() -> None:
    """2005-era table layouts (振兴东北网): the article's cell and a sidebar cell in one row of the page table."""
    side = "".join(f"<tr><td>·</td><td><a href='/n/{i}.htm'>东北地区第{i}条新闻标题</a></td></tr>" for i in range(8))
    html = ("<html><head><title>某某镇2023年工作总结_某某网</title></head><body><table><tr><td><table>"
            "<tr><td><div id='Title'>某某镇2023年工作总结</div></td></tr>"
            f"<tr><td class='zw'><p>{P1}</p><p>{P2}</p></td></tr></table></td>"
            f"<td><table>{side}</table></td></tr></table></body></html>")
    art = extract_article(html, URL)
    assert art.title == "某某镇2023年工作总结" and art.body.split("\n") == [P1, P2]


@pytest.mark.parametrize(("head", "shown", "title"), [
    ("<title>磐安县人民政府</title>", "<div class='banner'><h1>磐安县人民政府</h1></div><h2 class='art-tit'>{t}</h2>", "{t}"),
    ("<title>庆元县人民政府门户网站</title>", "<div class='newstitle'><font><b>{t}</b></font></div>", "{t}"),
    ("<meta name='ArticleTitle' content='{t}&lt;div&gt;——副标题&lt;/div&gt;'>", "<p>{t}</p>", "{t}——副标题"),
    ("<meta name='ArticleTitle' content='{t}(某政发〔2024〕1号)'>", "<div class='wenzhang-title'>{t}</div>", "{t}"),
    ("<title>{t}_某某网</title>", "<div id='Title'>{t}</div>", "{t}"),
])
def test_title_is_never_the_site_name_and_is_what_the_page_shows(head: str, shown: str, title: str) -> None:
    """磐安/缙云 (site name as <title> and banner), 庆元 (<title> only), bynr (markup in the meta), nfra (the meta
    adds the 文号), 振兴东北 (<title> glued with _)."""
    t = "某某镇2023年工作总结和2024年工作计划"
    html = (f"<html><head>{head.format(t=t)}</head><body>{shown.format(t=t)}<div id='zoom'><p>{P1}</p></div>"
            "</body></html>")
    assert extract_article(html, URL).title == title.format(t=t)


def test_file_and_source_lines_leave_the_body() -> None:
    """TRS content divs: 附件：1.<a>…</a> / 2.<a>…</a>, a bare 附件: then file lines, (来源:镇), 来源：…."""
    html = ("<html><head><meta name='ArticleTitle' content='某某镇2023年工作总结'></head><body>"
            "<div class='TRS_Editor'><p>来源：某某镇党政办</p><p>某某镇2023年工作总结</p>"
            f"<p>{P1}</p><p>{P2}</p><p>附件：1.<a href='./P1.doc'>某某镇2023年工作总结.doc</a></p>"
            "<p>　　2.<a href='./P2.xls'>重点工作完成情况表.xls</a></p><p>附件:</p><p><a href='./P3.pdf'>项目清单.pdf</a></p>"
            "<p>(来源:某某镇)</p><p><a href='/x.pdf'>pdf下载</a>  <a href='/x.doc'>word下载</a></p></div></body></html>")
    art = extract_article(html, URL)
    assert art.body.split("\n") == [P1, P2] and art.source == "某某镇党政办"
    assert [a.name for a in art.attachments] == ["某某镇2023年工作总结.doc", "重点工作完成情况表.xls", "项目清单.pdf",
                                                 "pdf下载", "word下载"]


@pytest.mark.parametrize("info", ["<li>某某市政府门户网站 www.example.gov.cn</li><li>2022-02-11 09:52</li>",
                                  "<td>www.example.gov.cn</td><td>2022年02月11日　来源：某某日报</td>"])
def test_the_info_line_date_is_the_publish_date(info: str) -> None:
    """bynr (site name, then the date and time) and 振兴东北 (date before 来源); a body's dateline is not one."""
    html = (f"<html><body><p class='tit'>某某镇2023年工作总结</p><table><tr>{info}</tr></table>"
            f"<div class='text'><p>某某市统计局</p><p>2022年1月30日</p><p>{P1}</p><p>{P2}</p></div></body></html>")
    assert extract_article(html, URL).published_date == "2022-02-11"


def test_pubdate_meta_is_no_publish_date_beside_a_shown_document_date() -> None:
    """wanzai and yichun (ucap): only 生成日期/发文日期 is shown; the PubDate meta is the upload time."""
    page = ("<html><head><meta name='PubDate' content='2023-05-16 10:00'></head><body>{meta}"
            f"<h1>某某镇2023年工作总结</h1><div id='zoom'><p>{P1}</p></div></body></html>")
    shown = extract_article(page.format(meta="<dl><dt>索引号：</dt><dd>014717475N/2023-0040295</dd>"
                                             "<dt>发文日期：</dt><dd>2023-04-18</dd></dl>"), URL)
    assert (shown.written_date, shown.published_date) == ("2023-04-18", None)
    assert extract_article(page.format(meta=""), URL).published_date == "2023-05-16"


@pytest.mark.parametrize("tail", [
    # gov.cn 国务院公报 (tests/fixtures/realpages/015): the header include's own </html>, then the article.
    "</html>\n<!--end header-->\n<div class='content'><div id='UCAP-CONTENT'><p>{p1}</p><p>{p2}</p></div></div>",
    # cmse.gov.cn (tests/fixtures/realpages/013, 014): a share widget's </body> before more of the page, which
    # libxml2 then hangs beside <body> (../shared/realpages/003 has its styles and scripts there).
    "</body>\n<div class='article'><p>{p1}</p><p>{p2}</p></div></html>",
])
def test_what_follows_an_early_html_close_is_still_the_body(tail: str) -> None:
    """A header include that ends the document (</html>) leaves the article outside <body> for libxml2, in
    a second top-level <html> or beside <body>; a browser shows it as the page's body."""
    html = ("<html><head><title>某某镇2023年工作总结_某某县人民政府</title></head><body>"
            "<div class='header'><a href='/'>首页</a></div>" + tail.format(p1=P1, p2=P2))
    art = extract_article(html, URL)
    assert P1 in art.body and P2 in art.body and "首页" not in art.body


def test_loose_text_after_an_early_html_close_is_kept_in_order() -> None:
    """Text with no element of its own after the early </html> is shown too: no character is lost."""
    from gongkai.ingest.html import parse_html, visible_text

    root = parse_html("<html><body><p>一、主要成效</p></body></html>" + P1 + "<p>" + P2 + "</p>")
    assert visible_text(root).replace("\n", "").endswith("一、主要成效" + P1 + P2)
