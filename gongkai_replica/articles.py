"""jcms article pages in the five seed layouts, and the ground truth the extractor must recover.

The metadata shown on a page and `expected_fields` both come from `layout_pairs`, so the rendered
labels and the expected dict cannot drift apart. Body paragraphs are rendered the way MS Word pastes
them into jcms: digits, 年/月/日, %, quotes and · each in their own <span> (a careless text join loses
them, as seed 001 did).
"""

from __future__ import annotations

import html
import importlib
import re
from datetime import date
from urllib.parse import urljoin

from gongkai.models import ArticleFields, Attachment
from gongkai_replica.sites import L000, L001, L002, L003, L004, ReplicaArticle, ReplicaColumn, ReplicaSite

# label -> ArticleFields field; the first label present (in this order) wins
FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "index_no": ("索引号", "信息索引号"),
    "publisher": ("发布机构", "发布单位", "发文机关"),
    "doc_no": ("文号", "文件编号", "发文字号"),
    "written_date": ("成文日期", "生成日期", "发文日期"),
    "published_date": ("发布日期", "公开日期", "发布时间", "公布日期"),
    "category": ("组配分类", "主题分类", "公开目录"),
}
DATE_FIELDS = ("written_date", "published_date")

_S = html.escape


def norm_label(label: str) -> str:
    """索 引 号： -> 索引号 (all whitespace and trailing colons removed)."""
    return re.sub(r"\s+", "", label).rstrip(":：")


def _ymd(d: date) -> str:
    return d.strftime("%Y-%m-%d")


def _ymdhm(a: ReplicaArticle) -> str:
    return a.pub_date.strftime("%Y-%m-%d %H:%M")


def _written(a: ReplicaArticle) -> date:
    return a.written_date or a.pub_date.date()


def _source(a: ReplicaArticle) -> str:
    if a.source is not None:
        return a.source
    if a.effective_layout == L003 and a.site is not None:
        return a.site.site_name  # 磐安: 来源 is the county, not the township
    return a.town


