"""The article's own title, and the body without the copy of it that pages repeat.

Never simply <title>: portals append the column and site name to it, sometimes glued on without a
separator, and some templates put nothing but the site name there (or in their biggest heading). The title
meta and sentinels come first, then the title elements of the known templates, then the headings; a
candidate that is the site's own name is never the title, and a title the page shows beats a meta that
only extends it (the meta may add the 文号 the page leaves out).
"""

from __future__ import annotations

import re

import lxml.html
from lxml.html import HtmlElement

from gongkai.ingest.html import collapse_ws, in_chrome, is_hidden, is_shown_within, squash
from gongkai.ingest.selectors import (
    ARTICLE_TITLE_META_XPATH,
    SITE_NAME_META_XPATH,
    SITE_NAME_RE,
    TITLE_HEADING_XPATH,
    TITLE_RSS_RE,
    TITLE_SEPARATOR_RE,
    TITLE_XPATHS,
)

# The most of a title kept: a text node of megabytes in a title element is no title (the rest is cut off
# with a marker, and the page is flagged by extract).
MAX_TITLE_CHARS = 500
TITLE_CUT_MARK = "…"


def article_title(root: HtmlElement, html: str) -> str:
    """The article's own title (never the site's name, never <title>'s column and site suffix)."""
    sites = site_names(root)

    def ok(text: str) -> bool:
        return bool(text) and not is_site_name(text, sites)

    for meta in root.xpath(ARTICLE_TITLE_META_XPATH):
        text = markup_text(meta)
        if ok(text):
            return _shown_instead(root, text, sites)
    match = TITLE_RSS_RE.search(html)
    if match:
        text = markup_text(match.group(1))
        if ok(text):
            return text
    for xpath in TITLE_XPATHS:
        text = _first_text(root, xpath, sites)
        if text:
            return text
    raw = " ".join((root.findtext(".//title") or "").split())
    heading = _heading_opening(root, raw, sites)
    if heading:
        return heading
    stripped = _title_less_site(raw, sites)
    if ok(stripped):
        return stripped
    return _best_heading(root, sites) or stripped


def site_names(root: HtmlElement) -> set[str]:
    """The names the page gives its site: the SiteName meta (whitespace removed)."""
    return {squash(s) for s in root.xpath(SITE_NAME_META_XPATH) if squash(s)}


def is_site_name(text: str, sites: set[str]) -> bool:
    """Whether `text` is the site's name: the SiteName meta's, or a name shaped like a portal's own."""
    flat = squash(text)
    return flat in sites or bool(SITE_NAME_RE.match(flat))


def markup_text(text: str) -> str:
    """A title field as shown: markup a template pasted into it (<div>——副标题</div>, <br>) rendered as text."""
    text = " ".join(text.split())
    if "<" in text and ">" in text:
        text = " ".join(lxml.html.fromstring(f"<div>{text}</div>").text_content().split())
    return _cap(text)


def without_title(lines: list[str], title: str) -> list[str]:
    """The body without the title the page repeats as its first line (or first lines: a long title is
    centred over two to four lines, split by <br> or one <div> each), spacing aside."""
    flat = squash(title)
    while flat and lines:  # the page's title cell, then the body's own copy: both go
        for count in range(1, min(5, len(lines)) + 1):
            if squash("".join(lines[:count])) == flat:
                lines = lines[count:]
                break
        else:
            break
    return lines


def _cap(text: str) -> str:
    """`text`, cut to MAX_TITLE_CHARS with a marker when it is longer."""
    return text if len(text) <= MAX_TITLE_CHARS else text[:MAX_TITLE_CHARS] + TITLE_CUT_MARK


_BRACKETED_RE = re.compile(r"^[(（\[【〔].*[)）\]】〕]$")


def _shown_instead(root: HtmlElement, meta: str, sites: set[str]) -> str:
    """The title meta, unless no element shows it and a title element shows its opening (most of it, or all
    but a bracketed tail): then what the page shows (the meta adds a 文号 the shown title leaves out)."""
    flat = squash(meta)
    shown = [squash(t) for t in _heading_texts(root, sites)]
    if flat in shown:
        return meta
    best = max((t for t in shown if flat.startswith(t) and (len(t) * 2 >= len(flat) or _BRACKETED_RE.match(flat[len(t):]))),
               key=len, default="")
    if not best:
        return meta
    for el in root.xpath(TITLE_HEADING_XPATH):
        text = collapse_ws(re.sub(r"\s+", " ", el.text_content()))
        if squash(text) == best:
            return _cap(text)
    return meta


