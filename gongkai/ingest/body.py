"""The article body of a page, as lines of text.

The body is cut at the jcms content sentinels where present, else taken from the known
containers, and only as a last resort located with trafilatura.  Text is produced by our
own walk so that Word-pasted HTML keeps every character: digits, 年/月/日, % and · often
sit in their own <span>s, and inline elements must concatenate with nothing added
(trafilatura turns such spans into separate lines and collapses &nbsp; runs). Lines of the
page's chrome (info lines, counters, tool bars, footers) are dropped; the metadata block is
skipped (metadata.metadata_blocks says where it is).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

import lxml.html
import trafilatura
from lxml.html import HtmlElement

from gongkai.filelinks import is_file_link
from gongkai.ingest.html import (
    collapse_ws,
    has_content_markers,
    is_chrome_container,
    is_hidden,
    is_named,
    is_shown,
    parse_html,
    squash,
    tag_name,
    walk,
)
from gongkai.ingest.metadata import count_meta_labels, metadata_blocks
from gongkai.ingest.selectors import (
    ATTACHMENT_LABEL_RE,
    ATTACHMENT_POINTER_RE,
    BLANK,
    BLOCK_TAGS,
    BODY_CONTAINERS,
    BODY_WORD_RE,
    CHROME_LINE_RES,
    CONTROL_NAME_RE,
    CONTROL_TAGS,
    DOWNLOAD_BUTTON_RE,
    FILE_LIST_FILLER_RE,
    LABEL_RE,
    META_LABELS,
    NOTICE_HEADING_RE,
    SENTENCE_PUNCT_RE,
    SKIP_TAGS,
    SOURCE_LINE_RE,
    TAIL_WIDGET_RE,
    TOOL_LINE_RE,
    TOOL_TEXT_XPATH,
    WORD_BLOCK_TAGS,
)

_CELL_SEP = "\x1f"  # stands for the tab between cells until the line's whitespace is collapsed
# Opens a line that the page's structure shows to be body (a Unicode noncharacter: no page text holds it),
# so that the chrome-line filter spares it; _drop_chrome_lines takes it out again.
_BODY_MARK = "\ufdd0"


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


@dataclass
class BodyLines:
    """The body's lines, and (for a container body) which elements are the body: the metadata parser must
    not read a body line 来源：… as a label."""

    lines: list[str]
    in_body: Callable[[HtmlElement], bool] | None = None
    source: str | None = None  # the 来源 a stand-alone line of the body named (it is no longer a line)


def body_lines(root: HtmlElement, region: BodyRegion) -> BodyLines:
    """The body's lines as `region` delimits it: between the sentinels, in the container (without its
    metadata blocks, tail widgets and chrome lines), or else as trafilatura locates it."""
    in_body: Callable[[HtmlElement], bool] | None = None
    if region.markers:
        body_el = root.find("body")
        lines, source = take_source_lines(_text_lines(body_el if body_el is not None else root, use_markers=True))
    elif region.container is not None:
        blocks = metadata_blocks(region.container, keep=region.container) | notice_blocks(region.container)
        lines, source = take_source_lines(_text_lines(region.container, use_markers=False,
                                                      skip=lambda el: el in blocks or _is_tail_widget(el),
                                                      body=_body_word_lines(region.container)))
        lines = _drop_chrome_lines(lines)
        # The metadata is read outside the body (and from blocks inside it): a body line 来源：… is not.
        body_elements = set(region.container.iter()).difference(*(set(b.iter()) for b in blocks))
        in_body = body_elements.__contains__
    else:
        lines, source = take_source_lines(_trafilatura_lines(root))
        lines = _drop_chrome_lines(lines)
    return BodyLines(lines, in_body, source)


def take_source_lines(lines: list[str]) -> tuple[list[str], str | None]:
    """The lines without those that only name a source ((来源:朱溪镇), 来源：县统计局), and the first source
    named: it is the page's 来源, shown inside the content div by some templates (TRS)."""
    kept: list[str] = []
    source = None
    for line in lines:
        match = SOURCE_LINE_RE.match(collapse_ws(line.replace(_BODY_MARK, "")))
        if match:
            source = source or match.group("source").strip()
        else:
            kept.append(line)
    return kept, source


