"""Report files: our reading (gongkai.ingest.documents) vs the bare libraries on the same files.

PDF: our pdf_text (pdfminer.six layout analysis + our paragraph rules) vs bare
pdfminer.high_level.extract_text; .docx: our docx_text vs a bare lxml parse of word/document.xml taking
every w:t. Files are the replica's Word-like .docx and 公文-layout PDFs of the demo reports. Also says
whether ours read each file exactly (the bare ones are not expected to: their text has no paragraphs).
"""

from __future__ import annotations

import io
import time
import zipfile

from lxml import etree


def _corpus(quick: bool) -> list[tuple[str, list[str], bytes, bytes]]:
    from gongkai_replica.demo import build_demo_sites
    from gongkai_replica.documents import docx_bytes, pdf_bytes

    articles = [a for site in build_demo_sites() for a in site.articles() if len(a.paragraphs) >= 3]
    articles = articles[:4] if quick else articles[:40]
    return [(a.title, a.paragraphs, pdf_bytes(a.title, a.paragraphs), docx_bytes(a.title, a.paragraphs))
            for a in articles]


def _timed(function, items) -> tuple[float, list]:
    started = time.perf_counter()
    out = [function(item) for item in items]
    return time.perf_counter() - started, out


def _bare_docx(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = etree.fromstring(archive.read("word/document.xml"))
    return "".join(root.itertext())


def run(results: dict, quick: bool) -> None:
    from pdfminer.high_level import extract_text

    from gongkai.ingest.documents import pdf_text
    from gongkai.ingest.docx import docx_lines
    from gongkai.ingest.pdf import pdf_lines
    from gongkai_replica.documents import signature_lines

    corpus = _corpus(quick)
    expected = [[title, *(p.strip() for p in paragraphs if p.strip()), *signature_lines(title)]
                for title, paragraphs, _, _ in corpus]
    row = {"files": len(corpus)}
    for kind, ours, bare, index in (("pdf", pdf_lines, lambda d: extract_text(io.BytesIO(d)), 2),
                                    ("docx", docx_lines, _bare_docx, 3)):
        files = [entry[index] for entry in corpus]
        bare_seconds, _ = _timed(bare, files)
        ours_seconds, read = _timed(ours, files)
        row[kind] = {"ours_files_per_s": round(len(files) / ours_seconds, 1),
                     "bare_files_per_s": round(len(files) / bare_seconds, 1),
                     "ratio": round(bare_seconds / ours_seconds, 2),
                     "exact": sum(r == e for r, e in zip(read, expected, strict=True))}
    # As ingest runs it: in a child process with memory and time limits (an interpreter start per PDF).
    files = [entry[2] for entry in corpus]
    bounded_seconds, read = _timed(pdf_text, files)
    row["pdf"]["bounded_files_per_s"] = round(len(files) / bounded_seconds, 1)
    row["pdf"]["bounded_exact"] = sum(r.lines == e for r, e in zip(read, expected, strict=True))
    results["documents"] = row
