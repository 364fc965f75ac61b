"""The 索引号 metadata block of jcms article pages, and the tree walk shared with the extractor.

No general-purpose extractor reads this block (trafilatura leaks it into the body), and
portals print it in at least six layouts: td pairs with spaced labels (索 引 号), th/td,
4-column rows, inline runs ("索引号: X 发布机构: Y"), label and value in separate <li>s,
<dl> with &emsp;-padded labels, div/span rows, "·"-separated runs without colons (Huzhou
platform), a duplicated desktop table + mobile list.  Rather than one parser per layout, the
page is flattened into text chunks (one per text node, so every element boundary splits)
and scanned for known labels; a label's value is the rest of its chunk up to the next
label, or else the next chunk when that chunk sits in the same small subtree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lxml import etree
from lxml.html import HtmlElement

# Labels whose values the pipeline keeps (longest first where one contains another).
META_LABELS: tuple[str, ...] = (
    "信息索引号", "索引号",
    "文件编号", "发文字号", "文号",
    "公开方式", "公开形式", "公开时限", "公开范围",
    "成文日期", "发文日期", "生成日期", "成文时间",
    "公开日期", "发布日期", "公布日期", "发布时间",
    "发布机构", "发布单位", "发文机关", "发文机构",
    "组配分类", "公开目录", "主题分类", "体裁分类",
    "有效性", "文件效力", "统一编号",
    "信息来源", "来源",
    "日期",  # Linhai's info line: 日期：2024-02-01 来源：上盘镇 浏览次数：
)
# Short labels that are also word endings (更新日期, 截止日期): they count only at the start of a word.
WORD_START_LABELS = frozenset({"日期"})
# Counters and widgets: recognised so they end the preceding value, never stored.
IGNORED_LABELS: tuple[str, ...] = (
    "访问次数", "浏览次数", "点击次数", "点击数", "阅读次数", "字号", "字体", "分享到", "分享",
)

_WS = r"[\s\u3000\xa0]*"
_ALL_LABELS = sorted(META_LABELS + IGNORED_LABELS, key=len, reverse=True)
LABEL_RE = re.compile(
    "(?P<label>" + "|".join(_WS.join(map(re.escape, lab)) for lab in _ALL_LABELS) + ")"
    + r"[ \t\r\n\f\xa0\u3000]*(?P<colon>[:：])?"
)
_STRIP_KEY_RE = re.compile(r"[\s\u3000\xa0:：]+")
# What a page shows as blank: HTML's whitespace, NBSP and the ideographic space.
BLANK = " \t\r\n\f\xa0\u3000"
# A colon in a text node of its own (<b>索引号</b>：<span>…) separates like a bullet.
_BULLETS = BLANK + "•·●◆■▪◇|│/【】[]:："
_VALUE_STRIP = " \u3000•·●◆■▪|│:："
_ASCII_WS_RE = re.compile(r"[ \t\r\n\f]+")

# Elements whose content is never visible article text.
SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "iframe", "frame", "object", "embed", "select", "option",
     "button", "textarea", "input", "head", "title", "svg", "canvas", "map", "audio", "video"}
)
_HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)

# Containers that hold the article body on jcms / TRS / ivs templates, best first.
BODY_CONTAINERS: tuple[str, ...] = (
    "//*[@id='zoom']",
    "//*[@id='ivs_content']",
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' con_wen ')]",
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' article_zoom ')]",
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' TRS_Editor ')]",
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' body ')]",
)


def normalize_label(label: str) -> str:
    """Label as a key: all whitespace (incl. U+3000/NBSP/&emsp;) and colons removed."""
    return _STRIP_KEY_RE.sub("", label)


# A line break in the HTML source between two Chinese characters (or a Chinese character and a figure) is
# no space: Word's HTML export wraps long paragraphs anywhere, 党的\n二十大 must read 党的二十大 (CSS Text 3
# drops such segment breaks between East Asian wide characters).
_WIDE = "\u2e80-\u2fdf\u3001-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff60"
_CJK_BREAK_RE = re.compile(
    rf"(?<=[{_WIDE}])[ \t\r\f]*\n[ \t\r\n\f]*(?=[{_WIDE}0-9])|(?<=[0-9%])[ \t\r\f]*\n[ \t\r\n\f]*(?=[{_WIDE}])")


def collapse_ws(text: str) -> str:
    """HTML whitespace semantics for one line: ASCII runs collapse, NBSP becomes a space, a source line
    break between Chinese characters goes."""
    if "\n" in text:
        text = _CJK_BREAK_RE.sub("", text)
    return _ASCII_WS_RE.sub(" ", text).replace("\xa0", " ").strip()


def is_hidden(el: HtmlElement) -> bool:
    """True for elements a browser would not show (inline display:none, hidden attribute)."""
    if el.get("hidden") is not None:
        return True
    if (el.get("type") or "").lower() == "hidden":
        return True
    style = el.get("style")
    return bool(style and _HIDDEN_STYLE_RE.search(style))


def is_shown(el: HtmlElement) -> bool:
    """What `walk` descends into: an element neither skipped (script, style, ...) nor hidden."""
    return el.tag.lower() not in SKIP_TAGS and not is_hidden(el)


def _marker(node: etree._Element) -> bool | None:
    """True/False for a body begin/end sentinel (ZJEG_RSS comments, ContentStart/End meta)."""
    if node.tag is etree.Comment:
        text = (node.text or "").strip()
        if text == "ZJEG_RSS.content.begin":
            return True
        if text == "ZJEG_RSS.content.end":
            return False
        return None
    if node.tag == "meta":
        name = (node.get("name") or "").strip()
        if name == "ContentStart":
            return True
        if name == "ContentEnd":
            return False
    return None


Event = tuple  # ("start", el) | ("end", el) | ("text", str, owner) | ("marker", bool)


def walk(el: HtmlElement, skip: Callable[[HtmlElement], bool] | None = None) -> Iterator[Event]:
    """Document-order events over the visible part of `el` (its own tail excluded).

    Elements for which `skip` is true are left out like hidden ones (their tail is kept). Iterative, with
    an explicit stack: Word-pasted pages nest spans deep, and a recursive generator passed every event up
    through each level (two thirds of extraction time).
    """
    yield ("start", el)
    if el.text:
        yield ("text", el.text, el)
    stack = [(el, iter(el))]
    while stack:
        parent, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            yield ("end", parent)
            if stack and parent.tail:
                yield ("text", parent.tail, stack[-1][0])
            continue
        mark = _marker(child)
        if mark is not None:
            yield ("marker", mark)
        elif isinstance(child.tag, str) and is_shown(child) and not (skip and skip(child)):
            yield ("start", child)
            if child.text:
                yield ("text", child.text, child)
            stack.append((child, iter(child)))
            continue  # its tail follows its "end"
        if child.tail:
            yield ("text", child.tail, parent)


def has_content_markers(root: HtmlElement) -> bool:
    """True when the page carries a begin sentinel followed later by an end sentinel."""
    seen_begin = False
    for node in root.iter():
        mark = _marker(node)
        if mark is True:
            seen_begin = True
        elif mark is False and seen_begin:
            return True
    return False


@dataclass
class BodyRegion:
    """Where the body is: between sentinels (`markers`), in `container`, or unknown."""

    markers: bool = False
    container: HtmlElement | None = None


def find_body_region(root: HtmlElement) -> BodyRegion:
    """Locate the body: content sentinels first, then the known containers."""
    if has_content_markers(root):
        return BodyRegion(markers=True)
    for xpath in BODY_CONTAINERS:
        for el in root.xpath(xpath):
            if not is_hidden(el):
                return BodyRegion(container=el)
    return BodyRegion()


# A table or list cell is one chunk, whatever spans it is split into: Word-pasted blocks split labels
# (<span>发布</span><span>机构：</span>) and values (某某<span>镇</span>, <span>2025</span>年<span>1</span>月…).
_CELL_TAGS = frozenset({"td", "th", "dd", "dt", "li"})


def iter_chunks(root: HtmlElement, skip_marked_body: bool) -> Iterator[tuple[str, HtmlElement]]:
    """Non-blank text outside the sentinel-marked body, with its owning element: one chunk per text node,
    or per innermost table/list cell (its whole text, owned by the cell)."""
    body = root.find("body")
    start = body if body is not None else root
    inside = False
    done = False
    cells: list[tuple[HtmlElement, list[str]]] = []  # open cells, innermost last, with their text so far

    def flush() -> Iterator[tuple[str, HtmlElement]]:
        cell, parts = cells[-1]
        text = "".join(parts)
        parts.clear()
        if text.strip(BLANK):
            yield text, cell

    for event in walk(start):
        kind = event[0]
        if kind == "marker":
            if event[1] and not done:
                inside = True
            elif not event[1] and inside:
                inside = False
                done = True
        elif kind == "text":
            if skip_marked_body and inside:
                continue
            if cells:
                cells[-1][1].append(event[1])
            elif event[1].strip(BLANK):
                yield event[1], event[2]
        elif isinstance(event[1].tag, str) and event[1].tag.lower() in _CELL_TAGS:
            if kind == "start":
                if cells:
                    yield from flush()  # an outer cell's text before a nested one
                cells.append((event[1], []))
            elif cells and cells[-1][0] is event[1]:
                yield from flush()
                cells.pop()


def _near(label_owner: HtmlElement, value_owner: HtmlElement, levels: int = 3) -> bool:
    """True when the value sits under the label's element or one of its first ancestors."""
    ancestors = []
    node: HtmlElement | None = label_owner
    for _ in range(levels + 1):
        if node is None or node.tag in ("body", "html"):
            break
        ancestors.append(node)
        node = node.getparent()
    return any(anc is value_owner or value_owner in anc.iterdescendants() for anc in ancestors)