def without_file_lines(lines: list[str], names: Collection[str]) -> list[str]:
    """The body without the lines that only point at its files (they are in `attachments`).

    Those are a 附件 line (附件：X.doc, 附件:1. X.pdf, 相关附件：…), the file lines of the list a 附件 line opens
    (2. Y.xls below it, or every line below a bare 附件:), and a bar of download buttons (pdf下载  word下载).
    A file's name on a line of its own with no 附件 label (the 武义 seed's .docx after the text) stays, and so
    does the annex list of a 公文 that names no file (附件：1.某镇重点项目清单). A body of nothing but file
    lines (and 详见附件 pointers) is kept whole: an attachment-only report, whose body is its files' names.
    """
    flat_names = sorted({squash(n) for n in names if squash(n)}, key=len, reverse=True)
    if not flat_names:
        return lines
    kept: list[str] = []
    label_line: str | None = None  # a bare 附件: line, dropped if file lines follow it
    in_list = False
    for line in lines:
        label = ATTACHMENT_LABEL_RE.match(line)
        rest = line[label.end():] if label and label.group() else line
        files = _file_names_only(rest, flat_names)
        if label and label.group() and not squash(rest):
            if label_line is not None:
                kept.append(label_line)
            label_line, in_list = line, True
            continue
        if files is not None and (in_list or (label and label.group())
                                  or all(DOWNLOAD_BUTTON_RE.match(f) for f in files)):
            label_line, in_list = None, True
            continue
        if label_line is not None:
            kept.append(label_line)
        label_line, in_list = None, False
        kept.append(line)
    if label_line is not None:
        kept.append(label_line)
    prose = [ln for ln in kept if not _file_names_only(ln, flat_names) and not ATTACHMENT_POINTER_RE.match(ln)]
    return kept if prose else lines


def is_files_only(lines: list[str], names: Collection[str]) -> bool:
    """Whether a body is nothing but its files' names and pointers at them (an attachment-only report)."""
    flat_names = sorted({squash(n) for n in names if squash(n)}, key=len, reverse=True)
    if not flat_names:
        return False
    for line in lines:
        label = ATTACHMENT_LABEL_RE.match(line)
        rest = line[label.end():] if label and label.group() else line
        if squash(rest) and not ATTACHMENT_POINTER_RE.match(line) and _file_names_only(rest, flat_names) is None:
            return False
    return True


def _file_names_only(text: str, flat_names: list[str]) -> list[str] | None:
    """The file names `text` is made of (with numbering, separators and sizes between them), or None when
    it says anything else."""
    flat = squash(text)
    found = []
    for name in flat_names:
        if name in flat:
            found.append(name)
            flat = flat.replace(name, "\x00")
    if not found or FILE_LIST_FILLER_RE.sub("", flat).replace("\x00", ""):
        return None
    return found


class _Lines:
    """Accumulates inline text and breaks it into lines at block boundaries."""

    def __init__(self) -> None:
        """No lines yet; `buf` holds the inline text of the line being built."""
        self.lines: list[str] = []
        self.buf: list[str] = []

    def add(self, text: str) -> None:
        """Inline text joins the current line as it is: Word spans split words anywhere."""
        self.buf.append(text)

    def brk(self) -> None:
        """A block boundary: the current line ends (an empty one is no line)."""
        if self.buf:
            self.lines.append("".join(self.buf))
            self.buf = []

    def finish(self) -> list[str]:
        """The lines with their whitespace collapsed as a browser shows it; blank ones dropped."""
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
    layout_rows: list[bool] = []  # per open row: a cell of it holds a table (a page layout row, not data)
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
        if kind == "end" and (tag in BLOCK_TAGS or tag in ("td", "th")):
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
                if layout_rows and node.find(".//table") is not None:
                    layout_rows[-1] = True
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
                layout_rows.append(False)
            elif rows:
                cells = [c for c in rows.pop() if c]
                if layout_rows.pop():
                    # A page laid out in tables (the article's column beside a sidebar): no data row.
                    for cell in cells:
                        _emit(stack[-1], cell)
                elif len(cells) == 1:
                    # A layout table (jcms wraps #zoom in <td>): its paragraphs stay lines.
                    _emit(stack[-1], cells[0])
                elif cells:
                    stack[-1].add(_CELL_SEP.join(" ".join(c) for c in cells))
                    stack[-1].brk()
        elif tag in BLOCK_TAGS:
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
    if any(r.search(line) for r in CHROME_LINE_RES):
        return True
    match = LABEL_RE.match(line)
    if not (match and (match.group("colon") or "\t" in line)):
        return False
    label = re.sub(r"\s", "", match.group("label"))
    if label not in META_LABELS:
        return False
    if count_meta_labels(line) >= 2:
        return True
    return label != "日期" and len(line) <= 40 and not SENTENCE_PUNCT_RE.search(line) and "\t" not in line


