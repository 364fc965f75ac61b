"""One form of every URL, for every stage: the form sent on the wire is the key.

A listing link with a space, a quote, a `;` or Chinese in it reaches the frontier, the request, the
staged page and the report in one form: the one a browser sends (w3lib's `safe_url_string`, the query
in the page's own encoding). Keying any table by another form makes two rows of one page.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from w3lib.url import safe_url_string

# The encodings a linked file's query can have been sent in: UTF-8, or GBK from a GBK page (gb18030 is
# GBK's superset, so it encodes every name the page could hold).
_QUERY_ENCODINGS = ("utf-8", "gb18030")


def wire_url(url: str, encoding: str = "utf-8") -> str:
    """`url` as it goes out in a request: %-encoded path, the query in `encoding` (the page's own)."""
    return safe_url_string(url.strip(), encoding=encoding)


def requested_forms(url: str) -> set[str]:
    """The forms a crawl may have requested a linked URL in: its query in UTF-8 or, from a GBK page, GBK."""
    return {wire_url(url, encoding) for encoding in _QUERY_ENCODINGS}


def host_key(url: str) -> str:
    """host[:port], lower-cased: how the allowlist and the per-host politeness know a host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def file_name(url: str) -> str:
    """The last path segment of a URL, %-decoded: the name a file link without text goes by."""
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])
