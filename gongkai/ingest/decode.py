"""Bytes-to-text decoding that follows the WHATWG label rules.

Chinese county portals often serve GBK bytes labelled ``gb2312`` (in the header or
only in a ``<meta>``).  Python's ``gb2312`` codec fails on characters such as 镕 and
maps ``·`` differently, so labels are resolved the way browsers do: gb2312/gbk are
decoded as gb18030.  w3lib implements that mapping and the precedence
BOM > HTTP header > ``<meta>`` (scanning only the head, so a Word fragment with its own
``<meta charset=gb2312>`` deep in the body cannot override the page's declaration).
"""

from __future__ import annotations

from charset_normalizer import from_bytes
from w3lib.encoding import html_body_declared_encoding, html_to_unicode, resolve_encoding


def _sniff(body: bytes) -> str | None:
    """Guess an encoding for pages that declare none (old TRS/news sites)."""
    best = from_bytes(body).best()
    if best is None:
        return None
    # Map the guess through the same WHATWG table (a "gb2312" guess becomes gb18030).
    return resolve_encoding(best.encoding)


def decode_html(body: bytes, content_type: str | None) -> str:
    """Decode an HTML response body to text.

    `content_type` is the HTTP Content-Type header value (or None).  charset-normalizer
    is consulted only when neither the header nor a head ``<meta>`` declares a charset.
    """
    encoding, text = html_to_unicode(content_type, body, default_encoding="utf-8", auto_detect_fun=_sniff)
    if "\ufffd" in text and not _decodes(body, encoding):
        # The declared charset cannot be right (a header saying utf-8 over GBK bytes): a label that
        # decodes nothing is a lie, so try the page's <meta>, then the sniffer, before garbling text.
        for candidate in (html_body_declared_encoding(body), _sniff(body)):
            resolved = resolve_encoding(candidate) if candidate else None
            if resolved and resolved != encoding and _decodes(body, resolved):
                return body.decode(resolved)
    return text


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True
