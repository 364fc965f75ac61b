"""The files an article links or embeds (its report is often one), and the images of a body with no text.

File links are looked for on the whole page, not only in the body: templates list them after the body
container. Only the site's frame (header, footer, navigation) is passed over.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urljoin, urlsplit

from lxml.html import HtmlElement

from gongkai.filelinks import is_file_link
from gongkai.ingest.body import BodyRegion
from gongkai.ingest.html import base_url, in_chrome, is_shown_within, walk
from gongkai.ingest.selectors import EMBEDDED_FILE_XPATH, FRAME_RE
from gongkai.models import Attachment
from gongkai.urls import file_name


def page_attachments(root: HtmlElement, url: str) -> list[Attachment]:
    """File links of the article in document order, deduplicated by absolute URL."""
    base = base_url(root, url)
    body = root.find("body")
    top = body if body is not None else root
    found: list[Attachment] = []
    seen: set[str] = set()
    for a in top.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.lower().startswith(("javascript:", "mailto:", "#")):
            continue
        absolute = urljoin(base, href)
        if absolute in seen or not is_file_link(absolute) or not is_shown_within(a, top) or in_chrome(a, FRAME_RE):
            continue
        seen.add(absolute)
        name = " ".join(a.text_content().split())
        if not name:
            query = parse_qs(urlsplit(absolute).query)
            name = (query.get("showname") or [""])[0].strip()
        if not name:
            query = parse_qs(urlsplit(absolute).query)
            name = (query.get("filename") or [""])[0] or file_name(absolute)
        found.append(Attachment(name=name, url=absolute))
    # A report shown in an embedded PDF viewer (#pdfshow[data-value], <embed>/<iframe>/<object>), not linked.
    for el in top.xpath(EMBEDDED_FILE_XPATH):
        ref = (el.get("data-value") or el.get("src") or el.get("data") or "").strip()
        absolute = urljoin(base, ref) if ref else ""
        if not absolute or absolute in seen or not is_file_link(absolute) or in_chrome(el, FRAME_RE):
            continue
        seen.add(absolute)
        found.append(Attachment(name=file_name(absolute), url=absolute))
    return found


def body_images(root: HtmlElement, region: BodyRegion, url: str) -> list[Attachment]:
    """The images of a body that has no text (a report published as scanned pages, anatomy 3.5), in
    order: its only content, kept as attachments so the report is stored and not retried forever."""
    if not region.markers and region.container is None:
        return []  # no known body: a page's images are its logos and banners
    base = base_url(root, url)
    body = root.find("body")
    top = region.container if region.container is not None else (body if body is not None else root)
    found: list[Attachment] = []
    seen: set[str] = set()
    active = not region.markers
    for event in walk(top):
        if event[0] == "marker":
            active = event[1]
            continue
        if not active or event[0] != "start" or not isinstance(event[1].tag, str) or event[1].tag.lower() != "img":
            continue
        src = (event[1].get("src") or "").strip()
        if not src or src.startswith("data:"):
            continue
        absolute = urljoin(base, src)
        if absolute not in seen:
            seen.add(absolute)
            found.append(Attachment(name=file_name(absolute), url=absolute))
    return found
