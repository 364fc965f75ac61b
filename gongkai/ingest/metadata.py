"""The 索引号 metadata block of article pages: where it is, and its label/value pairs.

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

from lxml.html import HtmlElement

from gongkai.dates import parse_date
from gongkai.ingest.html import collapse_ws, has_content_markers, in_chrome, is_hidden, squash, walk
from gongkai.ingest.selectors import (
    BLANK,
    BULLETS,
    CELL_TAGS,
    HEADING_TAGS,
    IGNORED_LABELS,
    INFO_DATE_RE,
    LABEL_RE,
    META_BLOCK_TAGS,
    META_LABELS,
    VALUE_STRIP,
    WORD_START_LABELS,
)

_STRIP_KEY_RE = re.compile(r"[\s\u3000\xa0:：]+")


def normalize_label(label: str) -> str:
    """Label as a key: all whitespace (incl. U+3000/NBSP/&emsp;) and colons removed."""
    return _STRIP_KEY_RE.sub("", label)


def iter_chunks(root: HtmlElement, skip_marked_body: bool) -> Iterator[tuple[str, HtmlElement]]:
    """Non-blank text outside the sentinel-marked body, with its owning element: one chunk per text node,
    or per innermost table/list cell (its whole text, owned by the cell)."""
    body = root.find("body")
    start = body if body is not None else root
    inside = False
    done = False
    cells: list[tuple[HtmlElement, list[str]]] = []  # open cells, innermost last, with their text so far

    def flush() -> Iterator[tuple[str, HtmlElement]]:
        """The innermost open cell's text so far, as one chunk, if it shows any."""
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
        elif isinstance(event[1].tag, str) and event[1].tag.lower() in CELL_TAGS:
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


def _is_heading(el: HtmlElement) -> bool:
    """Headings hold the article title: never the value of an empty last label (文件效力 then <h2>)."""
    node: HtmlElement | None = el
    for _ in range(2):
        if node is None or not isinstance(node.tag, str):
            return False
        if node.tag.lower() in HEADING_TAGS or node.get("id") == "ivs_title":
            return True
        node = node.getparent()
    return False


def _is_other_label(text: str) -> bool:
    """A short chunk ending in a colon (办文部门：, 公文名称：) is a label we do not keep, not the value of the
    empty label before it: an empty 来源： followed by 访问量：… must not read 访问量 as the source."""
    text = text.strip(BLANK)
    return len(text) <= 10 and text.endswith((":", "："))


def is_label_match(text: str, match: re.Match[str]) -> bool:
    """A label followed by a colon counts anywhere; a bare one only as a word of its own."""
    before = text[: match.start()]
    at_word_start = not before or before[-1] in BULLETS
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
        """Keep a label's value: the first occurrence wins, counters and widgets are not kept."""
        if key in IGNORED_LABELS or key in result:
            return
        result[key] = collapse_ws(value).strip(VALUE_STRIP)

    marked = has_content_markers(root)
    for text, owner in iter_chunks(root, skip_marked_body=marked):
        if skip is not None and skip(owner):
            continue
        matches = [m for m in LABEL_RE.finditer(text) if is_label_match(text, m)]
        head = text[: matches[0].start()] if matches else text
        if pending is not None:
            key, label_owner = pending
            value = head.strip(BULLETS)
            if not value and not matches:
                continue  # a bullet or separator node between label and value
            ok = (value and _near(label_owner, owner) and len(value) <= 200 and collapse_ws(value) != title
                  and not _is_heading(owner) and not _is_other_label(head))
            record(key, head if ok else "")
            pending = None
        for i, match in enumerate(matches):
            key = normalize_label(match.group("label"))
            end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
            value = text[match.end():end]
            if i + 1 == len(matches) and not value.strip(BULLETS) and key not in IGNORED_LABELS:
                pending = (key, owner)
            else:
                record(key, value)
    if pending is not None:
        record(pending[0], "")
    return result


def metadata_blocks(root: HtmlElement, keep: HtmlElement | None = None) -> set[HtmlElement]:
    """Small elements that show two or more metadata labels: the 索引号 block and the info line.

    Bodies that are not cut by sentinels must not carry them; `keep` (the body container)
    and its ancestors are never treated as such a block.
    """
    protected = set(keep.iterancestors()) | {keep} if keep is not None else set()
    candidates: dict[HtmlElement, int] = {}
    for el in root.iter(*META_BLOCK_TAGS):
        if el in protected or is_hidden(el):
            continue
        text = el.text_content()
        if len(squash(text)) < 600 and not _has_prose(el):  # squashed: a template's indentation is no text
            labels = count_meta_labels(text)
            if labels >= 2:
                candidates[el] = labels
    # A wrapper is a block only if it shows more labels than any one block inside it (the doubled
    # desktop + mobile block); otherwise the inner block is enough and the wrapper may hold the body.
    blocks = {
        el for el, labels in candidates.items()
        if not any(candidates.get(d, 0) >= labels for d in el.iterdescendants(*META_BLOCK_TAGS))
    }
    # Nor is a wrapper that holds text besides its label-bearing parts (the 索引号 table, the info line and
    # a short body in one <div>, in short Word-split spans that _has_prose cannot see): its parts are.
    out: set[HtmlElement] = set()
    for el in blocks:
        inner = {d for d in el.iterdescendants(*META_BLOCK_TAGS)
                 if len(squash(d.text_content())) < 600 and count_meta_labels(d.text_content())}
        if inner and len(squash("".join(e[1] for e in walk(el, inner.__contains__) if e[0] == "text"))) > 40:
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


# How far past the title the info line may be: this many texts, none of them a paragraph.
_INFO_LINE_TEXTS = 12


def info_line_date(root: HtmlElement, title: str) -> str | None:
    """The date the info line under the title shows without a label (2022-02-11 09:52 beside the site's
    name; 2005年08月16日 before 来源：新华网): the publish date of news-style pages that have no 发布日期.

    Looked for in the few texts that follow the element showing the title, before any paragraph of text.
    """
    flat = squash(title)
    if not flat:
        return None
    body = root.find("body")
    top = body if body is not None else root
    after = False
    seen = 0
    for event in walk(top):
        if event[0] == "start" and not after:
            el = event[1]
            if len(el) <= 3 and squash(el.text_content()) == flat and not in_chrome(el):
                after = True
            continue
        if event[0] != "text" or not after or not event[1].strip(BLANK):
            continue
        text = collapse_ws(event[1])
        if len(text) >= _PROSE_CHARS or seen >= _INFO_LINE_TEXTS:
            return None
        seen += 1
        match = INFO_DATE_RE.match(text)
        if match:
            return parse_date(match.group(1))
    return None
