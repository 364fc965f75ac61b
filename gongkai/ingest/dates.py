"""Date parsing for the shapes jcms portals print.

htmldate (trafilatura's date engine) misreads 年/月/日 and the jcms-spaced
``2024- 01- 24 14 : 53`` form, so the extractor reads dates from the metadata
block itself with this small, strict parser.
"""

from __future__ import annotations

import datetime as _dt
import re

# Year, month, day separated by -, /, . or 年/月 with optional padding spaces (jcms prints
# "2024- 01- 24"); the digits must not be glued to other digits (serials, phone numbers).
_DATE_RE = re.compile(
    r"(?<!\d)(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})(?!\d)"
)


def parse_date(text: str | None) -> str | None:
    """Return the first plausible date in `text` as ISO YYYY-MM-DD, else None.

    Impossible dates (month 13, 2 月 30 日) are rejected rather than guessed, because a
    wrong date silently corrupts the publication timeline.
    """
    if not text:
        return None
    for match in _DATE_RE.finditer(text):
        year, month, day = (int(g) for g in match.groups())
        if not 1900 <= year <= 2100:
            continue
        try:
            return _dt.date(year, month, day).isoformat()
        except ValueError:
            continue
    return None
