"""Replica of a TRS WCM (拓尔思) county portal: static index.html, index_1.html, … in GBK.

A column is a directory (`/zwgk/ghjh/jhzj/`) of static pages: `index.html`, `index_1.html`, … with
`per_page` rows each, announced by the TRS pager script (`var countPage = N`, `var currentPage = i`,
`createPageHTML(countPage, currentPage, "index", "html")`, the function defined on the page too).
Rows link relatively: `./202311/t20231107_5301234.html`. The site is GBK: the HTTP header carries
no charset, a <meta> says gb2312. A 最新文件 sidebar lists other TRS-shaped links without dates.

Article pages sit at `<dir><YYYYMM>/t<YYYYMMDD>_<id>.html`: TRS chrome, the metadata rows and info
line of jcms layout L002 (so `ReplicaArticle.expected` holds), the body in `div.TRS_Editor`. An article's
files sit beside it (`<dir><YYYYMM>/P020240315….doc`, linked `./P0….doc`), served without a
Content-Disposition, as a static server does.
"""

from __future__ import annotations

import html
import random
import re
from collections.abc import Sequence
from typing import Any

from gongkai_replica.articles import body_html, layout_pairs
from gongkai_replica.files import file_reply
from gongkai_replica.generic import (
    Reply,
    chunk,
    column_at,
    column_dir,
    not_found,
    page_count,
    reply_html,
    sidebar,
)
from gongkai_replica.sites import L002, ReplicaArticle, ReplicaColumn, ReplicaSite

_S = html.escape
DEFAULT_DIR = "/zwgk/ghjh/c{id}/"
_INDEX = re.compile(r"^(/.*/)index(?:_(\d+))?\.html$")
_DOC = re.compile(r"^(/.*/)(\d{6})/t(\d{8})_(\d+)\.html$")
_FILE = re.compile(r"^(/.*/)(\d{6})/([^/]+\.[A-Za-z0-9]{2,5})$")  # beside its article: ./P020240315….doc

PAGER_JS = """<script type="text/javascript">
function createPageHTML(_nPageCount, _nCurrIndex, _sPageName, _sPageExt){
    if(_nPageCount == null || _nPageCount<=1){ return; }
    var nCurrIndex = _nCurrIndex || 0;
    if(nCurrIndex == 0) document.write("首页&nbsp;上一页&nbsp;");
    else {
        document.write("<a href=\\"" + _sPageName + "." + _sPageExt + "\\">首页</a>&nbsp;");
        if(nCurrIndex == 1) document.write("<a href=\\"" + _sPageName + "." + _sPageExt + "\\">上一页</a>&nbsp;");
        else document.write("<a href=\\"" + _sPageName + "_" + (nCurrIndex-1) + "." + _sPageExt + "\\">上一页</a>&nbsp;");
    }
    if(nCurrIndex == (_nPageCount-1)) document.write("下一页&nbsp;尾页");
    else {
        document.write("<a href=\\"" + _sPageName + "_" + (nCurrIndex+1) + "." + _sPageExt + "\\">下一页</a>&nbsp;");
        document.write("<a href=\\"" + _sPageName + "_" + (_nPageCount-1) + "." + _sPageExt + "\\">尾页</a>");
    }
}
</script>"""


def listing_path(site: ReplicaSite, column: ReplicaColumn, page: int = 0) -> str:
    return column_dir(site, column, DEFAULT_DIR) + ("index.html" if page == 0 else f"index_{page}.html")


def article_path(site: ReplicaSite, column: ReplicaColumn, art: ReplicaArticle) -> str:
    d = art.pub_date
    return f"{column_dir(site, column, DEFAULT_DIR)}{d:%Y%m}/t{d:%Y%m%d}_{art.article_id}.html"


def _head(site: ReplicaSite, title: str, extra: str = "") -> str:
    return f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=gb2312" />
