"""The text of a scan: a PDF of page images (no text layer, or glyphs with no Unicode map) or a .jpg/.png,
read by OCR (rapidocr-onnxruntime: PP-OCRv4 Chinese detection and recognition models, shipped in its wheel;
nothing is downloaded). PDF pages are rendered by pypdfium2 at OCR_DPI.

OCR gives text lines with boxes and a confidence each; they are put in reading order (top to bottom,
pieces of one printed row joined left to right, a wide gap as a tab), and joined into paragraphs by
layout as a 公文 is set: a line indented from the text's left edge, or after a line that ended short of
its right edge, or after a larger (title) line, starts a paragraph; a paragraph runs on across the page
break; page numbers (— 1 —, 第1页) at a page's foot are dropped. No space is put between two lines of
Chinese. Digit groups OCR read with a full-width comma or point (1，248) are written as printed (1,248).

Run in a child process (gongkai.ingest.documents): models load once per file (~1 s), a page takes
seconds, and onnxruntime's memory is bounded there (`python -m gongkai.ingest.ocr pdf|image BYTES`).
Bounded: at most OCR_MAX_PAGES pages (more: not read, never half a report), a page is rendered to at most
OCR_MAX_PIXELS pixels, an image of more than OCR_MAX_IMAGE_PIXELS is not decoded.
"""

from __future__ import annotations

import io
import re
import statistics
from dataclasses import dataclass, field

OCR_DPI = 150
OCR_MAX_PAGES = 40
OCR_MAX_PIXELS = 4_000_000  # per rendered page: A4 at 150 dpi is 2.2 M
OCR_MAX_IMAGE_PIXELS = 60_000_000
# Recognised lines below this confidence are noise (stamps, dust, a signature's scrawl), not text.
MIN_LINE_SCORE = 0.5

_PAGE_NUMBER_RE = re.compile(
    r"^[\s—–\-－―]*\d{1,4}[\s—–\-－―]*$|^第\s*\d{1,4}\s*页(\s*[,，/]?\s*共\s*\d{1,4}\s*页)?$|^\d{1,4}\s*/\s*\d{1,4}$")
_DIGIT_GROUP_RE = re.compile(r"(?<=\d)，(?=\d{3}(?!\d))")
_DECIMAL_POINT_RE = re.compile(r"(?<=\d)[．。](?=\d)")
_LATIN_RE = re.compile(r"[A-Za-z]")
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class UnreadableScan(ValueError):
    """A scan OCR cannot read: no pages, too many, too large, undecodable."""


@dataclass
class Box:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    score: float


@dataclass
class OcrText:
    lines: list[str]
    confidence: float  # mean recognition confidence of the kept text, weighted by characters
    pages: int
    seconds_per_page: float = 0.0
    note: str = ""
    boxes: list[list[Box]] = field(default_factory=list, repr=False)


def _engine():
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def ocr_pdf(data: bytes, engine=None) -> OcrText:
    """OCR of every page of a PDF (rendered at OCR_DPI)."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise UnreadableScan(f"a PDF pdfium cannot open ({exc})") from exc
    try:
        count = len(pdf)
        if count == 0:
            raise UnreadableScan("a PDF with no pages")
        if count > OCR_MAX_PAGES:
            raise UnreadableScan(f"a scan of {count} pages: over the {OCR_MAX_PAGES}-page bound, not read")
        images = []
        for index in range(count):
            page = pdf[index]
            width, height = page.get_size()
            scale = OCR_DPI / 72
            pixels = width * height * scale * scale
            if pixels > OCR_MAX_PIXELS:
                scale *= (OCR_MAX_PIXELS / pixels) ** 0.5
            images.append(page.render(scale=scale, grayscale=True).to_pil())
            page.close()
    finally:
        pdf.close()
    return ocr_images(images, engine)


def ocr_image(data: bytes, engine=None) -> OcrText:
    """OCR of one image file (.jpg, .png…)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > OCR_MAX_IMAGE_PIXELS:
                raise UnreadableScan(f"an image of {probe.width}x{probe.height} pixels: over the bound")
            probe.load()
            image = probe.convert("L")
    except (OSError, Image.DecompressionBombError, ValueError) as exc:
        raise UnreadableScan(f"an image that cannot be decoded ({type(exc).__name__})") from exc
    return ocr_images([image], engine)


def ocr_images(images: list, engine=None) -> OcrText:
    import time

    import numpy as np

    engine = engine or _engine()
    pages: list[list[Box]] = []
    started = time.perf_counter()
    for image in images:
        array = np.asarray(image.convert("RGB"))[:, :, ::-1]  # BGR, as OpenCV reads files
        result, _ = engine(array)
        boxes = []
        for points, text, score in result or []:
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            if float(score) >= MIN_LINE_SCORE and text.strip():
                boxes.append(Box(text.strip(), min(xs), min(ys), max(xs), max(ys), float(score)))
        pages.append(boxes)
    seconds = time.perf_counter() - started
    kept = [box for page in pages for box in page]
    chars = sum(len(box.text) for box in kept)
    confidence = sum(box.score * len(box.text) for box in kept) / chars if chars else 0.0
    return OcrText(paragraphs(pages), round(confidence, 4), len(images), seconds / max(1, len(images)),
                   boxes=pages)


@dataclass
class _Row:
    text: str
    x0: float
    x1: float
    y0: float
    y1: float
    pitch: float  # width of one character of Chinese on this row (its type size)


