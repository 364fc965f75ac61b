"""Article extraction for jcms (and similar) government article pages.

The body is cut at the jcms content sentinels where present, else taken from the known
containers, and only as a last resort located with trafilatura.  Text is produced by our
own walk so that Word-pasted HTML keeps every character: digits, 年/月/日, % and · often
sit in their own <span>s, and inline elements must concatenate with nothing added
(trafilatura turns such spans into separate lines and collapses &nbsp; runs).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

import lxml.html
import trafilatura
from lxml import etree
from lxml.html import HtmlElement

from gongkai.ingest.dates import parse_date
from gongkai.ingest.metadata import (
    BLANK,
    LABEL_RE,
    META_LABELS,
    SKIP_TAGS,
    BodyRegion,
    collapse_ws,
    count_meta_labels,
    find_body_region,
    is_hidden,
    is_shown,
    parse_metadata_block,
    walk,
)
from gongkai.models import ArticleFields, Attachment

_BLOCK_TAGS = frozenset(
    {"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead",
     "tbody", "tfoot", "caption", "blockquote", "pre", "section", "article", "header", "footer", "nav",
     "aside", "center", "form", "fieldset", "address", "hr", "figure", "figcaption", "main", "details",
     "summary", "tr", "br"}
)
FILE_EXTS = (".doc", ".docx", ".pdf", ".xls", ".xlsx", ".wps", ".ofd", ".zip", ".rar", ".et")
_CHROME_ANCESTOR_RE = re.compile(r"(^|[\s_-])(header|footer|foot|nav|navbar|menu|topbar|bottom)([\s_-]|$)", re.I)
_TITLE_RSS_RE = re.compile(r"<!--\s*ZJEG_RSS\.title\.begin\s*-->(.*?)<!--\s*ZJEG_RSS\.title\.end\s*-->", re.S)
_TAG_RE = re.compile(r"<[^>]+>")
# Publish dates in article paths: jcms /art/2024/1/24/, TRS /202401/t20240115_123.html,
# Huzhou platform /20230224/i3513966.html.
_URL_DATE_RES = (
    re.compile(r"/art/(\d{4})/(\d{1,2})/(\d{1,2})/"),
    re.compile(r"/t(\d{4})(\d{2})(\d{2})_\d+\.s?html?$"),
    re.compile(r"/(\d{4})(\d{2})(\d{2})/i\d+\.s?html?$"),
)
_CELL_SEP = "\x1f"  # stands for the tab between cells until the line's whitespace is collapsed
# Opens a line that the page's structure shows to be body (a Unicode noncharacter: no page text holds it),
# so that the chrome-line filter spares it; _drop_chrome_lines takes it out again.
_BODY_MARK = "\ufdd0"
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)

# A tool-bar word (print, close, bookmark), bare or in 【】. A line of nothing else is the tool bar, except
# where the page's structure says it is a line of the report (see _body_word_lines).
_TOOL_WORD = r"【?\s*(打印本页|关闭本页|关闭窗口|打印|关闭|收藏本页|收藏)\s*】?"
_TOOL_LINE_RE = re.compile(rf"^({_TOOL_WORD}\s*)+$")
# The tool word that can also be a line of a report (a list of office equipment: 电脑 / 打印 / 复印): 打印本页,
# 关闭窗口, 收藏 and the rest are only ever buttons.
_BODY_WORD_RE = re.compile(r"^【?\s*打印\s*】?$")
# Lines that are page chrome, for bodies not cut by sentinels (containers, trafilatura). Each is anchored
# to the shape of the widget or info line, never to a word alone: a report may well say 总阅读次数达52万,
# 分享"枫桥经验"做法, 字号老店 or 无障碍模式改造完成, and those lines are body.
_CHROME_LINE_RES = [
    re.compile(p)
    for p in (
        r"^◇?\s*(您)?(当前|现在)(所在)?的?位置",
        r"^(发布日期|发布时间|公开日期|信息来源|来源)\s*[:：]\s*[\d\s:：年月日/.\-]*$",
        r"^.{0,60}(访问次数|浏览次数|点击次数|点击数|阅读次数)\s*[:：]?\s*\d*\s*$",
        r"^【?\s*字(号|体)\s*[:：]",
        r"^分享到?\s*[:：]|^扫一扫(在手机|手机)",
        _TOOL_LINE_RE.pattern,
        r"^编辑\s*[:：]\s*[(（]?\s*$",
        r"^相关(链接|附件)\s*[:：]?$",
        r"^(主办|承办|协办)(单位)?\s*[:：].{0,40}(ICP|备案|网站标识码|电话)",
        r"^.{0,80}(ICP\s*备\s*\d|公网安备\s*\d|网站标识码\s*[:：]?\s*\d|Produced\s+By|大汉网络|大汉版通)",
        r"^(进入)?(老年|无障碍)模式\s*$",
        r"^(上一篇|下一篇)\s*[:：]",
        r"^(责任编辑|编辑|审核|校对)\s*[:：].{0,30}$",
        r"^【?\s*我要纠错\s*】?$",
    )
]
_SENTENCE_PUNCT_RE = re.compile(r"[，。；！？]")
# A "page not found" page a portal answers with status 200 (soft 404, anatomy 7.5): its title or heading.
_NOT_FOUND_RE = re.compile(r"页面不存在|页面已删除|信息已删除|信息已撤销|文章不存在|找不到(该|此)?页面|页面未找到|404\s*(Not\s*Found|错误)",
                           re.I)
_CHALLENGE_STRONG_RE = re.compile(
    r"\$_ts\s*=|\$_ts\[|__jsl_clearance|__jsluid|safeline_bot_challenge|safeline_bot_token|"
    r"cf-browser-verification|challenge-platform|<title>\s*Just a moment",
    re.I,
)
_CHALLENGE_WEAK_RE = re.compile(r"Just a moment|请稍候|安全验证|访问过于频繁|访问异常|验证码|document\.cookie\s*=", re.I)
# A literal every match of the two patterns above contains (lower-cased): `in` over the lower-cased page
# is ~50x cheaper than those case-blind alternations, which cost a tenth of ingest time on every page.
_CHALLENGE_LITERALS = ("$_ts", "__jsl", "safeline_bot_", "cf-browser-verification", "challenge-platform",
                       "just a moment", "请稍候", "安全验证", "访问过于频繁", "访问异常", "验证码", "document.cookie")


def _parse(html: str) -> HtmlElement:
    """Parse decoded text (an XML declaration would make lxml refuse a str)."""
    html = _XML_DECL_RE.sub("", html, count=1)
    if not html.strip():
        html = "<html><body></body></html>"
    return lxml.html.document_fromstring(html)


class _Lines:
    """Accumulates inline text and breaks it into lines at block boundaries."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.buf: list[str] = []

    def add(self, text: str) -> None:
        self.buf.append(text)

    def brk(self) -> None:
        if self.buf:
            self.lines.append("".join(self.buf))
            self.buf = []

    def finish(self) -> list[str]:
        self.brk()
        cleaned = (collapse_ws(line).strip().replace(_CELL_SEP, "\t") for line in self.lines)
        return [line for line in cleaned if line]


