"""One form of every URL, for every stage: the form sent on the wire is the key.

A listing link with a space, a quote, a `;` or Chinese in it reaches the frontier, the request, the
staged page and the report in one form: the one a browser sends (w3lib's `safe_url_string`, the query
in the page's own encoding). Keying any table by another form makes two rows of one page.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote, urlsplit, urlunsplit

from w3lib.url import safe_url_string

# The encodings a linked file's query can have been sent in: UTF-8, or GBK from a GBK page (gb18030 is
# GBK's superset, so it encodes every name the page could hold).
_QUERY_ENCODINGS = ("utf-8", "gb18030")


_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def _escape(match: re.Match[str]) -> str:
    """One %XX as RFC 3986 6.2.2 normalizes it: an unreserved character decoded, any other in upper case."""
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _dot_free(path: str) -> str:
    """The path without `.` and `..` segments (RFC 3986 5.2.4), its trailing slash kept."""
    if "/." not in path:
        return path
    clean = posixpath.normpath(path)
    clean = "/" + clean.lstrip("/")  # normpath keeps a leading "//"
    return clean + "/" if path.endswith(("/", "/.", "/..")) and clean != "/" else clean


def wire_url(url: str, encoding: str = "utf-8") -> str:
    """`url` as it goes out in a request: %-encoded path, the query in `encoding` (the page's own).

    One form of one resource, whatever form a link spells it in (RFC 3986 6.2.2): escapes in upper case
    and unreserved characters unescaped (`%5f`, `%5F`, `_`), no `./` or `../` segments, no default port,
    no fragment (never sent). A listing that spells a stored article another way must not make it new.
    """
    safe = safe_url_string(url.strip(), encoding=encoding)
    parts = urlsplit(safe)
    netloc = parts.netloc
    default_port = _DEFAULT_PORTS.get(parts.scheme)
    if default_port and netloc.endswith(default_port):
        netloc = netloc.removesuffix(default_port)
    path = _dot_free(_ESCAPE.sub(_escape, parts.path)) if parts.scheme in _DEFAULT_PORTS else parts.path
    query = _ESCAPE.sub(_escape, parts.query)
    return urlunsplit((parts.scheme, netloc, path, query, ""))


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