def _rows(boxes: list[Box]) -> list[_Row]:
    """Boxes top to bottom; boxes of one printed row (overlapping vertically) joined left to right."""
    rows: list[list[Box]] = []
    for box in sorted(boxes, key=lambda b: (b.y0 + b.y1) / 2):
        middle = (box.y0 + box.y1) / 2
        if rows and rows[-1][0].y0 <= middle <= rows[-1][0].y1:
            rows[-1].append(box)
        else:
            rows.append([box])
    out = []
    for row in rows:
        row.sort(key=lambda b: b.x0)
        pitch = _pitch(row)
        text = row[0].text
        for before, after in zip(row, row[1:], strict=False):
            gap = after.x0 - before.x1
            if gap > 1.5 * pitch:
                text += "\t"
            elif _LATIN_RE.match(before.text[-1:]) and _LATIN_RE.match(after.text[:1]):
                text += " "
            text += after.text
        out.append(_Row(_clean(text), row[0].x0, row[-1].x1, min(b.y0 for b in row), max(b.y1 for b in row), pitch))
    return out


def _pitch(row: list[Box]) -> float:
    """A row's character width, from its text's width: a character of Chinese counts 1, others ½."""
    units = sum(1.0 if _CJK_RE.match(ch) or ord(ch) > 0x2000 else 0.5 for b in row for ch in b.text)
    width = sum(b.x1 - b.x0 for b in row)
    return width / units if units else max(1.0, row[0].y1 - row[0].y0)


def _clean(text: str) -> str:
    return _DECIMAL_POINT_RE.sub(".", _DIGIT_GROUP_RE.sub(",", text))


def paragraphs(pages: list[list[Box]]) -> list[str]:
    """OCR lines to paragraphs by their layout (module docstring)."""
    rows_by_page = [_rows(page) for page in pages]
    for rows in rows_by_page:  # a page number at the foot
        if len(rows) > 1 and _PAGE_NUMBER_RE.match(rows[-1].text.strip()):
            rows.pop()
    every = [row for rows in rows_by_page for row in rows]
    if not every:
        return []
    pitch = statistics.median(row.pitch for row in every)
    left = _edge([row.x0 for row in every], pitch, low=True)
    right = _edge([row.x1 for row in every], pitch, low=False)
    out: list[str] = []
    previous: _Row | None = None
    for page_no, rows in enumerate(rows_by_page):
        for n, row in enumerate(rows):
            title = row.pitch > 1.2 * pitch
            indented = row.x0 - left > 0.8 * pitch
            if previous is None or not out:
                starts = True
            else:
                previous_title = previous.pitch > 1.2 * pitch
                # A line ending short ends its paragraph, unless what begins the next one would not have
                # fit in the room left (a line wrapped before "12.5%，" or "“141”"): then the wrap was forced.
                room = right - previous.x1
                short = room > 1.5 * pitch and room >= _lead(row.text) * pitch + 0.5 * pitch
                centered_title = previous_title and title
                starts = (not centered_title) and (indented or short or previous_title != title)
                if n > 0 and not starts:  # a gap of over two lines on the page: a new block
                    starts = row.y0 - previous.y1 > 2.5 * (previous.y1 - previous.y0)
            if starts:
                out.append(row.text)
            else:
                joiner = " " if _LATIN_RE.match(out[-1][-1:]) and _LATIN_RE.match(row.text[:1]) else ""
                out[-1] += joiner + row.text
            previous = row
        del page_no
    return [line for line in (" ".join(p.split(" ")).strip() for p in out) if line]


_OPENING = set("“‘《〈（([【〔「『")
_CLOSING = set("，。、；：！？）)]】〕」』》〉”’…%")
_WORD_CHAR_RE = re.compile(r"[A-Za-z0-9.,%\-_/:]")


def _lead(text: str) -> float:
    """Width in characters of Chinese of what a line-breaker could not split at a line's start: opening
    marks, an ASCII word (half a character a letter) or one character, then closing marks."""
    width, i = 0.0, 0
    while i < len(text) and text[i] in _OPENING:
        width, i = width + 1, i + 1
    if i < len(text) and _WORD_CHAR_RE.match(text[i]):
        while i < len(text) and _WORD_CHAR_RE.match(text[i]):
            width, i = width + 0.5, i + 1
    elif i < len(text):
        width, i = width + 1, i + 1
    while i < len(text) and text[i] in _CLOSING:
        width, i = width + 1, i + 1
    return width


def _edge(values: list[float], pitch: float, *, low: bool) -> float:
    """The text's left (or right) margin: the outermost position that at least a quarter of the rows reach
    within half a character (a centred title or a stamp does not move it)."""
    ordered = sorted(values, reverse=not low)
    need = max(1, len(values) // 4)
    for value in ordered:
        near = sum(abs(v - value) <= 0.5 * pitch for v in values)
        if near >= need:
            return value
    return ordered[0]


def _main() -> None:
    """`python -m gongkai.ingest.ocr pdf|image MEMORY_BYTES` < file: one JSON object on stdout,
    {"lines", "confidence", "pages", "seconds_per_page"} or {"note"}."""
    import json
    import os
    import resource
    import sys

    kind, limit = sys.argv[1], int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    data = sys.stdin.buffer.read()
    try:
        read = ocr_pdf(data) if kind == "pdf" else ocr_image(data)
        result = {"lines": read.lines, "confidence": read.confidence, "pages": read.pages,
                  "seconds_per_page": round(read.seconds_per_page, 3)}
    except UnreadableScan as exc:
        result = {"note": str(exc)}
    except MemoryError:
        sys.exit(3)
    except Exception as exc:  # noqa: BLE001 - pdfium, PIL and onnxruntime raise their own kinds
        result = {"note": f"unreadable scan: {type(exc).__name__}: {exc}"[:300]}
    sys.stdout.write(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    _main()