<title>{_S(title)}</title>
<meta name="SiteName" content="{_S(site.site_name)}">
<meta name="SiteDomain" content="{_S(site.domain)}">
<meta name="SiteIDCode" content="{_S(site.site_code)}">
{extra}<link href="../../../images/style.css" rel="stylesheet" type="text/css" />
</head>"""


def _header(site: ReplicaSite) -> str:
    return f"""<div class="top"><div class="logo"><img src="/images/logo.png" alt="{_S(site.site_name)}" /></div>
<ul class="nav"><li><a href="/">首页</a></li><li><a href="/zwdt/">政务动态</a></li><li><a href="/zwgk/">政务公开</a></li>
<li><a href="/zwfw/">政务服务</a></li><li><a href="/hdjl/">互动交流</a></li></ul></div>"""


def _footer(site: ReplicaSite) -> str:
    return f"""<div class="footer"><p>主办单位：{_S(site.region)}人民政府办公室　技术支持：拓尔思信息技术股份有限公司</p>
<p>网站标识码：{_S(site.site_code)}　浙ICP备05004321号　浙公网安备 33082402000123号</p></div>"""


def _row(art: ReplicaArticle | None) -> str:
    if art is None:
        return '<li class="kong">&nbsp;</li>'
    d = art.pub_date
    title = _S(art.list_title or art.title)
    return (f'<li><a href="./{d:%Y%m}/t{d:%Y%m%d}_{art.article_id}.html" target="_blank" title="{title}">{title}</a>'
            f'<span>{d:%Y-%m-%d}</span></li>')


def render_listing(site: ReplicaSite, column: ReplicaColumn, page: int) -> str:
    rows = column.records()
    count = page_count(rows, site.per_page)
    items = "\n".join(_row(a) for a in chunk(rows, site.per_page, page))
    latest = [("../../../zwgk/zcwj/202401/t20240112_5190001.html", f"{site.region}人民政府关于印发2024年政府工作报告重点工作责任分解的通知"),
              ("../../../zwgk/zcwj/202312/t20231228_5180002.html", f"{site.region}人民政府办公室关于做好2024年元旦春节期间有关工作的通知")]
    return f"""{_head(site, f"{column.name}_{site.site_name}")}
<body>
{_header(site)}
<div class="main">
<div class="position">您现在的位置：<a href="../../../">首页</a> &gt; <a href="../../">政务公开</a> &gt; <a href="../">规划计划</a> &gt; <a href="./">{_S(column.name)}</a></div>
<div class="left">{sidebar(latest).replace("热点信息", "最新文件")}</div>
<div class="right"><div class="lm_title">{_S(column.parent)}{_S(column.name)}</div>
<ul class="list">
{items}
</ul>
<div class="page">{PAGER_JS}
<script type="text/javascript">
var currentPage = {page};//所在页从0开始
var countPage = {count}//共多少页
createPageHTML(countPage, currentPage, "index", "html");
</script></div>
</div>
</div>
{_footer(site)}
</body>
</html>
"""


def render_article(site: ReplicaSite, column: ReplicaColumn, a: ReplicaArticle) -> str:
    """TRS chrome around the L002 metadata rows and info line; the body in div.TRS_Editor."""
    meta, info = layout_pairs(a)
    sp = "&nbsp;" * 6
    row1 = f"{meta[0][0]}：{_S(meta[0][1])}{sp}{meta[1][0]}：{_S(meta[1][1])}"
    row2 = f"{meta[2][0]}：{_S(meta[2][1])}{sp}{meta[3][0]}：{_S(meta[3][1])}"
    extra = (f'<meta name="ArticleTitle" content="{_S(a.title)}">\n'
             f'<meta name="PubDate" content="{a.pub_date:%Y-%m-%d %H:%M}">\n'
             f'<meta name="ContentSource" content="{_S(info[0][1])}">\n'
             f'<meta name="ColumnName" content="{_S(column.name)}">\n')
    return f"""{_head(site, f"{a.title}_{site.site_name}", extra)}