def _text_lines(
    el: HtmlElement, use_markers: bool, skip: Callable[[HtmlElement], bool] | None = None,
    body: Collection[HtmlElement] = (),
) -> list[str]:
    """Plain-text lines of `el`: blocks break lines, inline elements concatenate, tr -> cells joined by tab.

    With `use_markers`, only text between the first content begin/end sentinels counts. The line of an
    element in `body` carries _BODY_MARK before its first character: its element, not its words, says it
    is the report's.
    """
    stack = [_Lines()]
    rows: list[list[list[str]]] = []
    numbers: dict[HtmlElement, int] = {}
    active = not use_markers
    done = False
    mark = False  # a line of `body` opened: the mark goes before its first character
    for event in walk(el, skip):
        kind = event[0]
        if kind == "marker":
            if event[1] and not done:
                active = True
            elif not event[1] and active and use_markers:
                active = False
                done = True
            continue
        if kind == "text":
            if active:
                if mark and event[1].strip(BLANK):
                    stack[-1].add(_marked(event[1]))
                    mark = False
                else:
                    stack[-1].add(event[1])
            continue
        node = event[1]
        tag = node.tag.lower() if isinstance(node.tag, str) else ""
        if kind == "end" and (tag in _BLOCK_TAGS or tag in ("td", "th")):
            mark = False  # its line ended with no text shown (hidden): the next line is not the one marked
        if tag == "li" and kind == "start" and active:
            number = _list_number(node, numbers)
            if number:
                stack[-1].brk()
                stack[-1].add(number)
                continue
        if tag in ("td", "th"):
            if kind == "start":
                stack.append(_Lines())
            elif len(stack) > 1:
                cell_lines = stack.pop().finish()
                if rows:
                    rows[-1].append(cell_lines)
                else:
                    _emit(stack[-1], cell_lines)
        elif tag == "tr":
            stack[-1].brk()
            if kind == "start":
                rows.append([])
            elif rows:
                cells = [c for c in rows.pop() if c]
                if len(cells) == 1:
                    # A layout table (jcms wraps #zoom in <td>): its paragraphs stay lines.
                    _emit(stack[-1], cells[0])
                elif cells:
                    stack[-1].add(_CELL_SEP.join(" ".join(c) for c in cells))
                    stack[-1].brk()
        elif tag in _BLOCK_TAGS:
            stack[-1].brk()
            if kind == ("end" if tag == "br" else "start") and active and node in body:
                mark = True  # a <br>'s line is its tail, after its end
    while len(stack) > 1:
        _emit(stack[-2], stack.pop().finish())
    return stack[0].finish()


