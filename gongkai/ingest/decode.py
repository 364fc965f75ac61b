"""Bytes-to-text decoding that follows the WHATWG label rules, and decides from the bytes when the labels lie.

Chinese county portals often serve GBK bytes labelled ``gb2312`` (in the header or
only in a ``<meta>``).  Python's ``gb2312`` codec fails on characters such as 镕 and
maps ``·`` differently, so labels are resolved the way browsers do: gb2312/gbk are
decoded as gb18030.  w3lib implements that mapping and the precedence
BOM > HTTP header > ``<meta>`` (scanning only the head, so a Word fragment with its own
``<meta charset=gb2312>`` deep in the body cannot override the page's declaration).

Labels lie too: a header saying UTF-8 over GBK bytes, a ``<meta charset=iso-8859-1>`` on a GBK page. When
the declarations disagree with each other or with the bytes, the bytes decide (charset-normalizer's
guess among the candidates that decode them cleanly), and the result is checked: Chinese decoded into
Latin-1 mojibake (``°²ÁëÏç``) or runs of U+FFFD is reported as a `problem`, never passed off as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from charset_normalizer import from_bytes
from w3lib.encoding import (
    html_body_declared_encoding,
    html_to_unicode,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

# Characters a single-byte Western decode of multi-byte Chinese produces: Latin-1's upper half and
# windows-1252's extras. Four in a row essentially never occur in a Chinese page.
_MOJIBAKE_RUN = re.compile(r"[\u00a0-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
                           r"\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]{4,}")
_REPLACEMENT_RUN = re.compile(r"\ufffd+")
# Characters no text page holds in number: C0 controls (not tab, newline, CR, form feed), DEL, a BOM inside
# the text. Binary bytes decoded in any encoding give them.
_JUNK = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufeff]")
_NOT_ASCII_TEXT = re.compile(r"[^\t\n\r\f\x20-\x7e]")
# Bytes no text in UTF-8, GBK/GB18030 or Big5 holds (the encodings of a Chinese portal's pages): C0 controls
# but tab, newline, CR, form feed and ESC; DEL; 0xFF (a lead or trail byte in none of them).
_BINARY_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F, 0xFF])
# The encodings a Chinese portal's page is in, tried when the chosen one reads it garbled.
_PLAUSIBLE = ("utf-8", "gb18030")
NOT_TEXT = "not text"
# Problems that mean the text was not read (a garbled fetch), as text_problem and decode_page name them.
GARBLED = ("mojibake", "undecodable", NOT_TEXT)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SINGLE_BYTE = ("cp1252", "windows-1252", "iso8859-1", "latin-1", "latin_1", "ascii")


@dataclass(frozen=True)
class DecodedPage:
    """A page's text, the encoding it was read in, and what is wrong with it (None: nothing)."""

    text: str
    encoding: str
    problem: str | None = None


def _sniff(body: bytes) -> str | None:
    """Guess an encoding for pages that declare none (old TRS/news sites)."""
    best = from_bytes(body).best()
    if best is None:
        return None
    # Map the guess through the same WHATWG table (a "gb2312" guess becomes gb18030).
    guess = resolve_encoding(best.encoding)
    # UTF-16/32 only with a BOM (read before any sniffing), as browsers do: a GBK page with one stray byte
    # "decodes cleanly" as UTF-16, into Hangul and rare ideographs no check can tell from text.
    return None if guess and guess.lower().replace("_", "-").startswith(("utf-16", "utf-32")) else guess


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def mojibake_chars(text: str) -> int:
    """How many characters of `text` sit in runs that look like multi-byte text read as Latin-1."""
    return sum(len(m.group()) for m in _MOJIBAKE_RUN.finditer(text))


def _common_hanzi() -> frozenset[str]:
    """The 3,755 level-1 hanzi of GB 2312 (lead bytes B0-D7) and Big5's 5,401 常用字 (A4-C6): nearly every
    character of running Chinese text, simplified or traditional."""
    tables = (("gb2312", range(0xB0, 0xD8), range(0xA1, 0xFF)),
              ("big5", range(0xA4, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)]))
    chars = set()
    for codec, leads, trails in tables:
        for lead in leads:
            for trail in trails:
                try:
                    chars.add(bytes((lead, trail)).decode(codec))
                except UnicodeDecodeError:
                    continue
    return frozenset(chars)


_COMMON_HANZI = _common_hanzi()
_HANZI = re.compile(r"[\u4e00-\u9fff]")


def rare_hanzi(text: str) -> tuple[int, int]:
    """(rare, all) ideographs of `text`: UTF-8 bytes read as GBK give mostly level-2 and GBK-only ones (鍏朵粬),
    real text a few percent at most."""
    hanzi = _HANZI.findall(text)
    return sum(c not in _COMMON_HANZI for c in hanzi), len(hanzi)


def is_garbled(problem: str | None) -> bool:
    """Whether a problem (of text_problem, decode_page or an extraction status) says the text was not read."""
    return bool(problem) and any(name in problem for name in GARBLED)


def _junk_problem(text: str) -> str | None:
    """NOT_TEXT when controls, U+FFFD and private-use characters make a quarter of the text's non-ASCII."""
    junk = len(_JUNK.findall(text))
    if junk >= 8 and junk * 4 > len(_NOT_ASCII_TEXT.findall(text)):
        return f"{NOT_TEXT}: {junk} control, replacement or private-use characters"
    return None