<body>
{_header(site)}
<div class="main">
<div class="position">您现在的位置：<a href="../../../../">首页</a> &gt; <a href="../../../">政务公开</a> &gt; <a href="../../">规划计划</a> &gt; <a href="../">{_S(column.name)}</a></div>
<div class="xxgk_top"><p>{row1}</p><p>{row2}</p></div>
<div class="con_title"><h2>{_S(a.title)}</h2></div>
<div class="con_xx">{info[0][0]}：<span>{_S(info[0][1])}</span>&nbsp;&nbsp;&nbsp;&nbsp; {info[1][0]}：<span>{_S(info[1][1])}</span>访问次数：<span id="fwcs"></span>
【字号：<a href="javascript:doZoom(18)">大</a> <a href="javascript:doZoom(16)">中</a> <a href="javascript:doZoom(14)">小</a>】
<div class="share">分享：<a class="bds_weixin" href="#"></a><a class="bds_tsina" href="#"></a></div></div>
<div class="TRS_Editor"><div class="Custom_UnionStyle">{body_html(a)}</div></div>
<div class="con_bottom">【<a href="javascript:window.print()">打印本页</a>】 【<a href="javascript:window.close()">关闭窗口</a>】</div>
</div>
{_footer(site)}
</body>
</html>
"""


def route(site: ReplicaSite, method: str, path: str, query: str, headers: Any,
          form: Sequence[tuple[str, str]] = ()) -> Reply | None:
    if method not in ("GET", "HEAD"):
        return None
    m = _INDEX.match(path)
    if m:
        column = column_at(site, m.group(1), DEFAULT_DIR)
        page = int(m.group(2) or 0)
        if column is None or m.group(2) == "0" or page >= page_count(column.records(), site.per_page):
            return not_found(site)
        return reply_html(site, render_listing(site, column, page))
    m = _DOC.match(path)
    if m:
        column = column_at(site, m.group(1), DEFAULT_DIR)
        art = next((a for a in column.articles if a.article_id == int(m.group(4))), None) if column else None
        if column is None or art is None or article_path(site, column, art) != path or art.withdrawn:
            return not_found(site)
        return reply_html(site, render_article(site, column, art))
    m = _FILE.match(path)
    if m:
        column = column_at(site, m.group(1), DEFAULT_DIR)
        found = [att for a in (column.articles if column else []) if f"{a.pub_date:%Y%m}" == m.group(2)
                 for att in a.attachments if att.link and att.filename == m.group(3)]
        return file_reply(found[0], method) if found else not_found(site)
    return None


def build_site(seed: int = 8802) -> ReplicaSite:
    """A GBK county portal on TRS WCM: 20 reports (one with a .docx) over 3 static pages of 8."""
    from gongkai_replica.demo import _assign_ids, _docx, _report, credit_code

    rng = random.Random(seed)
    code = credit_code(rng, "330824")
    combos = [(y, k) for y in range(2015, 2025) for k in ("annual2", "half2")]
    arts = [_report(rng, seed_key="002", town="华埠镇", year=y, kind=k, prefix=code,
                    must_contain=("龙之梦·六春湖",)) for y, k in combos]
    arts[0].paragraphs.append("本报告由华埠镇党政办王喆、陈堃汇总，经镇长郑镕审定。")
    _docx(rng, arts[3])
    _assign_ids(rng, arts, 5_300_000)
    column = ReplicaColumn(1229000201, "计划总结", arts, parent="华埠镇")
    return ReplicaSite(
        name="kaihua", webid=0, unitid=0, webname="开化县人民政府", columns=[column], per_page=8,
        article_layout=L002, charset="gbk", region="开化县", domain="www.kaihua.gov.cn", site_code="3308240001",
        robots_txt=None, platform="trs", options={"paths": {1229000201: "/zwgk/ghjh/jhzj/"}},
    )
