"""How an extraction is scored against gold: shared by tests/test_realpages.py and bench/extraction.py.

Pure functions over plain values (an extracted field dict, a gold dict), so the test and the benchmark
cannot score differently. The rules are those of ../shared/realpages/README.md: a field is right when it
equals the gold once every whitespace (U+3000 and NBSP included) is removed; a value where the gold is
null is invented; the body must hold its first and last sentence and none of the page's chrome; a 附件
link line or a stand-alone 来源 line in the body is a stray line (they belong in attachments and source).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# The fields a gold file may hold, by the name the extractor gives them (ArticleFields).
GOLD_FIELDS = ("title", "index_no", "publisher", "published_date", "written_date", "doc_no", "category", "source")

_WS_RE = re.compile(r"[\s\u3000\xa0\u2002\u2003\u2009\u200b\ufeff]+")
# A line that only names a source: (来源:朱溪镇), 来源：县统计局, 信息来源：某镇 (no sentence in it).
_SOURCE_LINE_RE = re.compile(r"^[（(【\[]?\s*(信息|文章|稿件|新闻)?来\s*源\s*[:：][^，。；！？]{0,40}[)）】\]]?$")
# A line that points at a file: 附件：X.doc, 附件:1. X.pdf, 附件2：X.xlsx.
_FILE_EXT = r"\.(docx?|xlsx?|pdf|wps|et|ofd|zip|rar|7z|txt|pptx?|csv)"
_ATTACHMENT_LINE_RE = re.compile(r"^(相关)?附\s*件\s*\d*\s*[:：]?\s*(\d+\s*[.、．]\s*)?.{0,120}" + _FILE_EXT + r"\s*$",
                                 re.I)
# A sentence of the body: text between 。！？； or line ends, long enough to mean something.
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[。！？；])|\n")
# A token that must survive extraction: a number (with its decimals and %), a date.
_NUMERIC_RE = re.compile(r"\d+(?:[.,]\d+)*\s*[%％‰]?|\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?")


def squash(text: str | None) -> str:
    """`text` without any whitespace: how two texts are compared when their spacing may differ."""
    return _WS_RE.sub("", text or "")


def field_verdict(got: str | None, gold: str | None) -> str:
    """"ok", "wrong" (differs), "missing" (gold set, nothing read), "invented" (gold null, a value read),
    or "n/a" (both null)."""
    if gold is None:
        return "invented" if got not in (None, "") else "n/a"
    if got in (None, ""):
        return "missing"
    return "ok" if squash(got) == squash(gold) else "wrong"


def stray_lines(body: str) -> list[str]:
    """Body lines that are a 附件 link line or a stand-alone 来源 line: not the report's text."""
    return [line for line in body.splitlines()
            if _SOURCE_LINE_RE.match(line.strip()) or _ATTACHMENT_LINE_RE.match(line.strip())]


def chrome_leaks(body: str, chrome: Iterable[str]) -> list[str]:
    """The chrome strings (navigation, footer, widgets, metadata labels) found in the body."""
    flat = squash(body)
    return [c for c in chrome if squash(c) and squash(c) in flat]


@dataclass
class PageScore:
    """One page against its gold: each field's verdict, and what is wrong with the body."""

    fields: dict[str, str] = field(default_factory=dict)
    missing_sentences: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)

    @property
    def body_ok(self) -> bool:
        """First and last sentence in, no chrome, no stray line."""
        return not (self.missing_sentences or self.leaks or self.stray)

    @property
    def ok(self) -> bool:
        return self.body_ok and all(v in ("ok", "n/a") for v in self.fields.values())

    def failures(self) -> list[str]:
        """What is wrong, one short line each (for an assertion message)."""
        out = [f"{name}: {verdict}" for name, verdict in self.fields.items() if verdict not in ("ok", "n/a")]
        out += [f"body lacks: {s[:30]}" for s in self.missing_sentences]
        out += [f"chrome in body: {c}" for c in self.leaks]
        out += [f"stray line in body: {s[:40]}" for s in self.stray]
        return out


def score_page(got: Mapping[str, Any], gold: Mapping[str, Any]) -> PageScore:
    """Score extracted fields (ArticleFields.to_dict()) against a realpages gold dict."""
    body = got.get("body") or ""
    flat = squash(body)
    score = PageScore()
    for name in GOLD_FIELDS:
        if name in gold:
            score.fields[name] = field_verdict(got.get(name), gold[name])
    score.missing_sentences = [s for s in (gold.get("body_first"), gold.get("body_last"))
                               if s and squash(s) not in flat]
    score.leaks = chrome_leaks(body, gold.get("chrome") or ())
    score.stray = stray_lines(body)
    return score


# --- Whole-body scores, for pages whose whole gold body is known (the replica layouts, the fixtures) ---------


def sentences(text: str) -> list[str]:
    """The body's sentences, whitespace removed; one- and two-character scraps are no sentence."""
    return [s for s in (squash(p) for p in _SENTENCE_SPLIT_RE.split(text)) if len(s) > 2]


def sentence_precision_recall(got: str, gold: str) -> tuple[float, float]:
    """Share of extracted sentences that are gold sentences, and of gold sentences extracted (multisets)."""
    got_s, gold_s = sentences(got), sentences(gold)
    if not got_s and not gold_s:
        return 1.0, 1.0
    pool = list(gold_s)
    hits = 0
    for s in got_s:
        if s in pool:
            pool.remove(s)
            hits += 1
    precision = hits / len(got_s) if got_s else (1.0 if not gold_s else 0.0)
    recall = hits / len(gold_s) if gold_s else 1.0
    return precision, recall


def numerics(text: str) -> list[str]:
    """Every number, percentage and date of `text`, whitespace removed, in order."""
    return [squash(m.group()) for m in _NUMERIC_RE.finditer(text)]


def lost_numerics(got: str, gold: str) -> list[str]:
    """Gold numeric tokens the extracted body does not hold as many times (a lost digit, 月 or % shows here)."""
    have = numerics(got)
    lost = []
    for token in numerics(gold):
        if token in have:
            have.remove(token)
        else:
            lost.append(token)
    return lost