def _marked(text: str) -> str:
    """`text` with _BODY_MARK after its leading blanks, which the line's collapse must still strip."""
    lead = len(text) - len(text.lstrip(BLANK))
    return text[:lead] + _BODY_MARK + text[lead:]


def _list_number(li: HtmlElement, numbers: dict[HtmlElement, int]) -> str:
    """"3. " for the third item of a numbered list (<ol>, decimal: what a browser shows), else ""."""
    ol = li.getparent()
    if ol is None or not isinstance(ol.tag, str) or ol.tag.lower() != "ol" or (ol.get("type") or "1") != "1":
        return ""
    if "list-style" in (ol.get("style") or "") and "none" in (ol.get("style") or ""):
        return ""
    if ol not in numbers:
        start = (ol.get("start") or "1").strip()
        numbers[ol] = (int(start) if start.lstrip("-").isdigit() else 1) - 1
    value = (li.get("value") or "").strip()
    numbers[ol] = int(value) if value.isdigit() else numbers[ol] + 1
    return f"{numbers[ol]}. "


def _emit(builder: _Lines, lines: list[str]) -> None:
    """Append finished lines to `builder`, each as its own line."""
    builder.brk()
    for line in lines:
        builder.add(line.replace("\t", _CELL_SEP))  # keep tabs of nested table rows
        builder.brk()


def _is_chrome_line(line: str) -> bool:
    """An info line, widget or footer line of the page, not a line of the report.

    A line that opens with a metadata label is chrome when it shows two or more labels (来源：X 发布时间：Y)
    or is short and no sentence (发布机构：某某镇). A sentence that opens with one (来源：镇统计站数据显示，…)
    is body, and so is a lone 日期： line, which is how a report's signature ends.
    """
    if any(r.search(line) for r in _CHROME_LINE_RES):
        return True
    match = LABEL_RE.match(line)
    if not (match and (match.group("colon") or "\t" in line)):
        return False
    label = re.sub(r"\s", "", match.group("label"))
    if label not in META_LABELS:
        return False
    if count_meta_labels(line) >= 2:
        return True
    return label != "日期" and len(line) <= 40 and not _SENTENCE_PUNCT_RE.search(line) and "\t" not in line


def _drop_chrome_lines(lines: list[str]) -> list[str]:
    """The lines that are not chrome, unmarked: a line marked as body by its element stays whatever it says."""
    kept = (ln.replace(_BODY_MARK, "") for ln in lines if _BODY_MARK in ln or not _is_chrome_line(ln))
    return [ln for ln in kept if ln.strip(BLANK)]


# Blocks that may hold a one-word line of the report, and the names of tool bars and their buttons.
_WORD_BLOCK_TAGS = ("p", "li", "div")
_CONTROL_TAGS = frozenset({"a", "area", "button", "input", "select"})
# Anywhere in an id or class (btnPrint, printBtn, doPrint, article-print, btnClose), or as a whole name
# (dy, prt); "close" not inside a word (a div.disclosure holds the report).
_CONTROL_NAME_RE = re.compile(r"(?i:print|dayin|btn|button|toolbar|toolbox)|(?<![a-z])close|Close"
                              r"|(?<![A-Za-z])(?:dy|prt|gb)(?![A-Za-z])")
# Short text nodes with the first character of a tool word (a Word paste may split the word across spans):
# a one-word line has no longer ones, and a report says 相关 or 机关 in most of its paragraphs.
_TOOL_TEXT_XPATH = (".//text()[string-length(normalize-space(.)) <= 20]"
                    "[contains(., '打') or contains(., '关') or contains(., '收')]")


