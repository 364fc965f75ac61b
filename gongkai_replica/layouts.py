"""Article layouts beyond the five jcms seeds (issue 20), each page rendered with its ground truth.

Every layout reproduces a class of page the extractor met in the wild, with the ugly parts real pages have
(Word-pasted spans, &nbsp; runs, hidden copies, GBK bytes). A layout is rendered from a ReplicaArticle and
returns the page and the ArticleFields the extractor must read from it: both come from the same data, so
they cannot drift apart.

Tuned layouts reproduce the issue's problems (the extractor was changed against them):
- `site_heading`: <title> is the site name alone and the biggest heading (an <h1> banner) is the site name
  too; the article title is a title-classed heading next to the body, repeated as the body's first line; a
  print header hidden by Bootstrap's `hidden` class repeats site, title and a publisher.
- `trs_tail`: TRS page whose content div holds the title again, a 附件：1. … link list and a (来源:镇) line;
  its title meta adds the 文号 that the shown title leaves out.
- `gkmlpt`: Guangdong gkmlpt page: 索引号 / 分类 / 发布机构 / 成文日期 / 名称 / 文号 / 发布日期 table above the
  title, the category under a bare 分类 label.
Held-out layouts (written with the others, never used to tune a rule; scored apart by the benchmark):
- `xxgk_below`: two-column 信息公开 table (labels in <th>, no colons) BELOW the body, a hidden mobile copy.
- `site_title_only`: old hand-made portal, <title> only the site name, no meta, <font> title, 点击数 line,
  a display:none print copy of the body.
- `trs_inline`: GBK TRS page, 来源 line at the top of the content div, 附件: label on a line of its own
  with the files below it, &nbsp; runs, a hidden 读屏 copy.
- `gkmlpt_rows`: gkmlpt-style metadata as div/span rows with spaced labels (分　　类), above the title.
"""

from __future__ import annotations

import html
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urljoin

from gongkai.models import ArticleFields, Attachment
from gongkai_replica.articles import word_paragraph
from gongkai_replica.sites import ReplicaArticle
from gongkai_replica.text import make_paragraphs

_S = html.escape


@dataclass(frozen=True)
class Portal:
    """The site a layout page belongs to: names shown in its chrome."""

    site_name: str  # as the site calls itself (<title>, banner)
    region: str
    domain: str
    site_code: str


@dataclass(frozen=True)
class LayoutPage:
    """One rendered page: its layout, whether the extractor was tuned on it, the bytes, and the truth."""

    layout: str
    held_out: bool
    html: str
    url: str
    expected: ArticleFields
    charset: str = "utf-8"

    @property
    def raw(self) -> bytes:
        """The bytes a server would send (GBK pages carry characters outside GBK as references)."""
        return self.html.encode(self.charset, "xmlcharrefreplace")


@dataclass(frozen=True)
class _File:
    name: str
    href: str


def _signature(a: ReplicaArticle) -> list[str]:
    d = a.written_date or a.pub_date.date()
    return [f"{a.town}人民政府", f"{d.year}年{d.month}月{d.day}日"]


def _signature_html(a: ReplicaArticle) -> str:
    return "\n".join(f'<p style="text-align:right;"><span style="font-family:仿宋_GB2312">{_S(line)}</span></p>'
                     for line in _signature(a))


def _paragraphs_html(a: ReplicaArticle, ugly: bool) -> str:
    """Word-pasted paragraphs; `ugly` adds empty &nbsp; paragraphs and a stray <o:p> between them."""
    out = []
    for i, p in enumerate(a.paragraphs):
        out.append(word_paragraph(p, i))
        if ugly and i % 3 == 1:
            out.append('<p class="MsoNormal"><span style="font-size:16pt">&nbsp;&nbsp;&nbsp;&nbsp;</span><o:p></o:p></p>')
    return "\n".join(out)


def _body(a: ReplicaArticle) -> str:
    return "\n".join([*(p.strip() for p in a.paragraphs), *_signature(a)])


def _info_date(d: datetime) -> str:
    return d.strftime("%Y-%m-%d %H:%M")


def _fields(a: ReplicaArticle, url: str, files: list[_File], metadata: dict[str, str], **kw: object) -> ArticleFields:
    return ArticleFields(title=a.title, body=_body(a), attachments=[Attachment(f.name, urljoin(url, f.href)) for f in files],
                         metadata=metadata, **kw)  # type: ignore[arg-type]