def layout_pairs(a: ReplicaArticle) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(metadata block pairs, info-line pairs) exactly as the page shows them (labels unnormalised)."""
    lay = a.effective_layout
    wd = _written(a)
    if lay == L000:
        meta = [("索 引 号", a.index_no), ("公开方式", "主动公开"), ("成文日期", _ymd(wd)),
                ("发布机构", a.town), ("组配分类", a.category)]
        info = [("发布日期", _ymd(a.pub_date)), ("信息来源", _source(a))]
    elif lay == L001:
        block = [("公开方式", "主动公开"), ("文号", a.doc_no), ("公开日期", _ymd(a.pub_date)),
                 ("发布单位", a.town), ("有效性", ""), ("统一编号", "")]
        meta = [("索引号", a.index_no)] + block + [("信息索引号", a.index_no)] + block
        info = [("发布日期", _ymdhm(a)), ("信息来源", _source(a))]
    elif lay == L002:
        meta = [("索引号", a.index_no), ("发布机构", a.town), ("文号", a.doc_no), ("公开日期", _ymdhm(a))]
        info = [("来源", _source(a)), ("发布时间", _ymdhm(a))]
    elif lay == L003:
        meta = [("索引号", a.index_no), ("公开形式", "主动公开"), ("文号", a.doc_no),
                ("公开时限", "长期公开"), ("发布机构", a.town), ("生成日期", _ymd(wd))]
        info = [("发布时间", _ymdhm(a)), ("来源", _source(a))]
    elif lay == L004:
        shown_wd = f"{wd.year}年{wd.month}月{wd.day}日" if a.written_cn else _ymd(wd)
        meta = [("索引号", a.index_no), ("组配分类", a.category), ("发布机构", a.town),
                ("成文日期", shown_wd), ("公开方式", "主动公开")]
        p = a.pub_date
        info = [("发布日期", f"{p.year}- {p.month:02d}- {p.day:02d} {p.hour:02d} : {p.minute:02d}")]
    else:
        raise ValueError(f"unknown layout {lay!r}")
    return meta, info


# What an attachment-only page may say besides its files' names (anatomy 3.5).
POINTERS = ("详见附件", "详见附件。", "附件：", "附件")


def body_lines(a: ReplicaArticle, read_documents: bool = True) -> list[str]:
    """The body as the extractor must return it: paragraphs, then attachment names (L002 style). With
    `read_documents` (the stored report, not the page alone), a page of nothing but file names (and a
    详见附件) has the text of its first file that holds one: ingest reads it."""
    lines = [p.strip() for p in a.paragraphs if p.strip()]
    if read_documents and all(line in POINTERS for line in lines):
        document = next((att.text for att in a.attachments if att.text), None)
        if document:
            return list(document)
    lines += [att.name for att in a.attachments]
    return lines


def page_path(a: ReplicaArticle) -> str:
    """The article page's path on its site's platform (a TRS file link is relative to it)."""
    site = a.site
    if site is None or site.platform == "jcms":
        return a.url_path
    module = importlib.import_module(f"gongkai_replica.{site.platform}")
    return module.article_path(site, site.column(a.column_id), a)


def expected_fields(a: ReplicaArticle, read_documents: bool = True) -> ArticleFields:
    """Ground truth following the extractor contract (see module docstring of gongkai.models): of the
    stored report, or with `read_documents=False` of the article page alone."""
    meta_pairs, info_pairs = layout_pairs(a)
    metadata: dict[str, str] = {}
    for label, value in meta_pairs + info_pairs:
        metadata.setdefault(norm_label(label), re.sub(r"\s+", " ", value).strip())
    fields: dict[str, str | None] = {}
    for fname, labels in FIELD_LABELS.items():
        val = next((metadata[lb] for lb in labels if lb in metadata), None)
        if val is not None and val in ("", "无"):
            val = None
        fields[fname] = val
    # dates: from the data, not by re-parsing the shown forms
    if fields["written_date"] is not None:
        fields["written_date"] = _ymd(_written(a))
    if fields["published_date"] is not None:
        fields["published_date"] = _ymd(a.pub_date)
    base = a.site.base_url if a.site else ""
    return ArticleFields(
        title=a.title,
        body="\n".join(body_lines(a, read_documents)),
        index_no=fields["index_no"],
        publisher=fields["publisher"],
        doc_no=fields["doc_no"],
        written_date=fields["written_date"],
        published_date=fields["published_date"],
        category=fields["category"],
        attachments=[Attachment(att.name, urljoin(base + page_path(a), att.href)) for att in a.attachments],
        metadata=metadata,
    )


# ---------------------------------------------------------------------------------------------------
# MS-Word paste rendering

_TOKEN = re.compile(r"(\d+(?:\.\d+)?|[年月日]|%|[“”‘’\"]|·)")
_FS = "font-family:仿宋_GB2312;font-size:16pt"


def word_paragraph(text: str, n: int) -> str:
    """One paragraph as Word pastes it: separate spans for digits, 年月日, %, quotes, ·; <o:p>."""
    out: list[str] = []
    if n % 4 == 3:
        out.append(f'<span style="{_FS}">&nbsp;&nbsp;</span>')  # stray leading NBSPs (stripped)
    for i, part in enumerate(_TOKEN.split(text)):
        if not part:
            continue
        esc = _S(part, quote=False)
        if i % 2 == 0:
            out.append(f'<span style="{_FS}">{esc}</span>')
        elif part[0].isdigit():
            out.append(f"<span lang=\"EN-US\" style=\"font-size:16pt;font-family:'Times New Roman'\">{esc}</span>")
        elif part in "年月日":
            out.append(f'<span style="{_FS}">{esc}</span>')
        else:
            out.append(f'<span style="font-family:宋体;font-size:16pt">{esc}</span>')
    inner = "".join(out)
    if re.match(r"^[一二三四五六七八九十]+、", text):
        inner = f"<strong>{inner}</strong>"
    return f'<p class="MsoNormal" style="text-indent:2em;line-height:28pt;">{inner}<o:p></o:p></p>'


def body_html(a: ReplicaArticle, *, title_first: bool = False) -> str:
    parts: list[str] = []
    if title_first:  # 磐安: the title repeated as the first body line, then an empty paragraph
        parts.append(f'<p style="text-align:center;"><strong><span style="font-size:22pt">{_S(a.title)}</span></strong></p>')
        parts.append("<p>&nbsp;</p>")
    parts += [word_paragraph(p, i) for i, p in enumerate(a.paragraphs) if p.strip()]
    for att in a.attachments:
        parts.append(
            f'<p><a href="{_S(att.href)}" target="_blank">'
            f'<span style="font-size:12pt">{_S(att.name)}</span></a></p>'
        )
    return "\n".join(parts)


def rss_content(inner: str) -> str:
    return (
        "<!--<$[信息内容]>begin--><!--ZJEG_RSS.content.begin--><meta name=\"ContentStart\">"
        f"{inner}<meta name=\"ContentEnd\"><!--ZJEG_RSS.content.end--><!--<$[信息内容]>end-->"
    )


def rss_title(title: str) -> str:
    return f"<!--<$[标题名称]>begin--><!--ZJEG_RSS.title.begin-->{_S(title)}<!--ZJEG_RSS.title.end--><!--<$[标题名称]>end-->"


# ---------------------------------------------------------------------------------------------------
# page chrome shared by listing and article pages

def meta_charset(site: ReplicaSite) -> str:
    return "gb2312" if site.charset.lower() in ("gbk", "gb2312", "gb18030") else "utf-8"


def header_html(site: ReplicaSite) -> str:
    return f"""<div class="top"><div class="w1200"><span class="date" id="today"></span>
