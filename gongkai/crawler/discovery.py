"""Reading a county portal's disclosure navigation: pure functions, HTML in, typed data out.

A county portal leads to its towns' 计划总结 columns through its own navigation (portal-anatomy 3.6):
首页 › 政务公开 › (政府)信息公开目录 › 乡镇（街道） › <town> › 规划计划 › 计划总结, in many spellings
(温岭: 政府信息公开 › 各镇、街道 › 石塘镇 › 法定主动公开内容 › 工作信息 › 计划总结; 淳安: 乡镇窗口(资源库) ›
姜家镇 › 规划计划 › 计划总结). The links are plain `<a href>`s, an `<iframe src>` (the xxgk category
tree), or the HTML a jpaas page's unitbuild widgets fetch as JSON. Everything here reads one page (or
one JSON answer) and names what its links are; `gongkai.app.discover` does the walking and fetching.

The label lists are data: add a spelling to the tuple, not a branch to the code.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

import lxml.html
from lxml import etree

# -- labels ------------------------------------------------------------------------------------------

# Links from a home page towards the disclosure pages.
DISCLOSURE_LABELS = ("政务公开", "政府信息公开", "信息公开", "政府信息公开目录", "信息公开目录", "公开目录",
                     "主动公开目录", "政府信息公开专栏", "政务公开专栏", "法定主动公开内容")
# Links to the list of township units (a section of the unit tree, or a page of its own).
UNIT_LABELS = ("乡镇（街道）", "乡镇(街道)", "乡镇街道", "镇（街道）", "镇(街道)", "镇街", "镇街道", "各镇、街道",
               "各镇街道", "各乡镇（街道）", "各乡镇(街道)", "各乡镇", "乡镇", "乡镇公开目录", "乡镇（街道）公开目录",
               "乡镇窗口", "乡镇窗口(资源库)", "乡镇窗口（资源库）", "乡镇政府", "乡镇（街道）信息公开", "街道乡镇",
               "乡镇部门", "镇乡街道", "镇乡（街道）")
# Column groups inside a town's directory that may hold the report column.
CONTAINER_LABELS = ("规划计划", "计划规划", "规划信息", "工作信息", "法定主动公开内容", "主动公开内容", "政府信息公开",
                    "信息公开", "信息公开目录", "政府信息公开目录", "公开目录", "主动公开目录", "规划计划信息")
# Column names that hold work plans and summaries.
REPORT_NAME = re.compile(r"计划总结|总结计划|工作计划|工作总结|计划与总结|计划和总结|计划及总结|工作思路|年度计划|工作要点")
# Columns that look close but hold something else (never listed, whatever their rows say).
DECOY_NAME = re.compile(r"政策文件|规范性文件|政府工作报告|工作报告|年报|年度报告|预决算|预算|决算|三公经费|政策解读")
# Columns not worth a request to look at their rows.
OTHER_NAME = re.compile(r"机构|领导|人事|职能|指南|制度|依申请|通知公告|公示公告|招标|采购|意见征集|建议提案|办事|"
                        r"联系|政府网站|新闻|图片|视频|专题|发展规划|专项规划|统计|应急|民生|首页|返回|更多")
# What a report's title says (portal-anatomy, the table of 47 real township columns: 工作总结和…工作计划, 上半年工作总结及下半年工作思路, 年度工作总结).
REPORT_TITLE = re.compile(r"工作总结|工作计划|工作思路|工作要点|年度总结|半年总结|总结(?:和|及|与)")
DECOY_TITLE = re.compile(r"政府工作报告|信息公开工作年度报告|预算|决算")
# A township unit: 朱溪镇, 竹里畲族乡, 百官街道, 城南新区(三江街道), 柳城畲族镇人民政府, 下沙街道办事处.
TOWN = re.compile(r"^([\u4e00-\u9fff]{1,10}?(?:街道|镇|乡))(?:人民政府|政府|办事处|[（(][^（）()]{1,12}[）)])?$")
# A page that says its column has moved and links the new one.
MOVED = re.compile(r"已迁移|已调整|已移至|迁移至|栏目调整|已变更|新地址|已更换")
# jpaas list widgets (the listing itself, not navigation): jpaas platform's own list tags.
JPAAS_LIST_TAGS = ("分页列表", "当前栏目list", "zw/list", "内容区域", "新闻列表", "概览信息列表", "ajax分页", "右侧内容")
MAX_LINKS = 2000  # links read from one page


@dataclass(frozen=True)
class NavLink:
    text: str  # the link's text (or title=), whitespace removed
    url: str  # absolute, fragment dropped
    frame: bool = False  # an <iframe src>: its page belongs to this one


@dataclass(frozen=True)
class WidgetRequest:
    """A jpaas unitbuild widget's GET: what the browser asks the gateway for that widget's HTML."""

    url: str
    tag: str
    headers: tuple[tuple[str, str], ...]


def norm(text: str) -> str:
    """Link text as compared with the labels: no whitespace, no &nbsp;, no trailing >> or colon."""
    text = re.sub(r"[\s\u00a0\u3000]+", "", html_lib.unescape(text or ""))
    return text.strip("›>»:：·•-—")


# -- pages -------------------------------------------------------------------------------------------

def _root(page: str) -> lxml.html.HtmlElement | None:
    if not page or not page.strip():
        return None
    try:
        return lxml.html.document_fromstring(page)
    except (etree.ParserError, ValueError):
        return None


def page_links(page: str, base_url: str) -> list[NavLink]:
    """Every navigable link of a page, in document order: <a href> (text, else title=) and <iframe src>."""
    root = _root(page)
    if root is None:
        return []
    base_el = root.find(".//base[@href]")
    base = urljoin(base_url, base_el.get("href")) if base_el is not None else base_url
    out: list[NavLink] = []
    for el in root.iter("a", "iframe", "frame"):
        if len(out) >= MAX_LINKS:
            break
        href = (el.get("src") if el.tag in ("iframe", "frame") else el.get("href")) or ""
        href = html_lib.unescape(href.strip())
        if not href or href.lower().startswith(("javascript:", "#", "mailto:", "tel:", "data:")):
            continue
        try:
            url = urljoin(base, href)
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises on a port that is no number
        except ValueError:
            continue
        if parts.scheme not in ("http", "https"):
            continue
        url = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
        text = norm(el.text_content()) if el.tag == "a" else ""
        if el.tag == "a" and not text:
            text = norm(el.get("title") or "")
        out.append(NavLink(text=text, url=url, frame=el.tag != "a"))
    return out


def meta_refresh(page: str, base_url: str) -> str | None:
    """The target of a <meta http-equiv="refresh" content="0;url=…">, if the page has one."""
    root = _root(page)
    if root is None:
        return None
    for meta in root.iter("meta"):
        if (meta.get("http-equiv") or "").lower() == "refresh":
            m = re.search(r"url\s*=\s*['\"]?([^'\";]+)", meta.get("content") or "", re.I)
            if m:
                return urljoin(base_url, m.group(1).strip())
    return None


def moved_to(page: str, base_url: str) -> str | None:
    """Where a "本栏目已迁移" page sends its reader: its meta refresh, else the link in its notice."""
    target = meta_refresh(page, base_url)
    if target:
        return target
    root = _root(page)
    if root is None or not MOVED.search(norm(root.text_content())):
        return None
    for el in root.iter("p", "div", "td", "span", "li"):
        if MOVED.search(norm(el.text_content())) and len(el.text_content()) < 300:
            for link in page_links(lxml.html.tostring(el, encoding="unicode"), base_url):
                return link.url
    return None


def site_name(page: str) -> str | None:
    """<meta name="SiteName">, else the last part of the <title>."""
    m = re.search(r"""<meta[^>]+name=["']SiteName["'][^>]+content=["']([^"']+)["']""", page, re.I)
    if m and m.group(1).strip():
        return m.group(1).strip()
    t = re.search(r"<title>(.*?)</title>", page, re.S | re.I)
    if t:
        parts = re.split(r"\s*[-_|]\s*", html_lib.unescape(t.group(1)).strip())
        return parts[-1] or None
    return None


def county_of(name: str | None) -> str | None:
    """仙居县人民政府 -> 仙居县; 绍兴市上虞区人民政府 -> 上虞区."""
    if not name:
        return None
    m = re.search(r"(?:[\u4e00-\u9fff]{2,4}市)?([\u4e00-\u9fff]{1,8}?(?:自治县|县|区|市))人民政府", name)
    return m.group(1) if m else None


# -- what a link is ----------------------------------------------------------------------------------

def town_of(text: str) -> str | None:
    """The township a link's text names (朱溪镇, 竹里畲族乡, 百官街道), or None."""
    m = TOWN.match(norm(text))
    if not m:
        return None
    town = m.group(1)
    if town in ("乡镇", "城镇", "镇街", "镇乡", "街道", "各镇", "乡", "镇") or REPORT_NAME.search(town):
        return None
    return town


def _label_in(text: str, labels: tuple[str, ...]) -> bool:
    t = norm(text).replace("(", "（").replace(")", "）")
    return any(t == label.replace("(", "（").replace(")", "）") for label in labels)


def is_disclosure(text: str) -> bool:
    return _label_in(text, DISCLOSURE_LABELS)


def is_unit_list(text: str) -> bool:
    return _label_in(text, UNIT_LABELS)


def is_container(text: str) -> bool:
    return _label_in(text, CONTAINER_LABELS)


def column_kind(name: str) -> str:
    """What a column's name says it is: "decoy", "report", "container", "other" (not worth a look)
    or "unknown" (look at its rows). A decoy name wins over a report word in it (政府工作报告 has 工作)."""
    text = norm(name)
    if not text or len(text) > 20:
        return "other"
    if DECOY_NAME.search(text):
        return "decoy"
    if REPORT_NAME.search(text):
        return "report"
    if is_container(text):
        return "container"
    if OTHER_NAME.search(text) or town_of(text) or is_unit_list(text) or is_disclosure(text):
        return "other"
    return "unknown"


def report_titles(titles: list[str]) -> int:
    """How many of the titles read like a work plan or summary (and not a decoy's 政府工作报告 …)."""
    return sum(1 for t in titles if REPORT_TITLE.search(t) and not DECOY_TITLE.search(t))


def rows_look_like_reports(titles: list[str]) -> bool:
    """A column whose name says nothing counts by its rows: at least half of them reports."""
    return bool(titles) and report_titles(titles) * 2 >= len(titles)


def column_key(url: str) -> str:
    """One key per column whatever form a link names it in: host without www., no default port, and a
    jcms /col/col<id>/ column without its query (?uid=&pageNum= is the client's, anatomy 1.1)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port if parts.port not in (None, 80, 443) else None
    path = parts.path or "/"
    query = "" if re.search(r"/col/col\d+/", path) else parts.query
    if path.endswith("/index.html"):
        path = path[: -len("index.html")]
    return f"{host}{':' + str(port) if port else ''}{path}{'?' + query if query else ''}"


# -- jpaas navigation widgets --------------------------------------------------------------------------

_SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")


def jpaas_widgets(page: str, page_url: str) -> list[WidgetRequest]:
    """The GETs a jpaas page's unitbuild.js scripts make for their HTML, list widgets left out (the listing
    platform reads those). The script's `queryData` is single-quoted JSON (portal-anatomy 2.1)."""
    out = []
    for m in _SCRIPT_TAG.finditer(page):
        attrs = {a.group(1).lower(): next(g for g in a.groups()[1:] if g is not None) for a in _ATTR.finditer(m.group(1))}
        if "unitbuild" not in attrs.get("src", "") or "querydata" not in attrs or "url" not in attrs:
            continue
        try:
            data = json.loads(html_lib.unescape(attrs["querydata"]).replace("'", '"'))
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        tag = str(data.get("tagId", ""))
        if not tag or any(t in tag for t in JPAAS_LIST_TAGS):
            continue
        query = {"parseType": "bulidstatic", **{k: str(v) for k, v in data.items()}}
        url = urljoin(page_url, html_lib.unescape(attrs["url"])) + "?" + urlencode(query)
        headers = (("Referer", page_url), ("X-Requested-With", "XMLHttpRequest"),
                   ("Accept", "application/json, text/javascript, */*; q=0.01"))
        out.append(WidgetRequest(url=url, tag=tag, headers=headers))
    return out


def jpaas_widget_html(body: str) -> str | None:
    """The HTML a jpaas gateway answer carries ({"success":true,"data":{"html":…}}), or None."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict) or not payload.get("success"):
        return None
    data = payload.get("data")
    value = data.get("html") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None