def _head(title: str, charset: str = "utf-8", extra: str = "") -> str:
    return (f'<!DOCTYPE html>\n<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html; charset={charset}" />\n'
            f"<title>{_S(title)}</title>\n{extra}<link rel=\"stylesheet\" href=\"/css/style.css\" />\n</head>\n")


def _nav(portal: Portal) -> str:
    return ('<div class="nav"><ul><li><a href="/">首页</a></li><li><a href="/zwdt/">政务动态</a></li>'
            '<li><a href="/zwgk/">政务公开</a></li><li><a href="/zwfw/">政务服务</a></li>'
            f'<li><a href="/hdjl/">互动交流</a></li><li><a href="/zjxq/">走进{_S(portal.region)}</a></li></ul></div>')


def _footer(portal: Portal) -> str:
    return (f'<div class="footer"><p>主办：{_S(portal.region)}人民政府办公室　承办：{_S(portal.region)}大数据中心</p>'
            f'<p>网站标识码：{_S(portal.site_code)}　浙ICP备05012345号　浙公网安备 33112702000123号</p></div>')


# --- tuned ---------------------------------------------------------------------------------------------------


def site_heading(a: ReplicaArticle, portal: Portal, url: str) -> tuple[str, ArticleFields]:
    """<title> and the banner <h1> are the site name; the title is <h2 class="art-tit"> over the body."""
    info = _info_date(a.pub_date)
    page = f"""{_head(portal.site_name)}<body>
<div class="banner"><h1><a href="/">{_S(portal.site_name)}</a></h1><p class="slogan">{_S(portal.region)}欢迎您</p></div>
{_nav(portal)}
<div class="main">
<div class="crumb">当前位置：<a href="/">首页</a> &gt; <a href="/zwgk/">政务公开</a> &gt; <a href="#">计划总结</a></div>
<div class="side"><h3>热点信息</h3><ul><li><a href="/a/1.html">{_S(portal.region)}召开2024年全县经济工作会议暨优化营商环境大会</a></li></ul></div>
<div class="article">
<div class="print-head hidden"><h1>{_S(portal.site_name)}</h1><p>{_S(a.title)}</p><p>发布机构：{_S(portal.region)}人民政府办公室</p></div>
<h2 class="art-tit">{_S(a.title)}</h2>
<div class="art-info"><span>发布时间：{info}</span>&nbsp;&nbsp;<span>来源：{_S(a.town)}</span>&nbsp;&nbsp;<span>浏览次数：<em id="hits"></em></span></div>
<div class="art-con" id="zoom">
<p style="text-align:center"><strong><span style="font-size:22pt">{_S(a.title)}</span></strong></p>
<p>&nbsp;</p>
{_paragraphs_html(a, ugly=False)}
{_signature_html(a)}
</div>
<div class="art-tool">【<a href="javascript:window.print()">打印本页</a>】【<a href="javascript:window.close()">关闭窗口</a>】</div>
</div></div>
{_footer(portal)}
</body></html>"""
    metadata = {"发布时间": info, "来源": a.town}
    return page, _fields(a, url, [], metadata, published_date=a.pub_date.strftime("%Y-%m-%d"), source=a.town,
                         problems=["no metadata block"])


