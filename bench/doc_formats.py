"""Report files in the formats besides .docx and text PDFs (gongkai.ingest.doc, xls, ocr): time on this
machine and how exactly each reads its fixture (tests/fixtures/documents/, made by LibreOffice and PIL).

- .doc / .wps: seconds per file of doc_lines (in process) and of document_text (what ingest calls);
- .xls / .xlsx: seconds per file;
- OCR: seconds per page with the engine loaded once (rendering included; wall and CPU time, the best of
  three), and seconds per file as ingest
  runs it (a child process that loads the models: ~1 s more per file); character similarity (difflib)
  to the expected text and whether the paragraphs came back exactly, mean confidence.

    .venv/bin/python -m bench doc_formats          # once bench/__main__.py lists the section
    .venv/bin/python -c "import bench.doc_formats as b, json; r = {}; b.run(r, False); print(json.dumps(r))"
"""

from __future__ import annotations

import difflib
import time
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "documents"


def _expected(path: Path) -> list[str]:
    return (path.parent / f"{path.name}.expected.txt").read_text(encoding="utf-8").splitlines()


def _similarity(read: list[str], want: list[str]) -> float:
    a, b = "".join("".join(want).split()), "".join("".join(read).split())
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _per_call(function, data: bytes, repeat: int) -> tuple[float, object]:
    result = function(data)  # warm (imports)
    started = time.perf_counter()
    for _ in range(repeat):
        result = function(data)
    return (time.perf_counter() - started) / repeat, result


def run(results: dict, quick: bool) -> None:
    from gongkai.ingest.doc import doc_lines
    from gongkai.ingest.documents import document_text
    from gongkai.ingest.ocr import _engine, ocr_image, ocr_pdf
    from gongkai.ingest.xls import xls_lines, xlsx_lines

    repeat = 3 if quick else 50
    row: dict = {}
    for name, reader in (("柳溪镇2023年工作总结.doc", doc_lines), ("云岭乡2024年工作计划.wps", doc_lines),
                         ("2023年度重点项目推进情况表.xls", xls_lines), ("2024年一季度财政收支情况.xlsx", xlsx_lines)):
        path = FIXTURES / name
        data = path.read_bytes()
        seconds, lines = _per_call(reader, data, repeat)
        ingest_seconds, read = _per_call(document_text, data, repeat)
        row[path.suffix.lstrip(".")] = {"bytes": len(data), "seconds_per_file": round(seconds, 5),
                                        "document_text_seconds_per_file": round(ingest_seconds, 5),
                                        "exact": lines == _expected(path) and read.lines == _expected(path)}
    engine = _engine()
    for name, reader in (("桃源镇2023年安全生产工作总结.pdf", ocr_pdf), ("河长制工作情况.jpg", ocr_image)):
        path = FIXTURES / name
        data = path.read_bytes()
        rounds = 1 if quick else 3
        best = cpu = None
        for _ in range(rounds):
            started, started_cpu = time.perf_counter(), time.process_time()
            read = reader(data, engine)
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
            best = seconds if best is None else min(best, seconds)
            cpu = cpu_seconds if cpu is None else min(cpu, cpu_seconds)
        started = time.perf_counter()
        ingest = document_text(data)
        ingest_seconds = time.perf_counter() - started
        key = "ocr_pdf" if name.endswith(".pdf") else "ocr_jpg"
        row[key] = {"pages": read.pages, "seconds_per_page": round(best / read.pages, 2),
                    # CPU seconds (all of onnxruntime's threads): what the page costs on a machine others share
                    "cpu_seconds_per_page": round(cpu / read.pages, 2),
                    "document_text_seconds_per_file": round(ingest_seconds, 2),
                    "char_similarity": round(_similarity(read.lines, _expected(path)), 4),
                    "paragraphs_exact": read.lines == _expected(path), "confidence": read.confidence,
                    "ingest_same_text": ingest.lines == read.lines}
    results["doc_formats"] = row


if __name__ == "__main__":
    import json
    import sys

    out: dict = {}
    run(out, "--quick" in sys.argv)
    print(json.dumps(out, ensure_ascii=False, indent=1))