<a href="javascript:void(0)" onclick="zh_tran('t')">繁体</a> | <a href="javascript:void(0)">无障碍</a> | <a href="javascript:void(0)">长者模式</a></div></div>
<div class="header"><div class="logo"><a href="/"><img src="/images/logo.png" alt="{_S(site.site_name)}" /></a></div>
<div class="search"><form action="/jsearchfront/search.do" method="get"><input type="text" name="q" value="请输入关键字" /><input type="submit" value="搜索" /></form></div></div>
<div class="nav"><ul><li><a href="/">首页</a></li><li><a href="/col/col1229000001/index.html">政务动态</a></li>
<li class="on"><a href="/col/col1229000002/index.html">政务公开</a></li><li><a href="/col/col1229000003/index.html">政务服务</a></li>
<li><a href="/col/col1229000004/index.html">互动交流</a></li><li><a href="/col/col1229000005/index.html">走进{_S(site.region or site.site_name)}</a></li></ul></div>"""


def footer_html(site: ReplicaSite, visit_src: str) -> str:
    region = site.region or site.site_name
    return f"""<div class="footer"><div class="w1200">
<p>主办：{_S(region)}人民政府办公室&nbsp;&nbsp;承办：{_S(region)}大数据发展管理中心</p>
<p>网站标识码：{_S(site.site_code)}&nbsp;&nbsp;<a href="https://beian.miit.gov.cn/" target="_blank">浙ICP备05012345号-1</a>&nbsp;&nbsp;浙公网安备 33102402000123号</p>
<p>Produced By 大汉网络 大汉版通发布系统</p></div></div>
<a href='http://www.hanweb.com' style='display:none'>Produced By 大汉网络 大汉版通发布系统</a>
<!-- visitcount Begin --><iframe src='{visit_src}' name="vishidden" frameborder="0" style="width:0; height:0; display:none"></iframe><!-- visitcount End -->
<script type="text/javascript" src="/module/jslib/zjeg/zjeg.js"></script>"""


def head_html(site: ReplicaSite, title: str, column: ReplicaColumn, extra_meta: str = "") -> str:
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:o="urn:schemas-microsoft-com:office:office">
<head>
<meta http-equiv="Content-Type" content="text/html; charset={meta_charset(site)}" />
<meta http-equiv="X-UA-Compatible" content="IE=edge" />
<title>{_S(title)}</title>
<meta name="SiteName" content="{_S(site.site_name)}">
<meta name="SiteDomain" content="{_S(site.domain)}">
<meta name="SiteIDCode" content="{_S(site.site_code)}">
<meta name="ColumnName" content="{_S(column.name)}">
<meta name="ColumnDescription" content="{_S(column.parent + column.name)}">
<meta name="ColumnKeywords" content="{_S(column.name)}">
<meta name="ColumnType" content="{_S(column.name)}">
{extra_meta}<link rel="stylesheet" type="text/css" href="/images/css/style.css" />
<script type="text/javascript" src="/module/jslib/jquery/jquery.js"></script>
</head>"""


def crumb(site: ReplicaSite, column: ReplicaColumn, layout: str) -> str:
    town = column.parent
    if layout == L003:
        bits = ["首页", "政务公开", "信息公开目录", "乡镇政府", town, "规划计划", "规划计划"]
        return "您当前所在的位置：" + " &gt;&gt; ".join(f"<a href='/'>{_S(b)}</a>" for b in bits if b)
    if layout == L002:
        return "当前位置：<a href='/'>首页</a> &gt;&gt; ... &gt;&gt; <a href='#'>规划计划</a>"
    if layout == L001:
        bits = ["首页", "政务公开", "信息公开目录", "规划计划", column.name]
    elif layout == L004:
        bits = ["首页", "政务公开", "乡镇街道", town, column.name]
    else:
        bits = ["首页", "政务公开", "乡镇（街道）", town, "规划计划", column.name]
    return "当前位置：" + " &gt; ".join(f"<a href='/'>{_S(b)}</a>" for b in bits if b)