def trs_tail(a: ReplicaArticle, portal: Portal, url: str) -> tuple[str, ArticleFields]:
    """TRS: the content div repeats the title, lists 附件：1. … links and ends with (来源:镇)."""
    stamp = a.pub_date.strftime("%Y%m%d")
    files = [_File(f"{a.title}.doc", f"./P0{stamp}3{a.article_id % 10**9:09d}1.doc"),
             _File(f"{a.town}{a.pub_date.year - 1}年重点工作完成情况表.xls", f"./P0{stamp}3{a.article_id % 10**9:09d}2.xls")]
    info = _info_date(a.pub_date)
    # The title meta carries the 文号 that the page's heading leaves out.
    meta_title = f"{a.title}（{a.doc_no}）" if a.doc_no else a.title
    extra = (f'<meta name="ArticleTitle" content="{_S(meta_title)}">\n<meta name="PubDate" content="{info}">\n'
             f'<meta name="SiteName" content="{_S(portal.site_name)}">\n')
    page = f"""{_head(f"{a.title}_{portal.site_name}", extra=extra)}<body>
<div class="top"><img src="/images/logo.png" alt="{_S(portal.site_name)}" /></div>
{_nav(portal)}
<div class="main">
<div class="position">您现在的位置：<a href="../../../">首页</a> &gt; <a href="../../">政务公开</a> &gt; <a href="../">计划总结</a></div>
<div class="con_title"><h2>{_S(a.title)}</h2></div>
<div class="con_xx">发布时间：<span>{info}</span>&nbsp;&nbsp;&nbsp;&nbsp;访问次数：<span id="fwcs"></span>
【字号：<a href="javascript:doZoom(18)">大</a> <a href="javascript:doZoom(16)">中</a> <a href="javascript:doZoom(14)">小</a>】</div>
<div class="TRS_Editor"><div class="Custom_UnionStyle">
<p align="center"><b><span style="font-size:18pt;font-family:方正小标宋简体">{_S(a.title)}</span></b></p>
{_paragraphs_html(a, ugly=False)}
{_signature_html(a)}
<p><span style="font-family:仿宋_GB2312">附件：1.<a href="{files[0].href}" OLDSRC="/protect/{files[0].href[2:]}">{_S(files[0].name)}</a></span></p>
<p><span style="font-family:仿宋_GB2312">　　　2.<a href="{files[1].href}">{_S(files[1].name)}</a></span></p>
<p>(来源:{_S(a.town)})</p>
</div></div>
<div class="con_bottom">【<a href="javascript:window.print()">打印本页</a>】 【<a href="javascript:window.close()">关闭窗口</a>】</div>
</div>
{_footer(portal)}
</body></html>"""
    metadata = {"发布时间": info}
    return page, _fields(a, url, files, metadata, published_date=a.pub_date.strftime("%Y-%m-%d"), source=a.town,
                         problems=["no metadata block"])


def _gkmlpt_pairs(a: ReplicaArticle, category: str) -> list[tuple[str, str]]:
    written = a.written_date or a.pub_date.date()
    return [("索引号", a.index_no), ("分类", category), ("发布机构", f"{a.town}人民政府"),
            ("成文日期", written.strftime("%Y-%m-%d")), ("名称", a.title), ("文号", a.doc_no),
            ("发布日期", a.pub_date.strftime("%Y-%m-%d"))]


def _gkmlpt_fields(a: ReplicaArticle, url: str, pairs: list[tuple[str, str]], files: list[_File]) -> ArticleFields:
    shown = {k: v for k, v in pairs if k != "名称"}
    return _fields(a, url, files, shown, index_no=shown["索引号"], category=shown["分类"], publisher=shown["发布机构"],
                   written_date=shown["成文日期"], doc_no=shown["文号"] or None, published_date=shown["发布日期"])


def gkmlpt(a: ReplicaArticle, portal: Portal, url: str) -> tuple[str, ArticleFields]:
    """Guangdong gkmlpt: the 索引号 / 分类 table above <h1 class="title">, body in .article-content."""
    pairs = _gkmlpt_pairs(a, "综合政务、计划总结")

    def cells(i: int, j: int) -> str:
        return "".join(f'<td class="first">{_S(k)}：</td><td class="second">{_S(v)}</td>' for k, v in pairs[i:j])

    name = pairs[4]
    table = (f"<tr>{cells(0, 2)}</tr><tr>{cells(2, 4)}</tr>"
             f'<tr><td class="first">{name[0]}：</td><td class="second" colspan="3">{_S(name[1])}</td></tr>'
             f"<tr>{cells(5, 7)}</tr>")
    page = f"""{_head(f"{a.title} - {portal.site_name}", extra='<meta name="viewport" content="width=device-width">')}<body>
<div class="header"><div class="logo">{_S(portal.site_name)}</div>{_nav(portal)}</div>
<div class="main">
<div class="crumbs">当前位置：<a href="/">首页</a> &gt; <a href="/gkmlpt/index">政府信息公开</a> &gt; <span>计划总结</span></div>
<div class="classify"><table>{table}</table></div>
<div class="content">
<h1 class="title">{_S(a.title)}</h1>
<div class="article-content">
{_paragraphs_html(a, ugly=False)}
{_signature_html(a)}
</div>
<div class="fx">分享：<a href="#" class="wx">微信</a><a href="#" class="wb">微博</a>　【<a href="javascript:window.print()">打印</a>】</div>
</div></div>
{_footer(portal)}
</body></html>"""
    return page, _gkmlpt_fields(a, url, pairs, [])


