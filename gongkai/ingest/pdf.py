"""The text of a text PDF (Word's or WPS's export of a report): its lines in reading order, joined into
paragraphs by their layout. pdfminer.six reads the glyphs; the rules here make paragraphs, drop page
numbers and running headers, and never invent a space between two characters of Chinese.

Run in a child process with memory and time limits (gongkai.ingest.documents): pdfminer inflates every
stream whole, so a 1.5 MB file can ask for gigabytes.
"""

from __future__ import annotations

import io
import logging
import re
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from gongkai.ingest.html import collapse_ws

MAX_PDF_PAGES = 300
# A PDF whose glyphs mostly have no Unicode mapping gives "(cid:1234)" codes: such text is not the report's.
_MAX_UNMAPPED_SHARE = 0.02
_CELL_SEP = "\t"  # as in article bodies: a table row is its cells joined by a tab


class UnreadablePdf(ValueError):
    """A PDF with no text we can trust: scanned, no Unicode map, too long."""


# A page number printed as the page's footer: "— 1 —", "- 2 -", "第 3 页", "第3页 共5页", "3/5".
_PAGE_NUMBER_RE = re.compile(
    r"^[\s—–\-－―]*\d{1,4}[\s—–\-－―]*$|^第\s*\d{1,4}\s*页(\s*[,，/]?\s*共\s*\d{1,4}\s*页)?$|^\d{1,4}\s*/\s*\d{1,4}$"
)
_ASCII_WORD_CHAR_RE = re.compile(r"[A-Za-z0-9]")


@dataclass
class _Line:
    text: str
    x0: float
    x1: float
    top: float
    size: float
    lead: float = 0.0  # width of the line's first unbreakable piece ("“141”", "3584.27", "处，")


def pdf_lines(data: bytes) -> list[str]:
    """Paragraphs of a text PDF (Word's or WPS's export): its lines in reading order, joined into
    paragraphs by their layout: a paragraph starts where a line is indented or the line before it ended
    short. Page numbers go; no space is put between two lines of Chinese."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTChar, LTTextContainer, LTTextLine

    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    pages: list[list[_Line]] = []
    chars = unmapped = 0
    # A large word_margin: pdfminer's guessed spaces are not used (ours are put only between ASCII words).
    # boxes_flow=None: no ordering of text boxes (a tenth of the time); the lines are ordered here.
    params = LAParams(word_margin=10.0, char_margin=4.0, line_margin=0.3, boxes_flow=None)
    for page in extract_pages(io.BytesIO(data), laparams=params, maxpages=MAX_PDF_PAGES + 1):
        if len(pages) == MAX_PDF_PAGES:  # not a town's report; half of one would be a report with text lost
            raise UnreadablePdf(f"a PDF of over {MAX_PDF_PAGES} pages: not read")
        lines: list[_Line] = []
        stack = list(page)
        while stack:
            item = stack.pop()
            if isinstance(item, LTTextLine):
                glyphs = [c for c in item if isinstance(c, LTChar)]
                if not glyphs:
                    continue
                chars += len(glyphs)
                unmapped += sum(g.get_text().startswith("(cid:") for g in glyphs)
                lines.append(_Line(_glyph_text(glyphs), item.x0, item.x1, item.y1,
                                   statistics.median(g.size for g in glyphs), _lead_width(glyphs)))
            elif isinstance(item, LTTextContainer):
                stack.extend(item)
        pages.append(_merge_same_row(lines))
    if not chars:
        raise UnreadablePdf("a PDF with no text (scanned pages?)")
    if unmapped > chars * _MAX_UNMAPPED_SHARE:
        raise UnreadablePdf(f"a PDF whose text has no Unicode map ({unmapped} of {chars} glyphs)")
    return _paragraphs(pages)


def _glyph_text(glyphs: list) -> str:
    """A line's characters; a space only between two ASCII word characters set apart by a gap."""
    out: list[str] = []
    previous = None
    for glyph in glyphs:
        text = glyph.get_text()
        if (previous is not None and glyph.x0 - previous.x1 > 0.2 * glyph.size
                and _ASCII_WORD_CHAR_RE.match(text) and _ASCII_WORD_CHAR_RE.match(out[-1][-1:])):
            out.append(" ")
        out.append(text)
        previous = glyph
    return "".join(out)


_OPENING = set("“‘《〈（([【〔「『")
_CLOSING = set("，。、；：！？）)]】〕」』》〉”’…%")
_WORD_GLYPH_RE = re.compile(r"[A-Za-z0-9.,%\-_/:]")


def _lead_width(glyphs: list) -> float:
    """Width of what a line-breaker could not have split at the line's start: opening marks, then an
    ASCII word or one character, then the closing marks that may not begin a line."""
    texts = [g.get_text() for g in glyphs]
    i = 0
    while i < len(texts) and texts[i] in _OPENING:
        i += 1
    if i < len(texts) and _WORD_GLYPH_RE.match(texts[i]):
        while i < len(texts) and _WORD_GLYPH_RE.match(texts[i]):
            i += 1
    else:
        i += 1
    while i < len(texts) and texts[i] in _CLOSING:
        i += 1
    end = min(i, len(glyphs)) - 1
    return glyphs[end].x1 - glyphs[0].x0 if end >= 0 else 0.0