_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


def _is_heading(el: HtmlElement) -> bool:
    """Headings hold the article title: never the value of an empty last label (文件效力 then <h2>)."""
    node: HtmlElement | None = el
    for _ in range(2):
        if node is None or not isinstance(node.tag, str):
            return False
        if node.tag.lower() in _HEADING_TAGS or node.get("id") == "ivs_title":
            return True
        node = node.getparent()
    return False


def is_label_match(text: str, match: re.Match[str]) -> bool:
    """A label followed by a colon counts anywhere; a bare one only as a word of its own."""
    before = text[: match.start()]
    at_word_start = not before or before[-1] in _BULLETS
    if match.group("colon"):
        return at_word_start or normalize_label(match.group("label")) not in WORD_START_LABELS
    if not at_word_start:
        return False
    after = text[match.end("label"):]
    return not after or after[0] in BLANK


def count_meta_labels(text: str) -> int:
    """How many distinct kept labels `text` shows in label position (used to spot metadata blocks)."""
    found = {normalize_label(m.group("label")) for m in LABEL_RE.finditer(text) if is_label_match(text, m)}
    return len(found & set(META_LABELS))


def parse_metadata_block(
    root: HtmlElement, title: str | None = None, skip: Callable[[HtmlElement], bool] | None = None
) -> dict[str, str]:
    """Every label/value pair of the metadata block(s) and info line, first occurrence wins.

    Counters and widgets (访问次数, 字号, 分享 …) are dropped.  When the page marks its body
    with sentinels, the body is not scanned (so a paragraph starting with 来源： is not metadata).
    `title` guards against taking the article title as the value of an empty last label.
    """
    result: dict[str, str] = {}
    pending: tuple[str, HtmlElement] | None = None

    def record(key: str, value: str) -> None:
        if key in IGNORED_LABELS or key in result:
            return
        result[key] = collapse_ws(value).strip(_VALUE_STRIP)

    marked = has_content_markers(root)
    for text, owner in iter_chunks(root, skip_marked_body=marked):
        if skip is not None and skip(owner):
            continue
        matches = [m for m in LABEL_RE.finditer(text) if is_label_match(text, m)]
        head = text[: matches[0].start()] if matches else text
        if pending is not None:
            key, label_owner = pending
            value = head.strip(_BULLETS)
            if not value and not matches:
                continue  # a bullet or separator node between label and value
            ok = (value and _near(label_owner, owner) and len(value) <= 200 and collapse_ws(value) != title
                  and not _is_heading(owner))
            record(key, head if ok else "")
            pending = None
        for i, match in enumerate(matches):
            key = normalize_label(match.group("label"))
            end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
            value = text[match.end():end]
            if i + 1 == len(matches) and not value.strip(_BULLETS) and key not in IGNORED_LABELS:
                pending = (key, owner)
            else:
                record(key, value)
    if pending is not None:
        record(pending[0], "")
    return result