def _body_word_lines(top: HtmlElement) -> set[HtmlElement]:
    """The elements under `top` that open a line of one tool word (打印, 【打印】, ...) of the report: a block
    that says only that, or a <br> whose text up to the next break does.

    The same words make up the print and close buttons on nearly every page, so the words cannot tell;
    the structure can. A button is a link, form control or onclick element, sits in a tool, share or
    footer bar, or shares its line with other tool words (those lines never come here). A plain line
    with none of that, next to a line of the report and to no other tool word, is the report's.
    """
    found: set[HtmlElement] = set()
    seen: set[HtmlElement] = set()
    for text in top.xpath(_TOOL_TEXT_XPATH):  # from the few texts that may hold one: cheap on long pages
        node = text.getparent()
        if text.is_tail:
            if _tag(node) == "br" and _is_body_word_break(node, top):
                found.add(node)
            node = node.getparent()
        while node is not None and node is not top and node not in seen:
            seen.add(node)
            if _tag(node) in _WORD_BLOCK_TAGS:
                if not _BODY_WORD_RE.match(node.text_content().strip(BLANK)):
                    break  # nor will any block around it
                if _is_body_word_block(node, top):
                    found.add(node)
            node = node.getparent()
    return found


def _tag(el: HtmlElement) -> str:
    return el.tag.lower() if isinstance(el.tag, str) else ""


# A line beside a one-word line: all the text it shows, and the part of it outside links and controls.
_Line = tuple[str, str]


def _is_body_word_block(el: HtmlElement, top: HtmlElement) -> bool:
    """Whether `el`, a block saying one tool word, is plain and stands among the report's paragraphs."""
    if any(_is_control(d) or _named(d, _CONTROL_NAME_RE) for d in el.iter()) or _in_tool_bar(el, top):
        return False
    siblings = (_element_sibling(el, forward) for forward in (False, True))
    return _among_body_lines([_block_line(s) for s in siblings if s is not None])


def _is_body_word_break(br: HtmlElement, top: HtmlElement) -> bool:
    """Whether the line after `br`, up to the next break, is one plain tool word between lines of the
    report (正文。<br>打印<br>正文。), in no tool bar."""
    text, own = _run_text(br.tail, br.getnext())
    if not _BODY_WORD_RE.match(text.strip(BLANK)) or own != text or _in_tool_bar(br.getparent(), top):
        return False
    after = br.getnext()
    while after is not None and _tag(after) not in _BLOCK_TAGS:
        after = after.getnext()
    if after is None:
        return _among_body_lines([_line_before(br)])
    after_line = _run_text(after.tail, after.getnext()) if _tag(after) == "br" else _block_line(after)
    return _among_body_lines([_line_before(br), after_line])


def _line_before(br: HtmlElement) -> _Line:
    """The line that ends at `br`: from the break before it (or its parent's start) on."""
    node = br.getprevious()
    while node is not None and _tag(node) not in _BLOCK_TAGS:
        node = node.getprevious()
    if node is None:
        parent = br.getparent()
        return _run_text(parent.text, parent[0])
    line = _run_text(node.tail, node.getnext())
    return _block_line(node) if _tag(node) != "br" and not line[0].strip(BLANK) else line


def _run_text(text: str | None, node: HtmlElement | None) -> _Line:
    """The line that `text` opens in its parent, running over the siblings from `node` to the next break."""
    full, own = [text or ""], [text or ""]
    while node is not None and _tag(node) not in _BLOCK_TAGS:
        if isinstance(node.tag, str) and is_shown(node):
            full.append(node.text_content())
            own.append(_own_text(node))
        full.append(node.tail or "")
        own.append(node.tail or "")
        node = node.getnext()
    return "".join(full), "".join(own)


def _block_line(el: HtmlElement) -> _Line:
    """A sibling as a line; only a block's own text can be a line of the report."""
    return el.text_content(), (_own_text(el) if _tag(el) in _WORD_BLOCK_TAGS else "")


def _among_body_lines(lines: list[_Line]) -> bool:
    """Whether a one-word line stands between two lines of the report: a print button ends the body (or
    sits among other tool words, a tool bar), a line of the report has the report on both sides."""
    shown = [(collapse_ws(full), collapse_ws(own)) for full, own in lines]
    return len(shown) == 2 and all(own and not _is_chrome_line(full) and not _TOOL_LINE_RE.match(full)
                                   for full, own in shown)


def _element_sibling(el: HtmlElement, forward: bool) -> HtmlElement | None:
    """The nearest sibling element that a browser shows (comments and hidden elements are passed over)."""
    node = el.getnext() if forward else el.getprevious()
    while node is not None and not (isinstance(node.tag, str) and is_shown(node)):
        node = node.getnext() if forward else node.getprevious()
    return node


def _own_text(el: HtmlElement) -> str:
    """The text `el` shows outside links and controls: a menu entry or a button has none."""
    if _is_control(el):
        return ""
    return "".join(e[1] for e in walk(el, _is_control) if e[0] == "text")