def _merge_same_row(lines: list[_Line]) -> list[_Line]:
    """Lines top to bottom; pieces of one printed row (table cells, a split run) joined left to right."""
    lines.sort(key=lambda line: (-line.top, line.x0))
    rows: list[list[_Line]] = []
    for line in lines:
        if rows and abs(rows[-1][0].top - line.top) < 0.5 * line.size:
            rows[-1].append(line)
        else:
            rows.append([line])
    merged = []
    for row in rows:
        row.sort(key=lambda line: line.x0)
        text = row[0].text
        for before, after in zip(row, row[1:], strict=False):
            text += (_CELL_SEP if after.x0 - before.x1 > before.size else "") + after.text
        merged.append(_Line(text, row[0].x0, row[-1].x1, row[0].top, max(r.size for r in row), row[0].lead))
    return merged


def _without_page_furniture(pages: list[list[_Line]]) -> list[list[_Line]]:
    """Each page without its page number ("— 1 —", 第1页) and running header or footer (a line repeated at
    the top or bottom of most pages): only the first and last lines of a page are looked at, so a body
    paragraph that is just "2024" stays."""
    def edges(page: list[_Line]) -> list[_Line]:
        """The page's first and last lines where set apart from the text by more than a line's pitch."""
        if len(page) < 2:
            return page[:1]
        return [line for line, neighbour in ((page[0], page[1]), (page[-1], page[-2]))
                if abs(line.top - neighbour.top) > 2 * max(line.size, neighbour.size)]

    repeated: Counter[str] = Counter()
    if len(pages) > 1:
        for page in pages:
            repeated.update({collapse_ws(line.text) for line in edges(page)})
    running = {text for text, count in repeated.items() if count >= max(2, (len(pages) + 1) // 2)}
    kept = []
    for page in pages:
        furniture = {id(line) for line in edges(page)
                     if _PAGE_NUMBER_RE.match(line.text.strip()) or collapse_ws(line.text) in running}
        kept.append([line for line in page if id(line) not in furniture])
    return kept


def _text_right_edge(lines: list[_Line], size: float) -> float:
    """Where full lines end: the furthest right edge at least two lines share, brought back to the most
    used edge within a character and a half of it (a hanging 。 or ， sticks out past the margin). Not
    simply the most used edge: fourteen one-line items of one length would outvote the full lines."""
    counts = Counter(round(line.x1) for line in lines if abs(line.size - size) < 0.5)
    shared = [x for x, n in counts.items() if n >= 2] or list(counts)
    furthest = max(shared)
    near = [x for x in shared if furthest - 1.5 * size <= x]
    return float(max(near, key=lambda x: (counts[x], -x)))


def _paragraphs(pages: list[list[_Line]]) -> list[str]:
    every = [line for page in _without_page_furniture(pages) for line in page]
    if not every:
        return []
    size = statistics.median(line.size for line in every)
    left = _mode(line.x0 for line in every)
    right = _text_right_edge(every, size)
    center = (left + right) / 2
    # Where a paragraph's first line starts (2 characters in, in a 公文): a line there is a paragraph, not a
    # centered title, even when it happens to end as far from the right margin.
    first_lines = [line.x0 for line in every if size < line.x0 - left < 6 * size]
    indent = _mode(first_lines) if first_lines else None
    paragraphs: list[str] = []
    previous: _Line | None = None
    previous_centered = False
    for line in every:
        text = collapse_ws(line.text)
        if not text:
            continue
        indented = line.x0 - left > 1.0 * size
        centered = (indented and line.x1 < right - size and abs((line.x0 + line.x1) / 2 - center) < size
                    and (indent is None or abs(line.x0 - indent) > 0.25 * size))
        same_size = previous is not None and abs(line.size - previous.size) < 0.5
        if previous is None:
            starts = True
        elif same_size and (line.size > 1.15 * size or centered and previous_centered):
            starts = False  # a title (larger type, or centered) wrapped onto a second line
        elif not same_size:
            starts = True
        else:
            # A line ending short ends its paragraph, unless what begins the next line would not have fit
            # in the room left (a ragged line wrapped before "3584.27万元"): then the wrap was forced.
            room = right - previous.x1
            starts = indented or previous_centered or (room > 1.5 * size and room >= line.lead + 0.5 * size)
        if starts or not paragraphs:
            paragraphs.append(text)
        else:
            # A line wrapped at a space keeps it (drawn at the line's end: "232 " / "处"); two words split
            # by the wrap get one back; two lines of Chinese join with nothing between.
            spaced = previous.text[-1:].isspace() or line.text[:1].isspace() or (
                _ASCII_WORD_CHAR_RE.match(paragraphs[-1][-1:]) and _ASCII_WORD_CHAR_RE.match(text))
            paragraphs[-1] += (" " if spaced else "") + text
        previous, previous_centered = line, centered
    return paragraphs


def _mode(values: Iterable[float]) -> float:
    """The most common value, to the nearest point: the margin most lines begin (or end) at."""
    counts = Counter(round(v) for v in values)
    return float(max(counts, key=lambda v: (counts[v], -v)))


def _main() -> None:
    """`python -m gongkai.ingest.pdf MEMORY_BYTES` < file.pdf: one JSON object, {"lines"} or {"note"}.

    The child process gongkai.ingest.documents runs: the memory limit is set before pdfminer sees a byte."""
    import json
    import resource
    import sys

    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    data = sys.stdin.buffer.read()
    try:
        result = {"lines": pdf_lines(data)}
    except UnreadablePdf as exc:
        result = {"note": str(exc)}
    except MemoryError:
        sys.exit(3)
    except Exception as exc:  # noqa: BLE001 - pdfminer raises its own zoo on broken files
        result = {"note": f"unreadable pdf: {type(exc).__name__}"}
    sys.stdout.write(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    _main()
