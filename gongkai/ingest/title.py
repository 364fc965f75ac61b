"""The article's own title, and the body without the copy of it that pages repeat.

Never simply <title>: portals append the column and site name to it, sometimes glued on without a
separator. The title meta and sentinels come first, then the title elements of the known templates.
"""

from __future__ import annotations

import re

import lxml.html
from lxml.html import HtmlElement

from gongkai.ingest.html import collapse_ws, in_chrome, is_hidden, squash
from gongkai.ingest.selectors import (
    ARTICLE_TITLE_META_XPATH,
    SITE_NAME_META_XPATH,
    TITLE_HEADING_XPATH,
    TITLE_RSS_RE,
    TITLE_XPATHS,
)


def article_title(root: HtmlElement, html: str) -> str:
    """The article's own title (never <title>, which carries the column and site suffix)."""
    for meta in root.xpath(ARTICLE_TITLE_META_XPATH):
        text = " ".join(meta.split())
        if text:
            return text
    match = TITLE_RSS_RE.search(html)
    if match:
        text = " ".join(lxml.html.fromstring(f"<div>{match.group(1)}</div>").text_content().split())
        if text:
            return text
    for xpath in TITLE_XPATHS:
        text = " ".join(_first_text(root, xpath).split())
        if text:
            return text
    raw = " ".join((root.findtext(".//title") or "").split())
    heading = _heading_opening(root, raw)
    if heading:
        return heading
    for site in root.xpath(SITE_NAME_META_XPATH):
        site = " ".join(site.split())
        if site and raw.endswith(site) and len(raw) > len(site):
            stripped = raw[: -len(site)].rstrip(" -_|–—")
            if stripped != raw[: -len(site)]:  # only when a separator stood before the site name
                raw = stripped
                break
    return " ".join(re.split(r"\s+[-|_]\s+", raw)[0].split())


def without_title(lines: list[str], title: str) -> list[str]:
    """The body without the title the page repeats as its first line (or two, split by a <br>), spacing
    aside."""
    flat = squash(title)
    while flat and lines:  # the page's title cell, then the body's own copy: both go
        if squash(lines[0]) == flat:
            lines = lines[1:]
        elif len(lines) > 1 and squash(lines[0] + lines[1]) == flat:
            lines = lines[2:]
        else:
            break
    return lines


def _first_text(root: HtmlElement, xpath: str) -> str:
    """The first non-blank text among the elements `xpath` finds: a template's empty title cell is passed."""
    for el in root.xpath(xpath):
        text = collapse_ws(re.sub(r"\s+", " ", el.text_content()))
        if text:
            return text
    return ""


def _heading_opening(root: HtmlElement, page_title: str) -> str:
    """The longest visible heading (h1-h3, or a *tit* class) whose text opens the <title>.

    Templates such as the Huzhou platform put the title in <h2 class="tit"> and glue the
    site name to <title> without spaces ("标题-安吉县人民政府"), so splitting <title> fails.
    The longest wins so that a section heading such as <h2>白杨街道</h2> cannot pass for it.
    """
    if not page_title:
        return ""
    best = ""
    for el in root.xpath(TITLE_HEADING_XPATH):
        if is_hidden(el) or in_chrome(el):
            continue
        text = " ".join(el.text_content().split())
        if len(text) >= 4 and len(text) > len(best) and page_title.startswith(text):
            best = text
    return best
