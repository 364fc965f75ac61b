"""Reading a parsed page as a browser shows it: the visible-node walk, whitespace, names of elements.

Everything the title, metadata, body and attachment readers share, and nothing that knows which of them
is asking. Pure functions over lxml trees; the page vocabulary they match against is in selectors.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from urllib.parse import urljoin

import lxml.html
from lxml import etree
from lxml.html import HtmlElement

from gongkai.ingest.selectors import (
    BASE_HREF_XPATH,
    CHROME_ANCESTOR_RE,
    CONTENT_BEGIN_COMMENT,
    CONTENT_END_COMMENT,
    CONTENT_END_META,
    CONTENT_START_META,
    HIDDEN_CLASSES,
    HIDDEN_STYLE_RE,
    SKIP_TAGS,
)

_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_ASCII_WS_RE = re.compile(r"[ \t\r\n\f]+")

# A line break in the HTML source between two Chinese characters (or a Chinese character and a figure) is
# no space: Word's HTML export wraps long paragraphs anywhere, 党的\n二十大 must read 党的二十大 (CSS Text 3
# drops such segment breaks between East Asian wide characters).
_WIDE = "\u2e80-\u2fdf\u3001-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff60"
_CJK_BREAK_RE = re.compile(
    rf"(?<=[{_WIDE}])[ \t\r\f]*\n[ \t\r\n\f]*(?=[{_WIDE}0-9])|(?<=[0-9%])[ \t\r\f]*\n[ \t\r\n\f]*(?=[{_WIDE}])")


_PARSERS = threading.local()


def _parser() -> lxml.html.HTMLParser:
    """This thread's HTML parser with libxml2's size limits lifted (huge_tree): without it, a text node over
    10 MB (a pasted title, a base64 image in text) is cut and everything after it is silently dropped, the
    body included. lxml parsers must not be shared between threads."""
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = lxml.html.HTMLParser(huge_tree=True)
    return parser


def parse_html(html: str) -> HtmlElement:
    """Parse decoded text, the whole of it however large a node (an XML declaration would make lxml refuse
    a str)."""
    html = _XML_DECL_RE.sub("", html, count=1)
    if not html.strip():
        html = "<html><body></body></html>"
    root = lxml.html.document_fromstring(html, parser=_parser())
    _adopt_after_body(root)
    return root


def _adopt_after_body(root: HtmlElement) -> None:
    """Move what follows <body> back into it, in order. A header include that ends with its own </html>
    (gov.cn's 国务院公报 pages) or a widget's stray </body> (cmse.gov.cn) makes libxml2 put the rest of the
    page, the article included, beside <body> or in a second top-level <html> after the first; a browser
    shows it all as body, and every reader here looks in <body>."""
    body = root.find("body")
    if body is None:
        return
    for el in [el for el in body.itersiblings() if isinstance(el.tag, str) and el.tag.lower() != "head"]:
        body.append(el)
    for later in [el for el in root.itersiblings() if isinstance(el.tag, str)]:
        if later.tag.lower() != "html":
            body.append(later)
            continue
        inner = later.find("body")
        for box in (later, inner) if inner is not None else (later,):
            if box.text and box.text.strip():
                _append_text(body, box.text)
            for el in [el for el in box if isinstance(el.tag, str) and el.tag.lower() not in ("head", "body")]:
                body.append(el)


def _append_text(parent: HtmlElement, text: str) -> None:
    """Add `text` at the end of `parent`'s content (after its last child, or as its text)."""
    if len(parent):
        last = parent[-1]
        last.tail = (last.tail or "") + text
    else:
        parent.text = (parent.text or "") + text


def collapse_ws(text: str) -> str:
    """HTML whitespace semantics for one line: ASCII runs collapse, NBSP becomes a space, a source line
    break between Chinese characters goes."""
    if "\n" in text:
        text = _CJK_BREAK_RE.sub("", text)
    return _ASCII_WS_RE.sub(" ", text).replace("\xa0", " ").strip()


def squash(text: str) -> str:
    """`text` with all whitespace removed: how two texts are compared when their spacing may differ."""
    return re.sub(r"\s+", "", text)


def tag_name(el: HtmlElement) -> str:
    """The lower-case tag, or "" for comments and processing instructions (whose tag is no str)."""
    return el.tag.lower() if isinstance(el.tag, str) else ""


def is_hidden(el: HtmlElement) -> bool:
    """True for elements a browser would not show: inline display:none, hidden attribute, or a framework's
    hiding class (AngularJS ng-hide: the hidden copies of a rendered page)."""
    if el.get("hidden") is not None:
        return True
    classes = el.get("class")
    if classes and not HIDDEN_CLASSES.isdisjoint(classes.split()):
        return True
    if (el.get("type") or "").lower() == "hidden":
        return True
    style = el.get("style")
    return bool(style and HIDDEN_STYLE_RE.search(style))


def is_shown(el: HtmlElement) -> bool:
    """What `walk` descends into: an element neither skipped (script, style, ...) nor hidden."""
    return el.tag.lower() not in SKIP_TAGS and not is_hidden(el)


def is_shown_within(el: HtmlElement, top: HtmlElement) -> bool:
    """True when `walk(top)` would visit el: neither it nor an ancestor below `top` is hidden or skipped."""
    node: HtmlElement | None = el
    while node is not None and node is not top:
        if not is_shown(node):
            return False
        node = node.getparent()
    return True


def content_marker(node: etree._Element) -> bool | None:
    """True/False for a body begin/end sentinel (ZJEG_RSS comments, ContentStart/End meta)."""
    if node.tag is etree.Comment:
        text = (node.text or "").strip()
        if text == CONTENT_BEGIN_COMMENT:
            return True
        if text == CONTENT_END_COMMENT:
            return False
        return None
    if node.tag == "meta":
        name = (node.get("name") or "").strip()
        if name == CONTENT_START_META:
            return True
        if name == CONTENT_END_META:
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
        mark = content_marker(child)
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
        mark = content_marker(node)
        if mark is True:
            seen_begin = True
        elif mark is False and seen_begin:
            return True
    return False


def visible_text(root: HtmlElement) -> str:
    """All text the page's <body> shows, whitespace removed: how much a page says, not what."""
    body = root.find("body")
    parts = [e[1] for e in walk(body if body is not None else root) if e[0] == "text"]
    return squash("".join(parts))


def prose_length(root: HtmlElement, leave_out: str = "") -> int:
    """How many characters of running text the page shows outside its frame (header, footer, navigation)
    and its links: texts of 20 characters or more, whitespace removed, the one `leave_out` opens (the title)
    not counted. What a body far shorter than this has lost, it lost silently."""
    body = root.find("body")
    top = body if body is not None else root
    flat_out = squash(leave_out).rstrip("…")
    total = 0
    for event in walk(top, lambda el: tag_name(el) in ("a", "button") or is_chrome_container(el)):
        if event[0] == "text":
            flat = squash(event[1])
            if len(flat) >= 20 and not (flat_out and flat.startswith(flat_out)):
                total += len(flat)
    return total


def is_named(el: HtmlElement, pattern: re.Pattern[str]) -> bool:
    """Whether the element's id or class names it as `pattern` says."""
    return bool(pattern.search(f"{el.get('id') or ''} {el.get('class') or ''}"))


def is_chrome_container(el: HtmlElement, ident_re: re.Pattern[str] = CHROME_ANCESTOR_RE) -> bool:
    """A header, footer or nav element, or one whose id/class `ident_re` names as the page's frame."""
    tag = el.tag.lower() if isinstance(el.tag, str) else ""
    return tag in ("header", "footer", "nav") or is_named(el, ident_re)


def in_chrome(el: HtmlElement, ident_re: re.Pattern[str] = CHROME_ANCESTOR_RE) -> bool:
    """Inside a header, footer or navigation element, or one whose id/class `ident_re` names so."""
    node: HtmlElement | None = el
    while node is not None:
        if isinstance(node.tag, str) and is_chrome_container(node, ident_re):
            return True
        node = node.getparent()
    return False


def base_url(root: HtmlElement, url: str) -> str:
    """What the page's relative links resolve against: its <base href>, else its own URL."""
    for href in root.xpath(BASE_HREF_XPATH):
        if href.strip():
            return urljoin(url, href.strip())
    return url