# --- held out ------------------------------------------------------------------------------------------------


def xxgk_below(a: ReplicaArticle, portal: Portal, url: str) -> tuple[str, ArticleFields]:
    """信息公开 page with the two-column <th>/<td> table after the body, and a hidden mobile copy."""
    written = a.written_date or a.pub_date.date()
    rows = [("索引号", a.index_no, "主题分类", "综合政务"), ("发文机关", f"{a.town}人民政府", "成文日期", f"{written:%Y-%m-%d}"),
            ("发文字号", a.doc_no, "发布日期", f"{a.pub_date:%Y-%m-%d}")]
    table = "".join(f"<tr><th>{k1}</th><td>{_S(v1)}</td><th>{k2}</th><td>{_S(v2)}</td></tr>" for k1, v1, k2, v2 in rows)
    page = f"""{_head(f"{a.title}-{portal.site_name}")}<body>
<div class="head">{_nav(portal)}</div>
<div class="xxgk-detail">
<div class="place">您所在的位置：<a href="/">首页</a> &gt;&gt; <a href="/xxgk/">信息公开</a> &gt;&gt; 计划总结</div>
<h1 class="detail-h">{_S(a.title)}</h1>
<div class="zw" id="zoom">
{_paragraphs_html(a, ugly=True)}
{_signature_html(a)}
</div>
<div class="m-copy" style="display:none">{_S(a.title)}<br/>{"<br/>".join(_S(p) for p in a.paragraphs)}</div>
<table class="xxgk-info" cellspacing="0">{table}</table>
<div class="tools"><a href="javascript:window.print()">打印</a> <a href="javascript:window.close()">关闭</a></div>
</div>
{_footer(portal)}
</body></html>"""
    metadata = {k: v for r in rows for k, v in ((r[0], r[1]), (r[2], r[3]))}
    return page, _fields(a, url, [], metadata, index_no=a.index_no, category="综合政务", publisher=f"{a.town}人民政府",
                         written_date=f"{written:%Y-%m-%d}", doc_no=a.doc_no or None,
                         published_date=f"{a.pub_date:%Y-%m-%d}")


def site_title_only(a: ReplicaArticle, portal: Portal, url: str) -> tuple[str, ArticleFields]:
    """Hand-made portal: <title> is the site name, no metas, the title a <font> in div.newstitle."""
    info = a.pub_date.strftime("%Y-%m-%d")
    page = f"""{_head(portal.site_name, charset="utf-8")}<body>
<table width="1000" align="center"><tr><td class="logo"><img src="/images/logo.gif" alt="{_S(portal.site_name)}" /></td></tr></table>
{_nav(portal)}
<table width="1000" align="center"><tr><td>
<div class="newstitle"><font size="5" color="#c00000"><b>{_S(a.title)}</b></font></div>
<div class="newsinfo">来源：{_S(a.town)}&nbsp;&nbsp;&nbsp;&nbsp;发布时间：{info}&nbsp;&nbsp;&nbsp;&nbsp;点击数：<span id="clicks">37</span></div>
<div class="newscontent">
{_paragraphs_html(a, ugly=True)}
{_signature_html(a)}
</div>
<div class="printcopy" style="display:none"><h3>{_S(a.title)}</h3>{"".join(f"<p>{_S(p)}</p>" for p in a.paragraphs)}</div>
<div align="center">【<a href="#" onclick="window.print()">打印此页</a>】【<a href="#" onclick="window.close()">关闭此页</a>】</div>
</td></tr></table>
{_footer(portal)}
</body></html>"""
    metadata = {"来源": a.town, "发布时间": info}
    return page, _fields(a, url, [], metadata, published_date=info, source=a.town, problems=["no metadata block"])