def _drop_chrome_lines(lines: list[str]) -> list[str]:
    """The lines that are not chrome, unmarked: a line marked as body by its element stays whatever it says."""
    kept = (ln.replace(_BODY_MARK, "") for ln in lines if _BODY_MARK in ln or not _is_chrome_line(ln))
    return [ln for ln in kept if ln.strip(BLANK)]


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
    for text in top.xpath(TOOL_TEXT_XPATH):  # from the few texts that may hold one: cheap on long pages
        node = text.getparent()
        if text.is_tail:
            if tag_name(node) == "br" and _is_body_word_break(node, top):
                found.add(node)
            node = node.getparent()
        while node is not None and node is not top and node not in seen:
            seen.add(node)
            if tag_name(node) in WORD_BLOCK_TAGS:
                if not BODY_WORD_RE.match(node.text_content().strip(BLANK)):
                    break  # nor will any block around it
                if _is_body_word_block(node, top):
                    found.add(node)
            node = node.getparent()
    return found


# A line beside a one-word line: all the text it shows, and the part of it outside links and controls.
_Line = tuple[str, str]


def _is_body_word_block(el: HtmlElement, top: HtmlElement) -> bool:
    """Whether `el`, a block saying one tool word, is plain and stands among the report's paragraphs."""
    if any(_is_control(d) or is_named(d, CONTROL_NAME_RE) for d in el.iter()) or _in_tool_bar(el, top):
        return False
    siblings = (_element_sibling(el, forward) for forward in (False, True))
    return _among_body_lines([_block_line(s) for s in siblings if s is not None])


def _is_body_word_break(br: HtmlElement, top: HtmlElement) -> bool:
    """Whether the line after `br`, up to the next break, is one plain tool word between lines of the
    report (正文。<br>打印<br>正文。), in no tool bar."""
    text, own = _run_text(br.tail, br.getnext())
    if not BODY_WORD_RE.match(text.strip(BLANK)) or own != text or _in_tool_bar(br.getparent(), top):
        return False
    after = br.getnext()
    while after is not None and tag_name(after) not in BLOCK_TAGS:
        after = after.getnext()
    if after is None:
        return _among_body_lines([_line_before(br)])
    after_line = _run_text(after.tail, after.getnext()) if tag_name(after) == "br" else _block_line(after)
    return _among_body_lines([_line_before(br), after_line])


def _line_before(br: HtmlElement) -> _Line:
    """The line that ends at `br`: from the break before it (or its parent's start) on."""
    node = br.getprevious()
    while node is not None and tag_name(node) not in BLOCK_TAGS:
        node = node.getprevious()
    if node is None:
        parent = br.getparent()
        return _run_text(parent.text, parent[0])
    line = _run_text(node.tail, node.getnext())
    return _block_line(node) if tag_name(node) != "br" and not line[0].strip(BLANK) else line


def _run_text(text: str | None, node: HtmlElement | None) -> _Line:
    """The line that `text` opens in its parent, running over the siblings from `node` to the next break."""
    full, own = [text or ""], [text or ""]
    while node is not None and tag_name(node) not in BLOCK_TAGS:
        if isinstance(node.tag, str) and is_shown(node):
            full.append(node.text_content())
            own.append(_own_text(node))
        full.append(node.tail or "")
        own.append(node.tail or "")
        node = node.getnext()
    return "".join(full), "".join(own)


def _block_line(el: HtmlElement) -> _Line:
    """A sibling as a line; only a block's own text can be a line of the report."""
    return el.text_content(), (_own_text(el) if tag_name(el) in WORD_BLOCK_TAGS else "")