def _is_control(el: HtmlElement) -> bool:
    """A thing to click: a link, a form control, or an element with an onclick or javascript: handler."""
    return (_tag(el) in _CONTROL_TAGS or el.get("onclick") is not None
            or (el.get("href") or "").strip().lower().startswith("javascript:"))


def _in_tool_bar(el: HtmlElement, top: HtmlElement) -> bool:
    """Whether `el` or an ancestor below `top` is a control, or is named as a tool, share, print or page
    frame bar: a button need not be a link there (scripts bind clicks by class)."""
    node: HtmlElement | None = el
    while node is not None and node is not top:
        if isinstance(node.tag, str) and (_is_control(node) or _is_chrome_container(node) or _is_tail_widget(node)
                                          or _named(node, _CONTROL_NAME_RE)):
            return True
        node = node.getparent()
    return False


def _first_text(root: HtmlElement, xpath: str) -> str:
    for el in root.xpath(xpath):
        text = collapse_ws(re.sub(r"\s+", " ", el.text_content()))
        if text:
            return text
    return ""


def _title(root: HtmlElement, html: str) -> str:
    """The article's own title (never <title>, which carries the column and site suffix)."""
    for meta in root.xpath("//meta[@name='ArticleTitle' or @name='articletitle']/@content"):
        text = " ".join(meta.split())
        if text:
            return text
    match = _TITLE_RSS_RE.search(html)
    if match:
        text = " ".join(lxml.html.fromstring(f"<div>{match.group(1)}</div>").text_content().split())
        if text:
            return text
    for xpath in (
        "//td[contains(concat(' ', normalize-space(@class), ' '), ' title ')]",
        "//div[contains(concat(' ', normalize-space(@class), ' '), ' title ')]",
        "//*[@id='ivs_title']",
        "//h1",
    ):
        text = " ".join(_first_text(root, xpath).split())
        if text:
            return text
    raw = " ".join((root.findtext(".//title") or "").split())
    heading = _heading_opening(root, raw)
    if heading:
        return heading
    for site in root.xpath("//meta[@name='SiteName' or @name='sitename']/@content"):
        site = " ".join(site.split())
        if site and raw.endswith(site) and len(raw) > len(site):
            stripped = raw[: -len(site)].rstrip(" -_|–—")
            if stripped != raw[: -len(site)]:  # only when a separator stood before the site name
                raw = stripped
                break
    return " ".join(re.split(r"\s+[-|_]\s+", raw)[0].split())


def _heading_opening(root: HtmlElement, page_title: str) -> str:
    """The longest visible heading (h1-h3, or a *tit* class) whose text opens the <title>.

    Templates such as the Huzhou platform put the title in <h2 class="tit"> and glue the
    site name to <title> without spaces ("标题-安吉县人民政府"), so splitting <title> fails.
    The longest wins so that a section heading such as <h2>白杨街道</h2> cannot pass for it.
    """
    if not page_title:
        return ""
    best = ""
    for el in root.xpath("//h1|//h2|//h3|//*[contains(translate(@class, 'TIL', 'til'), 'tit')]"):
        if is_hidden(el) or _in_chrome(el):
            continue
        text = " ".join(el.text_content().split())
        if len(text) >= 4 and len(text) > len(best) and page_title.startswith(text):
            best = text
    return best


_META_BLOCK_TAGS = frozenset({"table", "dl", "ul", "ol", "div", "p"})


def _metadata_blocks(root: HtmlElement, keep: HtmlElement | None = None) -> set[HtmlElement]:
    """Small elements that show two or more metadata labels: the 索引号 block and the info line.

    Bodies that are not cut by sentinels must not carry them; `keep` (the body container)
    and its ancestors are never treated as such a block.
    """
    protected = set(keep.iterancestors()) | {keep} if keep is not None else set()
    candidates: dict[HtmlElement, int] = {}
    for el in root.iter(*_META_BLOCK_TAGS):
        if el in protected or is_hidden(el):
            continue
        text = el.text_content()
        if len(text) < 600 and not _has_prose(el):
            labels = count_meta_labels(text)
            if labels >= 2:
                candidates[el] = labels
    # A wrapper is a block only if it shows more labels than any one block inside it (the doubled
    # desktop + mobile block); otherwise the inner block is enough and the wrapper may hold the body.
    blocks = {
        el for el, labels in candidates.items()
        if not any(candidates.get(d, 0) >= labels for d in el.iterdescendants(*_META_BLOCK_TAGS))
    }
    # Nor is a wrapper that holds text besides its label-bearing parts (the 索引号 table, the info line and
    # a short body in one <div>, in short Word-split spans that _has_prose cannot see): its parts are.
    out: set[HtmlElement] = set()
    for el in blocks:
        inner = {d for d in el.iterdescendants(*_META_BLOCK_TAGS)
                 if len(d.text_content()) < 600 and count_meta_labels(d.text_content())}
        if inner and len(_squash("".join(e[1] for e in walk(el, inner.__contains__) if e[0] == "text"))) > 40:
            out |= {d for d in inner if count_meta_labels(d.text_content()) >= 2}
        else:
            out.add(el)
    return out