def trs_inline(a: ReplicaArticle, portal: Portal, url: str) -> tuple[str, ArticleFields]:
    """GBK TRS page: 来源 line first in the content div, 附件: alone then the file lines, a hidden 读屏 copy."""
    stamp = a.pub_date.strftime("%Y%m%d")
    files = [_File(f"{a.title}.pdf", f"./W0{stamp}{a.article_id % 10**6:06d}1.pdf"),
             _File(f"{a.town}{a.pub_date.year - 1}年项目清单.xlsx", f"./W0{stamp}{a.article_id % 10**6:06d}2.xlsx")]
    info = a.pub_date.strftime("%Y-%m-%d %H:%M:%S")
    source = f"{a.town}党政综合办公室"
    extra = f'<meta name="ArticleTitle" content="{_S(a.title)}">\n<meta name="PubDate" content="{_info_date(a.pub_date)}">\n'
    page = f"""{_head(f"{a.title} - 计划总结 - {portal.site_name}", charset="gb2312", extra=extra)}<body>
<div class="head"><img src="/images/logo.png" alt="{_S(portal.site_name)}" />{_nav(portal)}</div>
<div class="main">
<div class="dqwz">当前位置：<a href="../../../">首页</a> &gt; <a href="../../">政府信息公开</a> &gt; <a href="../">计划总结</a></div>
<div class="detail">
<div class="title">{_S(a.title)}</div>
<div class="fbxx">发布时间：{info}&nbsp;&nbsp;&nbsp;&nbsp;【字体：<a href="#">大</a> <a href="#">中</a> <a href="#">小</a>】</div>
<div class="view TRS_UEDITOR trs_paper_default trs_web">
<p style="text-align:right"><span style="font-size:12pt">来源：{_S(source)}</span></p>
{_paragraphs_html(a, ugly=True)}
{_signature_html(a)}
<p><span style="font-family:黑体">附件:</span></p>
<p>&nbsp;&nbsp;&nbsp;&nbsp;<a href="{files[0].href}">{_S(files[0].name)}</a></p>
<p>&nbsp;&nbsp;&nbsp;&nbsp;<a href="{files[1].href}">{_S(files[1].name)}</a></p>
</div>
</div>
<div id="slb_content" style="display: none;"><h1>{_S(a.title)}</h1>{"".join(f"<p>{_S(p)}</p>" for p in a.paragraphs)}</div>
</div>
{_footer(portal)}
</body></html>"""
    metadata = {"发布时间": info}
    return page, _fields(a, url, files, metadata, published_date=f"{a.pub_date:%Y-%m-%d}", source=source,
                         problems=["no metadata block"])


def gkmlpt_rows(a: ReplicaArticle, portal: Portal, url: str) -> tuple[str, ArticleFields]:
    """gkmlpt-style div/span rows with spaced labels (索 引 号, 分　　类) above the title."""
    pairs = _gkmlpt_pairs(a, "计划总结")
    shown = {"索引号": "索 引 号", "分类": "分　　类", "文号": "文　　号", "名称": "名　　称"}
    rows = "".join(f'<div class="row"><span class="label">{shown.get(k, k)}：</span><span class="val">{_S(v)}</span></div>'
                   for k, v in pairs)
    files = [_File(f"{a.title}.docx", f"/attachment/0/{a.article_id}/{a.article_id % 997}.docx")]
    page = f"""{_head(f"{a.title}_{portal.site_name}")}<body>
<div class="header">{_nav(portal)}</div>
<div class="content-box">
<div class="introduce">{rows}</div>
<div class="article">
<h1 class="article-title">{_S(a.title)}</h1>
<div class="article-content">
{_paragraphs_html(a, ugly=True)}
{_signature_html(a)}
<p>附件：<a href="{files[0].href}">{_S(files[0].name)}</a></p>
</div></div>
<div class="share">分享到：<a href="#">微信</a> <a href="#">微博</a></div>
</div>
{_footer(portal)}
</body></html>"""
    return page, _gkmlpt_fields(a, url, pairs, files)


# --- the corpus ----------------------------------------------------------------------------------------------

Renderer = Callable[[ReplicaArticle, Portal, str], tuple[str, ArticleFields]]


@dataclass(frozen=True)
class Layout:
    """A layout: how to render it, for which portal, at which address, and whether it is held out."""

    name: str
    render: Renderer
    portal: Portal
    url: Callable[[ReplicaArticle], str]
    held_out: bool = False
    charset: str = "utf-8"