def _among_body_lines(lines: list[_Line]) -> bool:
    """Whether a one-word line stands between two lines of the report: a print button ends the body (or
    sits among other tool words, a tool bar), a line of the report has the report on both sides."""
    shown = [(collapse_ws(full), collapse_ws(own)) for full, own in lines]
    return len(shown) == 2 and all(own and not _is_chrome_line(full) and not TOOL_LINE_RE.match(full)
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
    return (tag_name(el) in CONTROL_TAGS or el.get("onclick") is not None
            or (el.get("href") or "").strip().lower().startswith("javascript:"))


def _in_tool_bar(el: HtmlElement, top: HtmlElement) -> bool:
    """Whether `el` or an ancestor below `top` is a control, or is named as a tool, share, print or page
    frame bar: a button need not be a link there (scripts bind clicks by class)."""
    node: HtmlElement | None = el
    while node is not None and node is not top:
        if isinstance(node.tag, str) and (_is_control(node) or is_chrome_container(node) or _is_tail_widget(node)
                                          or is_named(node, CONTROL_NAME_RE)):
            return True
        node = node.getparent()
    return False


def notice_blocks(top: HtmlElement) -> set[HtmlElement]:
    """The blocks under `top` that a copyright or disclaimer heading opens (版权与免责声明 and its numbered
    clauses): the site's notice, found by its first line, whatever its markup (a <p> of <br> lines, a div)."""
    found: set[HtmlElement] = set()
    for text in top.xpath(".//text()[contains(., '声明')]"):
        if not NOTICE_HEADING_RE.match(collapse_ws(str(text))):
            continue
        node = text.getparent()
        block = None
        while node is not None and node is not top:
            if tag_name(node) in ("p", "div", "td", "table", "section", "dl", "ul"):
                first = next((e[1] for e in walk(node) if e[0] == "text" and e[1].strip(BLANK)), "")
                if first != str(text) or len(squash(node.text_content())) > 1500:
                    break
                block = node
            node = node.getparent()
        if block is not None:
            found.add(block)
    return found


def _is_tail_widget(el: HtmlElement) -> bool:
    """A related-articles, share or tools widget that a template puts inside the body's container."""
    return is_named(el, TAIL_WIDGET_RE)


def _is_short_widget(el: HtmlElement) -> bool:
    """A share, related-links or tools widget of a page whose body is not known (分享到微信 on a page read by
    trafilatura): short, so that a body container that happens to be named like one is never lost."""
    return _is_tail_widget(el) and len(squash(el.text_content())) < 200


_LINK_LIST_TAGS = frozenset({"ul", "ol", "dl", "table", "tbody", "tr", "td", "div"})


def _is_link_list(el: HtmlElement) -> bool:
    """A list of links (a sidebar's 热点/更多 lists, related articles) on a page whose body is not known: three
    or more links making most of its text. Never one that links a file: an attachment list stays in view."""
    if tag_name(el) not in _LINK_LIST_TAGS:
        return False
    links = [a for a in el.iter("a") if a.get("href")]
    if len(links) < 3 or any(is_file_link(a.get("href") or "") for a in links):
        return False
    text = len(squash(el.text_content()))
    return text > 0 and sum(len(squash(a.text_content())) for a in links) >= 0.6 * text


def _clean_copy_for_trafilatura(root: HtmlElement) -> str:
    """The page without scripts, hidden nodes, header/footer/nav chrome, as HTML text."""
    copy = parse_html(lxml.html.tostring(root, encoding="unicode"))
    blocks = metadata_blocks(copy) | notice_blocks(copy)
    for el in list(copy.iter()):
        if not isinstance(el.tag, str) or el.getparent() is None:
            continue
        if (
            el.tag.lower() in SKIP_TAGS - {"head", "title"}
            or is_hidden(el)
            or is_chrome_container(el)
            or el in blocks
            or _is_short_widget(el)
            or _is_link_list(el)
        ):
            el.drop_tree()
    return lxml.html.tostring(copy, encoding="unicode")


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
    target = squash(extracted.replace("|", ""))
    if not target:
        return []
    whole_lines = {squash(line.replace("|", "")) for line in extracted.split("\n")}
    body = root.find("body")
    blocks = metadata_blocks(root) | notice_blocks(root)
    top = body if body is not None else root
    ours = _text_lines(top, use_markers=False,
                       skip=lambda el: (el in blocks or is_chrome_container(el) or _is_short_widget(el)
                                        or _is_link_list(el)),
                       body=_body_word_lines(top))
    kept = []
    for line in ours:
        flat = squash(line.replace(_BODY_MARK, ""))
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