def text_problem(text: str) -> str | None:
    """What makes decoded text unreadable: binary junk, Latin-1 mojibake or U+FFFD runs; None when it reads."""
    junk = _junk_problem(text)
    if junk:
        return junk
    garbled = mojibake_chars(text)
    if garbled >= 8 and garbled * 4 > len(_CJK.findall(text)):
        return f"mojibake: {garbled} characters read as Latin-1"
    replaced = sum(len(m.group()) for m in _REPLACEMENT_RUN.finditer(text))
    if replaced >= 8:
        return f"undecodable: {replaced} replacement characters"
    rare, hanzi = rare_hanzi(text)
    if hanzi >= 20 and rare * 2 > hanzi:
        return f"mojibake: {rare} of {hanzi} ideographs are rare ones (UTF-8 read as GBK)"
    return None


def _is_single_byte(encoding: str) -> bool:
    name = encoding.lower().replace("_", "-")
    return name in _SINGLE_BYTE or name.startswith(("iso8859", "iso-8859", "windows-125", "cp125"))


def _utf8_with_multibyte(body: bytes) -> bool:
    """Valid UTF-8 that is not plain ASCII: GBK text of any length essentially never is."""
    return not body.isascii() and _decodes(body, "utf-8")


def _best_from_bytes(body: bytes, declared: list[str]) -> str | None:
    """The encoding the bytes are in, among the declared ones, charset-normalizer's guess, UTF-8 and GB18030:
    one that decodes them cleanly, UTF-8 first (its structure does not validate by chance), then the one
    whose text reads as Chinese (most CJK, no Latin-1 mojibake)."""
    if _utf8_with_multibyte(body):
        return "utf-8"
    candidates = list(dict.fromkeys([*declared, *(g for g in [_sniff(body)] if g), "gb18030"]))
    best, best_score = None, None
    for candidate in candidates:
        try:
            text = body.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
        score = len(_CJK.findall(text)) - 4 * mojibake_chars(text)
        if best_score is None or score > best_score:
            best, best_score = candidate, score
    return best


def binary_problem(body: bytes) -> str | None:
    """NOT_TEXT when the bytes are no text in any encoding a Chinese portal uses: bytes none of them holds
    (controls, 0xFF) make an eighth of the non-ASCII bytes and a twentieth of all: all 0xFF, a binary file, a
    cut-off gzip stream. A single-byte decode (cp1250, Latin-1) reads any bytes at all, so it proves nothing;
    UTF-8 cut mid-character is damaged text (undecodable), not binary."""
    binary = len(body) - len(body.translate(None, _BINARY_BYTES))
    if binary >= 8 and binary * 8 > len(body) - len(body.translate(None, bytes(range(0x80)))) and binary * 20 > len(body):
        return f"{NOT_TEXT}: {binary} of {len(body)} bytes are controls or 0xFF, in no text encoding"
    return None


def decode_page(body: bytes, content_type: str | None) -> DecodedPage:
    """Decode an HTML response body, deciding from the bytes when its declared charsets lie.

    `content_type` is the HTTP Content-Type header value (or None). The declared charset (BOM, header,
    head ``<meta>``) is used when it reads the bytes cleanly and agrees with the other declaration;
    charset-normalizer is consulted when nothing is declared, or when the declarations disagree with each
    other or with the bytes.
    """
    encoding, text = html_to_unicode(content_type, body, default_encoding="utf-8", auto_detect_fun=_sniff)
    if read_bom(body)[0]:
        return DecodedPage(text, encoding, text_problem(text))
    header = http_content_type_encoding(content_type) if content_type else None
    meta = html_body_declared_encoding(body)
    declared = [resolve_encoding(e) or e for e in (header, meta) if e]
    disagree = len({d.lower() for d in declared}) > 1
    problem = text_problem(text)
    # The bytes are decoded again strictly only when the first decode replaced something (w3lib decodes with
    # errors="replace": a text without U+FFFD is a clean decode), not a second time for every page.
    suspicious = (disagree or ("\ufffd" in text and not _decodes(body, encoding)) or problem is not None
                  or (_is_single_byte(encoding) and not body.isascii())
                  or (encoding.lower() not in ("utf-8", "utf8") and _utf8_with_multibyte(body)))
    if suspicious:
        chosen = _best_from_bytes(body, [d for d in declared if _decodes(body, d)])
        if chosen and chosen.lower() != encoding.lower():
            encoding, text = chosen, body.decode(chosen)
            problem = text_problem(text)
    # Looked at only where the text gives cause: a single-byte decode of non-ASCII bytes, a problem, junk.
    if _is_single_byte(encoding) and not body.isascii() or problem is not None or _JUNK.search(text):
        binary = binary_problem(body)
        if binary:
            return DecodedPage(text, encoding, binary)
        if problem and problem.startswith("undecodable"):  # a GBK page with one stray byte, read as UTF-8: U+FFFD
            for readable in _PLAUSIBLE:  # (valid UTF-8 that reads as mojibake is not tried: it may read as GBK)
                again = body.decode(readable, "replace")
                if readable != encoding and text_problem(again) is None:
                    return DecodedPage(again, readable, None)
    return DecodedPage(text, encoding, problem)


def decode_html(body: bytes, content_type: str | None) -> str:
    """The text of `decode_page` (for callers that only read the page)."""
    return decode_page(body, content_type).text