def _first_text(root: HtmlElement, xpath: str, sites: set[str]) -> str:
    """The first non-blank text among the elements `xpath` finds that is not the site's name: a template's
    empty title cell and a banner's site name are passed."""
    for el in root.xpath(xpath):
        text = collapse_ws(re.sub(r"\s+", " ", el.text_content()))
        if text and not is_site_name(text, sites):
            return _cap(text)
    return ""


def _heading_texts(root: HtmlElement, sites: set[str]) -> list[str]:
    """Texts of the visible headings (h1-h3, *tit* classes and ids) outside the page's frame, site names
    left out."""
    body = root.find("body")
    top = body if body is not None else root
    out = []
    for el in root.xpath(TITLE_HEADING_XPATH):
        if is_hidden(el) or in_chrome(el) or not is_shown_within(el, top):
            continue
        text = " ".join(el.text_content().split())
        if len(text) >= 4 and not is_site_name(text, sites):
            out.append(text)
    return out


def _heading_opening(root: HtmlElement, page_title: str, sites: set[str]) -> str:
    """The longest visible heading (h1-h3, or a *tit* class or id) whose text opens the <title>.

    Templates such as the Huzhou platform put the title in <h2 class="tit"> and glue the
    site name to <title> without spaces ("标题-安吉县人民政府"), so splitting <title> fails.
    The longest wins so that a section heading such as <h2>白杨街道</h2> cannot pass for it.
    """
    if not page_title:
        return ""
    best = ""
    for text in _heading_texts(root, sites):
        if len(text) > len(best) and page_title.startswith(text):
            best = text
    return _cap(best)


def _title_less_site(raw: str, sites: set[str]) -> str:
    """<title> without the site's name (after or before a separator) and the column names after the title."""
    for site in _sites_ending(raw, sites):
        if raw.endswith(site) and len(raw) > len(site):
            stripped = raw[: -len(site)].rstrip(" -_|–—")
            if stripped != raw[: -len(site)]:  # only when a separator stood before the site name
                raw = stripped
                break
    parts = [p for p in TITLE_SEPARATOR_RE.split(raw) if p.strip()]
    if len(parts) > 1:
        kept = [p for p in parts if not is_site_name(p, sites)]
        if kept:
            return _cap(" ".join(kept[0].split()))
    return _cap(" ".join(re.split(r"\s+[-|_]\s+", raw)[0].split()))


def _sites_ending(raw: str, sites: set[str]) -> list[str]:
    """The site names (as the meta spells them) that `raw` ends with, longest first."""
    return sorted((s for s in sites if raw.replace(" ", "").endswith(s)), key=len, reverse=True)


def _best_heading(root: HtmlElement, sites: set[str]) -> str:
    """When nothing else names the article: the visible heading the page shows again (the body's first line
    repeats it), else the longest one (a side box's 热点信息 is short)."""
    texts = _heading_texts(root, sites)
    if not texts:
        return ""
    repeated = [t for t in texts if _shown_twice(root, t)]
    return _cap(max(repeated or texts, key=len))


def _shown_twice(root: HtmlElement, text: str) -> bool:
    """Whether two visible elements that are not one inside the other both read `text` (spacing aside)."""
    flat = squash(text)
    probe = flat[:8].replace("'", "")
    owners = []
    for node in root.xpath(f"//text()[contains(., '{probe}')]") if probe else []:
        el = node.getparent()
        while el is not None and len(squash(el.text_content())) <= len(flat):
            if squash(el.text_content()) == flat:
                owners.append(el)
                break
            el = el.getparent()
    distinct = [e for e in owners if not any(o is not e and (o in e.iterancestors() or e in o.iterancestors())
                                             for o in owners)]
    return len({id(e) for e in owners}) >= 2 and len(distinct) >= 2