_PROSE_CHARS = 60


def _has_prose(el: HtmlElement) -> bool:
    """True when `el` holds a paragraph-length run of text with no label in it: body, not metadata.

    Metadata values (索引号, 发布机构, dates, 主题分类) are short; a short article in a small
    wrapper next to its info line (来源/发布时间) must not be dropped as a metadata block.
    """
    for event in walk(el):
        if event[0] == "text":
            text = event[1].strip(BLANK)
            if len(text) >= _PROSE_CHARS and not count_meta_labels(text):
                return True
    return False


def _clean_copy_for_trafilatura(root: HtmlElement) -> str:
    """The page without scripts, hidden nodes, header/footer/nav chrome, as HTML text."""
    copy = lxml.html.document_fromstring(lxml.html.tostring(root, encoding="unicode"))
    blocks = _metadata_blocks(copy)
    for el in list(copy.iter()):
        if not isinstance(el.tag, str) or el.getparent() is None:
            continue
        if (
            el.tag.lower() in SKIP_TAGS - {"head", "title"}
            or is_hidden(el)
            or _is_chrome_container(el)
            or el in blocks
        ):
            el.drop_tree()
    return lxml.html.tostring(copy, encoding="unicode")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _trafilatura_lines(root: HtmlElement) -> list[str]:
    """Use trafilatura only to choose which of our own lines are the article.

    Its text is not used directly: it splits Word spans onto separate lines and collapses
    &nbsp; runs.  A line of ours is kept when most of its 6-character shingles occur in
    trafilatura's output; a short one (a menu item would match anywhere) only when it is a whole
    line there, or a table row. Table pipes of trafilatura's output are ignored: our rows join
    cells with a tab. Our lines skip header/footer/nav chrome as trafilatura's input does.
    """
    cleaned = _clean_copy_for_trafilatura(root)
    extracted = trafilatura.extract(cleaned, favor_recall=True, include_tables=True, include_comments=False) or ""
    target = _squash(extracted.replace("|", ""))
    if not target:
        return []
    whole_lines = {_squash(line.replace("|", "")) for line in extracted.split("\n")}
    body = root.find("body")
    blocks = _metadata_blocks(root)
    top = body if body is not None else root
    ours = _text_lines(top, use_markers=False, skip=lambda el: el in blocks or _is_chrome_container(el),
                       body=_body_word_lines(top))
    kept = []
    for line in ours:
        flat = _squash(line.replace(_BODY_MARK, ""))
        if not flat:
            continue
        if len(flat) < 12:
            if flat in whole_lines or (len(flat) >= 4 and "\t" in line and flat in target):
                kept.append(line)
            continue
        if flat in target:
            kept.append(line)
            continue
        shingles = [flat[i : i + 6] for i in range(0, max(len(flat) - 5, 1))]
        if sum(1 for s in shingles if s in target) >= 0.6 * len(shingles):
            kept.append(line)
    return kept


def _named(el: HtmlElement, pattern: re.Pattern[str]) -> bool:
    """Whether the element's id or class names it as `pattern` says."""
    return bool(pattern.search(f"{el.get('id') or ''} {el.get('class') or ''}"))


def _is_chrome_container(el: HtmlElement, ident_re: re.Pattern[str] = _CHROME_ANCESTOR_RE) -> bool:
    tag = el.tag.lower() if isinstance(el.tag, str) else ""
    return tag in ("header", "footer", "nav") or _named(el, ident_re)


# Widgets a template puts inside the body's container, after the text: related articles, share and
# print bars (div.related, .xgwz 相关文章, .bdsharebuttonbox, .tools).
_TAIL_WIDGET_RE = re.compile(r"(^|[\s_-])(related|relate|xgwz|xglj|xgxx|share|bdsharebuttonbox|fenxiang|tools)"
                             r"([\s_-]|$)", re.I)


def _is_tail_widget(el: HtmlElement) -> bool:
    return _named(el, _TAIL_WIDGET_RE)


def _in_chrome(el: HtmlElement, ident_re: re.Pattern[str] = _CHROME_ANCESTOR_RE) -> bool:
    """Inside a header, footer or navigation element, or one whose id/class `ident_re` names so."""
    node: HtmlElement | None = el
    while node is not None:
        if isinstance(node.tag, str) and _is_chrome_container(node, ident_re):
            return True
        node = node.getparent()
    return False