LAYOUTS: tuple[Layout, ...] = (
    Layout("site_heading", site_heading, Portal("磐安县人民政府", "磐安县", "www.panan.gov.cn", "3307270001"),
           lambda a: f"http://www.panan.gov.cn/zwgk/jhzj/{a.pub_date:%Y%m%d}/i{a.article_id}.html"),
    Layout("trs_tail", trs_tail, Portal("缙云县人民政府", "缙云县", "www.jinyun.gov.cn", "3311220001"),
           lambda a: f"http://www.jinyun.gov.cn/zwgk/jhzj/{a.pub_date:%Y%m}/t{a.pub_date:%Y%m%d}_{a.article_id}.html"),
    Layout("gkmlpt", gkmlpt, Portal("连州市人民政府门户网站", "连州市", "www.lianzhou.gov.cn", "4418820001"),
           lambda a: f"http://www.lianzhou.gov.cn/gkmlpt/content/2/{a.article_id // 1000}/post_{a.article_id}.html"),
    Layout("xxgk_below", xxgk_below, Portal("青田县人民政府", "青田县", "www.qingtian.gov.cn", "3311210001"),
           lambda a: f"http://www.qingtian.gov.cn/xxgk/detail.jsp?id={a.article_id}", held_out=True),
    Layout("site_title_only", site_title_only, Portal("庆元县人民政府门户网站", "庆元县", "www.zjqy.gov.cn", "3311260001"),
           lambda a: f"http://www.zjqy.gov.cn/news/show.aspx?id={a.article_id}", held_out=True),
    Layout("trs_inline", trs_inline, Portal("龙泉市人民政府", "龙泉市", "www.longquan.gov.cn", "3311810001"),
           lambda a: f"http://www.longquan.gov.cn/zfxxgk/jhzj/{a.pub_date:%Y%m}/t{a.pub_date:%Y%m%d}_{a.article_id}.shtml",
           held_out=True, charset="gbk"),
    Layout("gkmlpt_rows", gkmlpt_rows, Portal("英德市人民政府", "英德市", "www.yingde.gov.cn", "4418810001"),
           lambda a: f"https://www.yingde.gov.cn/gkmlpt/content/3/{a.article_id // 1000}/post_{a.article_id}.html",
           held_out=True),
)

_TOWNS = ("朱溪镇", "大洲镇", "柳城畲族镇", "玉山镇", "三魁镇", "白杨街道", "上盘镇", "湖镇镇")
_KINDS = (("{town}{y}年工作总结和{y1}年工作计划", 1), ("{town}{y}年上半年工作总结", 0), ("{town}{y}年度工作总结", 1),
          ("{town}人民政府关于{y}年法治政府建设情况的报告", 1))
_SEEDS = ("000", "001", "002", "003", "004")


def _article(rng: random.Random, n: int) -> ReplicaArticle:
    town = _TOWNS[n % len(_TOWNS)]
    year = 2018 + n % 7
    title, offset = _KINDS[n % len(_KINDS)]
    pub = datetime(year + offset, rng.randint(1, 9), rng.randint(1, 28), rng.randint(8, 17), rng.randint(0, 59))
    paragraphs = make_paragraphs(rng, _SEEDS[n % len(_SEEDS)], town, year, n_min=3, n_max=8)
    doc_no = f"{town[:2]}政发〔{pub.year}〕{rng.randint(1, 60)}号" if n % 3 else ""
    return ReplicaArticle(article_id=1_000_000 + n * 7919 % 1_000_000, pub_date=pub,
                          title=title.format(town=town, y=year, y1=year + 1), paragraphs=paragraphs, town=town,
                          index_no=f"11331127{rng.randint(10**9, 10**10 - 1)}/{pub.year}-{rng.randint(10**4, 10**5 - 1)}",
                          written_date=(pub - timedelta(days=rng.randint(0, 6))).date(), doc_no=doc_no)


def layout_pages(per_layout: int = 8, seed: int = 2020, held_out: bool | None = None) -> list[LayoutPage]:
    """`per_layout` pages of every layout (only the held-out ones, or only the tuned ones, if asked),
    deterministic for a seed."""
    rng = random.Random(seed)
    out = []
    for index, layout in enumerate(LAYOUTS):
        for n in range(per_layout):
            article = _article(rng, index * 100 + n)
            if held_out is not None and layout.held_out != held_out:
                continue
            url = layout.url(article)
            page, expected = layout.render(article, layout.portal, url)
            out.append(LayoutPage(layout.name, layout.held_out, page, url, expected, layout.charset))
    return out