# ---------------------------------------------------------------------------------------------------
# the five layouts: the part between breadcrumb and footer

def _main_l000(a: ReplicaArticle) -> str:
    meta, info = layout_pairs(a)
    m = dict((norm_label(k), (k, v)) for k, v in meta)

    def cell(key: str) -> str:
        lab, val = m[key]
        return f'<td class="xxgk_lab" width="90">{_S(lab)}</td><td class="xxgk_val">{_S(val)}</td>'

    return f"""<table width="100%" border="0" cellspacing="0" cellpadding="0" class="xxgk_table">
<tr>{cell("索引号")}{cell("公开方式")}</tr>
<tr>{cell("成文日期")}{cell("发布机构")}</tr>
<tr><td class="xxgk_lab">{_S(m["组配分类"][0])}</td><td class="xxgk_val" colspan="3">{_S(m["组配分类"][1])}</td></tr>
</table>
<table width="100%" border="0" cellspacing="0" cellpadding="0">
<tr><td class="title" align="center">{rss_title(a.title)}</td></tr>
<tr><td height="30" align="center" class="fbrq">{info[0][0]}：{_S(info[0][1])}&nbsp;&nbsp;&nbsp;&nbsp;访问次数：<span id="hits"></span></td></tr>
<tr><td><div id="zoom">{rss_content(body_html(a))}</div></td></tr>
<tr><td class="xxly">{info[1][0]}：<!--<$[信息来源]>begin-->{_S(info[1][1])}<!--<$[信息来源]>end--></td></tr>
<tr><td align="right">【<a href="javascript:window.print()">打印本页</a>】 【<a href="javascript:window.opener=null;window.close()">关闭本页</a>】</td></tr>
</table>"""


def _main_l001(a: ReplicaArticle) -> str:
    meta, info = layout_pairs(a)
    desk, mobile = meta[:7], meta[7:]

    def pair(i: int) -> str:
        lab, val = desk[i]
        return f"<th>{_S(lab)}：</th><td>{_S(val)}</td>"

    rows = (f"<tr>{pair(0)}{pair(1)}</tr><tr>{pair(2)}{pair(3)}</tr><tr>{pair(4)}{pair(5)}</tr>"
            f"<tr><th>{desk[6][0]}：</th><td colspan=\"3\">{_S(desk[6][1])}</td></tr>")
    lis = "".join(f'<li><span class="name">{_S(lab)}:</span><p>{_S(val)}</p></li>' for lab, val in mobile)
    return f"""<div class="xxgk-box">
<table class="xxgk-table pc" cellspacing="0" cellpadding="0">{rows}</table>
<ul class="xxgk-list mobile">{lis}</ul>
</div>
<div class="article">
<h1 class="art-title">{rss_title(a.title)}</h1>
<div class="art-info"><span>{info[0][0]}:{_S(info[0][1])}</span>&nbsp;<span>{info[1][0]}:{_S(info[1][1])}</span>&nbsp;<span>浏览次数:<em id="llcs"></em></span>
<span class="zh">【字号：<a href="javascript:doZoom(20)">大</a> <a href="javascript:doZoom(16)">中</a> <a href="javascript:doZoom(14)">小</a>】</span></div>
<div class="main-txt" id="zoom">{rss_content(body_html(a))}</div>
<div class="art-bottom"><span>编辑:(</span>
<a href="javascript:window.close()">关闭</a>
<a href="javascript:window.print()">打印</a></div>
</div>"""


def _main_l002(a: ReplicaArticle) -> str:
    meta, info = layout_pairs(a)
    sp = "&nbsp;" * 6
    row1 = f"{meta[0][0]}：{_S(meta[0][1])}{sp}{meta[1][0]}：{_S(meta[1][1])}"
    row2 = f"{meta[2][0]}：{_S(meta[2][1])}{sp}{meta[3][0]}：{_S(meta[3][1])}"
    return f"""<div class="xxgk_top"><p>{row1}</p><p>{row2}</p></div>
<div class="con_title"><h2>{rss_title(a.title)}</h2></div>
<div class="con_xx">{info[0][0]}：<span>{_S(info[0][1])}</span>&nbsp;&nbsp;&nbsp;&nbsp; {info[1][0]}：<span>{_S(info[1][1])}</span>访问次数：<span id="fwcs"></span>
【字号：<a href="javascript:doZoom(18)">大</a> <a href="javascript:doZoom(16)">中</a> <a href="javascript:doZoom(14)">小</a>】
<div class="share">分享：<a class="bds_weixin" href="#"></a><a class="bds_tsina" href="#"></a></div></div>
<div class="con_wen">{body_html(a)}</div>"""