def _base_url(root: HtmlElement, url: str) -> str:
    for href in root.xpath("//base/@href"):
        if href.strip():
            return urljoin(url, href.strip())
    return url


def _is_file_link(absolute: str) -> bool:
    parts = urlsplit(absolute)
    path = unquote(parts.path).lower()
    return path.endswith(FILE_EXTS) or path.endswith("/module/download/downfile.jsp")


def _shown(el: HtmlElement, top: HtmlElement) -> bool:
    """True when `walk(top)` would visit el: neither it nor an ancestor below `top` is hidden or skipped."""
    node: HtmlElement | None = el
    while node is not None and node is not top:
        if not is_shown(node):
            return False
        node = node.getparent()
    return True


def _attachments(root: HtmlElement, url: str) -> list[Attachment]:
    """File links of the article in document order, deduplicated by absolute URL."""
    base = _base_url(root, url)
    body = root.find("body")
    top = body if body is not None else root
    found: list[Attachment] = []
    seen: set[str] = set()
    for a in top.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.lower().startswith(("javascript:", "mailto:", "#")):
            continue
        absolute = urljoin(base, href)
        if absolute in seen or not _is_file_link(absolute) or not _shown(a, top) or _in_chrome(a, _FRAME_RE):
            continue
        seen.add(absolute)
        name = " ".join(a.text_content().split())
        if not name:
            query = parse_qs(urlsplit(absolute).query)
            name = (query.get("showname") or [""])[0].strip()
        if not name:
            query = parse_qs(urlsplit(absolute).query)
            name = (query.get("filename") or [""])[0] or file_name(absolute)
        found.append(Attachment(name=name, url=absolute))
    # A report shown in an embedded PDF viewer (#pdfshow[data-value], <embed>/<iframe>/<object>), not linked.
    for el in top.xpath("//*[@id='pdfshow'][@data-value] | //embed[@src] | //iframe[@src] | //object[@data]"):
        ref = (el.get("data-value") or el.get("src") or el.get("data") or "").strip()
        absolute = urljoin(base, ref) if ref else ""
        if not absolute or absolute in seen or not _is_file_link(absolute) or _in_chrome(el, _FRAME_RE):
            continue
        seen.add(absolute)
        found.append(Attachment(name=file_name(absolute), url=absolute))
    return found


# The site's own frame: header, footer, navigation. Narrower than _CHROME_ANCESTOR_RE (no "bottom",
# "foot"): a file list in an article's tail (div.art_bottom, .con-foot, after the body) is the article's.
_FRAME_RE = re.compile(r"(^|[\s_-])(header|footer|nav|navbar|menu|topbar)([\s_-]|$)", re.I)


def file_name(url: str) -> str:
    """The last path segment of a file's URL, %-decoded: the name a link without text goes by."""
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def _body_images(root: HtmlElement, region: BodyRegion, url: str) -> list[Attachment]:
    """The images of a body that has no text (a report published as scanned pages, anatomy 3.5), in
    order: its only content, kept as attachments so the report is stored and not retried forever."""
    if not region.markers and region.container is None:
        return []  # no known body: a page's images are its logos and banners
    base = _base_url(root, url)
    body = root.find("body")
    top = region.container if region.container is not None else (body if body is not None else root)
    found: list[Attachment] = []
    seen: set[str] = set()
    active = not region.markers
    for event in walk(top):
        if event[0] == "marker":
            active = event[1]
            continue
        if not active or event[0] != "start" or not isinstance(event[1].tag, str) or event[1].tag.lower() != "img":
            continue
        src = (event[1].get("src") or "").strip()
        if not src or src.startswith("data:"):
            continue
        absolute = urljoin(base, src)
        if absolute not in seen:
            seen.add(absolute)
            found.append(Attachment(name=file_name(absolute), url=absolute))
    return found


def _meta_value(meta: dict[str, str], *keys: str) -> str | None:
    for key in keys:
        value = meta.get(key)
        if value is not None and value.strip() and value.strip() != "无":
            return value.strip()
    return None


def _date_from(meta: dict[str, str], *keys: str) -> str | None:
    for key in keys:
        parsed = parse_date(meta.get(key) or "")
        if parsed:
            return parsed
    return None


def _url_date(url: str) -> str | None:
    """The publish date a portal writes into the article path, if any."""
    path = urlsplit(url).path
    for pattern in _URL_DATE_RES:
        match = pattern.search(path)
        if match:
            return parse_date("-".join(match.groups()))
    return None


