"""Pages answered with status 200 that hold no article: soft 404s and anti-bot challenge shells.

Told apart before extraction, so that such a page is refetched or given up on instead of being stored as
a report. Both tests ask for little text as well as the telltale words: a real report may mention them.
"""

from __future__ import annotations

import re

from lxml import etree

from gongkai.ingest.html import parse_html, visible_text
from gongkai.ingest.selectors import (
    CHALLENGE_LITERALS,
    CHALLENGE_STRONG_RE,
    CHALLENGE_WEAK_RE,
    NOT_FOUND_HEADINGS_XPATH,
    NOT_FOUND_RE,
)


def is_not_found_page(html: str) -> bool:
    """True for a "page not found" page served with status 200 (a soft 404), never for an article.

    It says so in its <title> or a heading, and has neither an article title meta nor content sentinels
    nor much text: a real report may well say 页面不存在 somewhere in its body.
    """
    if not NOT_FOUND_RE.search(html) or "ZJEG_RSS.content" in html or re.search(r"ArticleTitle", html, re.I):
        return False
    try:
        root = parse_html(html)
    except (etree.ParserError, ValueError):
        return False
    said = " ".join([root.findtext(".//title") or ""]
                    + [h.text_content() for h in root.xpath(NOT_FOUND_HEADINGS_XPATH)])
    return bool(NOT_FOUND_RE.search(said)) and len(visible_text(root)) < 300


def is_challenge_page(html: str) -> bool:
    """True for WAF / anti-bot shells (Ruishu $_ts, 加速乐, SafeLine, "Just a moment", 验证码 walls).

    A shell has almost no visible text; a real article that merely mentions 验证码 has a
    body, so weak words only count on near-empty pages, strong script markers on short ones.
    """
    if not html:
        return False
    lowered = html.lower()
    if not any(literal in lowered for literal in CHALLENGE_LITERALS):
        return False
    strong = CHALLENGE_STRONG_RE.search(html) is not None
    if not strong and not CHALLENGE_WEAK_RE.search(html):
        return False  # most pages: no need to parse and walk them a second time
    try:
        root = parse_html(html)
    except (etree.ParserError, ValueError):
        return False
    visible = len(visible_text(root))
    if strong and visible < 1000:
        return True
    if "ZJEG_RSS.content" in html or 'name="ArticleTitle"' in html:
        return False
    return bool(CHALLENGE_WEAK_RE.search(html)) and visible < 300