def _main_l003(a: ReplicaArticle) -> str:
    meta, info = layout_pairs(a)

    def td(i: int) -> str:
        return f'<td class="bt">{meta[i][0]}：</td><td class="nr">{_S(meta[i][1])}</td>'

    return f"""<table class="gkxx" width="100%" cellspacing="0" cellpadding="0">
<tr>{td(0)}{td(1)}</tr><tr>{td(2)}{td(3)}</tr><tr>{td(4)}{td(5)}</tr></table>
<div class="title"><p class="main">{rss_title(a.title)}</p></div>
<div class="fbxx"><span>{info[0][0]}：{_S(info[0][1])}</span>&nbsp;&nbsp;&nbsp;&nbsp;<span>{info[1][0]}：{_S(info[1][1])}</span>&nbsp;&nbsp;&nbsp;&nbsp;<span>浏览次数：<i id="hits"></i></span>
<span>字号【<a href="javascript:doZoom(18)">大</a> <a href="javascript:doZoom(16)">中</a> <a href="javascript:doZoom(14)">小</a>】</span>
<span class="fx">分享到：<a href="#" class="wx"></a><a href="#" class="wb"></a></span></div>
<div class="body" id="zoom">{rss_content(body_html(a, title_first=True))}</div>"""


def _main_l004(a: ReplicaArticle) -> str:
    meta, info = layout_pairs(a)
    lis = "".join(
        f'<li class="dot">•</li><li class="lab">{_S(lab)}:</li><li class="val">{_S(val)}</li>' for lab, val in meta
    )
    return f"""<div class="xxgk_info"><ul>{lis}</ul></div>
<div class="art_title"><h1>{rss_title(a.title)}</h1></div>
<div class="art_info">{info[0][0]}: <span class="fbrq">{_S(info[0][1])}</span>&nbsp;&nbsp;浏览次数: <span id="c"></span>&nbsp;&nbsp;字体:[ <a href="javascript:doZoom(18)">大</a> <a href="javascript:doZoom(16)">中</a> <a href="javascript:doZoom(14)">小</a> ]</div>
<div class="art_con" id="zoom">{rss_content(body_html(a))}</div>
<div class="art_bottom">【<a href="javascript:window.print()">打印本页</a>】 【<a href="javascript:window.close()">关闭窗口</a>】</div>"""


_MAINS = {L000: _main_l000, L001: _main_l001, L002: _main_l002, L003: _main_l003, L004: _main_l004}


def render_article(site: ReplicaSite, column: ReplicaColumn, a: ReplicaArticle) -> str:
    """The full article page as a str (the server encodes it with the site's charset)."""
    layout = a.effective_layout
    extra = (
        f'<meta name="ArticleTitle" content="{_S(a.title)}">\n'
        f'<meta name="PubDate" content="{_ymdhm(a)}">\n'
        f'<meta name="ContentSource" content="{_S(_source(a))}">\n'
        f'<meta name="Keywords" content="">\n<meta name="Author" content="{_S(_source(a))}">\n'
        f'<meta name="Description" content="{_S(a.title)}">\n'
        f'<meta name="Url" content="http://{_S(site.domain)}{a.url_path_for(column.column_id)}">\n'
    )
    title = f"{a.title} - {column.name} - {site.site_name}"
    visit = (f"/module/visitcount/visit.jsp?type=3&i_webid={site.webid}"
             f"&i_columnid={column.column_id}&i_articleid={a.article_id}")
    return f"""{head_html(site, title, column, extra)}
<body>
{header_html(site)}
<div class="w1200 main">
<div class="position">{crumb(site, column, layout)}</div>
<div class="content">
{_MAINS[layout](a)}
</div>
<div class="clear"></div>
</div>
{footer_html(site, visit)}
</body>
</html>
"""


def render_not_found(site: ReplicaSite | None) -> str:
    """jcms-style 页面不存在 page (served with status 404)."""
    name = site.site_name if site else ""
    return f"""<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset={meta_charset(site) if site else 'utf-8'}" />
<title>页面不存在</title></head>
<body><div class="error"><div class="pic"><img src="/images/404.png" alt="" /></div>
<h2>页面不存在</h2><p>抱歉，您访问的页面不存在或已被删除！</p>
<p><a href="/">返回{_S(name)}首页</a></p></div>
<a href='http://www.hanweb.com' style='display:none'>Produced By 大汉网络 大汉版通发布系统</a></body></html>
"""