def extract_article(html: str, url: str) -> ArticleFields:
    """Extract title, body, metadata, dates and attachments from one decoded article page."""
    root = _parse(html)
    title = _title(root, html)
    region = find_body_region(root)
    in_body: Callable[[HtmlElement], bool] | None = None
    if region.markers:
        body_el = root.find("body")
        lines = _text_lines(body_el if body_el is not None else root, use_markers=True)
    elif region.container is not None:
        blocks = _metadata_blocks(region.container, keep=region.container)
        lines = _drop_chrome_lines(_text_lines(region.container, use_markers=False,
                                               skip=lambda el: el in blocks or _is_tail_widget(el),
                                               body=_body_word_lines(region.container)))
        # The metadata is read outside the body (and from blocks inside it): a body line 来源：… is not.
        body_elements = set(region.container.iter()).difference(*(set(b.iter()) for b in blocks))
        in_body = body_elements.__contains__
    else:
        lines = _drop_chrome_lines(_trafilatura_lines(root))
    lines = without_title(lines, title)
    attachments = _attachments(root, url)
    if not lines and not attachments:  # a scanned report: its pages are images in the body
        attachments = _body_images(root, region, url)

    meta = parse_metadata_block(root, title=title, skip=in_body)
    published = _date_from(meta, "发布日期", "公开日期", "发布时间", "公布日期", "日期")
    if published is None:
        for pub in root.xpath("//meta[@name='PubDate' or @name='pubdate']/@content"):
            published = parse_date(pub)
            if published:
                break
    if published is None:
        published = _url_date(url)

    return ArticleFields(
        title=title,
        body="\n".join(lines),
        index_no=_meta_value(meta, "索引号", "信息索引号"),
        publisher=_meta_value(meta, "发布机构", "发布单位", "发文机关"),
        doc_no=_meta_value(meta, "文号", "文件编号", "发文字号"),
        written_date=_date_from(meta, "成文日期", "生成日期", "发文日期"),
        published_date=published,
        category=_meta_value(meta, "组配分类", "主题分类", "公开目录"),
        attachments=attachments,
        metadata=meta,
    )


def without_title(lines: list[str], title: str) -> list[str]:
    """The body without the title the page repeats as its first line (or two, split by a <br>), spacing
    aside."""
    flat = _squash(title)
    while flat and lines:  # the page's title cell, then the body's own copy: both go
        if _squash(lines[0]) == flat:
            lines = lines[1:]
        elif len(lines) > 1 and _squash(lines[0] + lines[1]) == flat:
            lines = lines[2:]
        else:
            break
    return lines


def _visible_text(root: HtmlElement) -> str:
    body = root.find("body")
    parts = [e[1] for e in walk(body if body is not None else root) if e[0] == "text"]
    return _squash("".join(parts))


def is_not_found_page(html: str) -> bool:
    """True for a "page not found" page served with status 200 (a soft 404), never for an article.

    It says so in its <title> or a heading, and has neither an article title meta nor content sentinels
    nor much text: a real report may well say 页面不存在 somewhere in its body.
    """
    if not _NOT_FOUND_RE.search(html) or "ZJEG_RSS.content" in html or re.search(r"ArticleTitle", html, re.I):
        return False
    try:
        root = _parse(html)
    except (etree.ParserError, ValueError):
        return False
    said = " ".join([root.findtext(".//title") or ""] + [h.text_content() for h in root.xpath("//h1|//h2|//h3")])
    return bool(_NOT_FOUND_RE.search(said)) and len(_visible_text(root)) < 300


def is_challenge_page(html: str) -> bool:
    """True for WAF / anti-bot shells (Ruishu $_ts, 加速乐, SafeLine, "Just a moment", 验证码 walls).

    A shell has almost no visible text; a real article that merely mentions 验证码 has a
    body, so weak words only count on near-empty pages, strong script markers on short ones.
    """
    if not html:
        return False
    lowered = html.lower()
    if not any(literal in lowered for literal in _CHALLENGE_LITERALS):
        return False
    strong = _CHALLENGE_STRONG_RE.search(html) is not None
    if not strong and not _CHALLENGE_WEAK_RE.search(html):
        return False  # most pages: no need to parse and walk them a second time
    try:
        root = _parse(html)
    except (etree.ParserError, ValueError):
        return False
    visible = len(_visible_text(root))
    if strong and visible < 1000:
        return True
    if "ZJEG_RSS.content" in html or 'name="ArticleTitle"' in html:
        return False
    return bool(_CHALLENGE_WEAK_RE.search(html)) and visible < 300
