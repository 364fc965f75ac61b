"""The one date parser of every stage: listing rows, metadata blocks, URLs, file names.

htmldate (trafilatura's date engine) misreads 年/月/日 and the jcms-spaced
``2024- 01- 24 14 : 53`` form, so gongkai reads dates with this small, strict parser: an impossible
date (2月30日, month 13) is None, never a guess, wherever it is read.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata

# Year, month, day separated by -, /, . or 年/月 with optional padding spaces (jcms prints
# "2024- 01- 24"); the digits must not be glued to other digits (serials, phone numbers).
_DATE_RE = re.compile(
    r"(?<!\d)(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})(?!\d)"
)


# 二〇二五年一月八日 (how a document's 成文日期 is often printed): year digit by digit, month and day as
# numbers up to 三十一.
_CN_DIGITS = {c: str(n) for n, c in enumerate("〇一二三四五六七八九")} | {"零": "0", "○": "0"}
_CN_DATE_RE = re.compile(r"([〇零○一二三四五六七八九]{4})\s*年\s*([一二三四五六七八九十]{1,3})\s*月\s*([一二三四五六七八九十]{1,3})\s*日")


def _cn_number(text: str) -> int:
    """一 .. 三十一."""
    if "十" not in text:
        return int(_CN_DIGITS[text]) if len(text) == 1 else -1
    tens, _, units = text.partition("十")
    return (int(_CN_DIGITS[tens]) if tens else 1) * 10 + (int(_CN_DIGITS[units]) if units else 0)


def _arabic(text: str) -> str:
    """Full-width digits and separators (２０２５－０１－０８) as ASCII, Chinese-numeral dates as digits."""
    text = unicodedata.normalize("NFKC", text)
    return _CN_DATE_RE.sub(lambda m: "{}年{}月{}日".format("".join(_CN_DIGITS[c] for c in m.group(1)),
                                                         _cn_number(m.group(2)), _cn_number(m.group(3))), text)


def parse_date(text: str | None) -> str | None:
    """Return the first plausible date in `text` as ISO YYYY-MM-DD, else None.

    Impossible dates (month 13, 2 月 30 日) are rejected rather than guessed, because a
    wrong date silently corrupts the publication timeline.
    """
    if not text:
        return None
    if not text.isascii():
        text = _arabic(text)
    for match in _DATE_RE.finditer(text):
        year, month, day = (int(g) for g in match.groups())
        if not 1900 <= year <= 2100:
            continue
        try:
            return _dt.date(year, month, day).isoformat()
        except ValueError:
            continue
    return None
