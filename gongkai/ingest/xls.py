"""The text of a spreadsheet: .xls (Excel 97-2003 and WPS .et, xlrd) and .xlsx (openpyxl), as tables.

A row is one line, its cells separated by a tab and shown as Excel shows them (6.5%, 1,835.00,
2023年11月30日: the cell's number format applied to its value; General numbers without a trailing .0);
empty rows are left out, and so are a row's empty cells after its last value, but not the empty cells
between values, so columns stay columns (a merged cell's value is in its first cell, the cells it covers
are empty, as Excel stores them). Sheets come in workbook order, hidden ones left out; when a workbook has
more than one sheet with values, each sheet's rows follow a line with its name.

Bounded: the file is at most MAX_FILE_BYTES; an .xlsx's parts are decompressed to at most MAX_PART_BYTES
each and MAX_UNZIPPED_BYTES in all (checked before openpyxl opens it; zipfile never inflates past the size
a member declares); a workbook of over MAX_CELLS cells is not read (never half of a table). Pure: bytes
in, lines out.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_PART_BYTES = 64 * 1024 * 1024
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024
MAX_CELLS = 500_000


class UnreadableSheet(ValueError):
    """A spreadsheet whose text cannot be read: broken, encrypted, or over a bound."""


def xls_lines(data: bytes) -> list[str]:
    """The rows of an Excel 97-2003 .xls (or WPS .et) workbook."""
    import xlrd

    _check_size(data)
    workbook = _workbook_stream(data)
    try:
        # The BIFF stream itself, not the compound file: xlrd's own compound-file reader loops for ever on
        # some broken sector chains, olefile's is bounded.
        book = xlrd.open_workbook(file_contents=workbook, formatting_info=True, on_demand=True,
                                  logfile=io.StringIO())
    except xlrd.XLRDError as exc:
        raise UnreadableSheet(f"unreadable xls: {exc}") from exc
    sheets: list[tuple[str, list[list[str]]]] = []
    cells = 0
    try:
        for index in range(book.nsheets):
            sheet = book.sheet_by_index(index)
            if sheet.visibility:  # 1 hidden, 2 very hidden
                continue
            cells += sheet.nrows * sheet.ncols
            if cells > MAX_CELLS:
                raise UnreadableSheet(f"a workbook of over {MAX_CELLS} cells: not read")
            rows = [[_xls_cell(book, sheet.cell(r, c)) for c in range(sheet.ncols)] for r in range(sheet.nrows)]
            sheets.append((sheet.name, rows))
            book.unload_sheet(index)
    finally:
        book.release_resources()
    return _lines(sheets)


def _workbook_stream(data: bytes) -> bytes:
    """The Workbook (BIFF8) or Book (BIFF5) stream of an .xls compound file, at most MAX_FILE_BYTES."""
    import olefile

    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            name = next((n for n in ("Workbook", "Book") if ole.exists(n)), None)
            if name is None:
                raise UnreadableSheet("an OLE file with no Workbook stream (not a spreadsheet)")
            if ole.exists("EncryptionInfo") or ole.exists("EncryptedPackage"):
                raise UnreadableSheet("an encrypted workbook: not read")
            if ole.get_size(name) > MAX_FILE_BYTES:
                raise UnreadableSheet(f"a Workbook stream over the {MAX_FILE_BYTES >> 20} MB bound")
            with ole.openstream(name) as stream:
                return stream.read(MAX_FILE_BYTES)
    except UnreadableSheet:
        raise
    except Exception as exc:  # noqa: BLE001 - olefile raises OSError, TypeError, IndexError… on broken files
        raise UnreadableSheet(f"a broken OLE compound file ({type(exc).__name__})") from exc


def _xls_cell(book, cell) -> str:
    import xlrd

    kind, value = cell.ctype, cell.value
    if kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return ""
    if kind == xlrd.XL_CELL_TEXT:
        return _text(value)
    if kind == xlrd.XL_CELL_BOOLEAN:
        return "TRUE" if value else "FALSE"
    if kind == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(value, "#ERR")
    fmt = _xls_format(book, cell.xf_index)
    if kind == xlrd.XL_CELL_DATE:
        try:
            moment = xlrd.xldate.xldate_as_datetime(value, book.datemode)
        except (xlrd.xldate.XLDateError, OverflowError, ValueError):
            return display_number(value, "General")
        return display_date(moment, fmt)
    return display_number(value, fmt)


def _xls_format(book, xf_index: int | None) -> str:
    try:
        return book.format_map[book.xf_list[xf_index].format_key].format_str
    except (IndexError, KeyError, TypeError, AttributeError):
        return "General"


def xlsx_lines(data: bytes) -> list[str]:
    """The rows of an Excel 2007+ .xlsx (or WPS's) workbook."""
    import openpyxl

    _check_size(data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UnreadableSheet(f"unreadable xlsx: {exc}") from exc
    with archive:
        infos = archive.infolist()
        big = [i.filename for i in infos if i.file_size > MAX_PART_BYTES]
        if big:
            raise UnreadableSheet(f"an xlsx whose part {big[0]} inflates to over {MAX_PART_BYTES >> 20} MB: not read")
        if sum(i.file_size for i in infos) > MAX_UNZIPPED_BYTES:
            raise UnreadableSheet(f"an xlsx that inflates to over {MAX_UNZIPPED_BYTES >> 20} MB: not read")
        if not any(i.filename.startswith("xl/") for i in infos):
            raise UnreadableSheet("a zip file that is not a spreadsheet")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises KeyError, ValueError, its own InvalidFileException…
        raise UnreadableSheet(f"unreadable xlsx: {type(exc).__name__}") from exc
    sheets: list[tuple[str, list[list[str]]]] = []
    cells = 0
    try:
        for sheet in book.worksheets:
            if sheet.sheet_state != "visible":
                continue
            rows = []
            for row in sheet.iter_rows():
                cells += len(row)
                if cells > MAX_CELLS:
                    raise UnreadableSheet(f"a workbook of over {MAX_CELLS} cells: not read")
                rows.append([_xlsx_cell(cell) for cell in row])
            sheets.append((sheet.title, rows))
    finally:
        book.close()
    return _lines(sheets)


def _xlsx_cell(cell) -> str:
    value = getattr(cell, "value", None)
    fmt = getattr(cell, "number_format", None) or "General"
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return display_date(value, fmt)
    if isinstance(value, int | float):
        return display_number(value, fmt)
    return _text(str(value))


def _check_size(data: bytes) -> None:
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableSheet(f"a spreadsheet of {len(data)} bytes: over the {MAX_FILE_BYTES >> 20} MB bound")


def _text(value: str) -> str:
    """A text cell on one line: its own line breaks and tabs become spaces."""
    return " ".join(value.split())


_DEFAULT_SHEET_NAME = re.compile(r"^(sheet|工作表|表)\s*\d*$", re.I)


def _lines(sheets: Iterable[tuple[str, list[list[str]]]]) -> list[str]:
    tables = [(name, list(_rows(rows))) for name, rows in sheets]
    tables = [(name, rows) for name, rows in tables if rows]
    named = len(tables) > 1
    lines: list[str] = []
    for name, rows in tables:
        if named and not _DEFAULT_SHEET_NAME.match(name.strip()):
            lines.append(_text(name))
        lines.extend(rows)
    return lines


def _rows(rows: list[list[str]]) -> Iterator[str]:
    for row in rows:
        end = len(row)
        while end and not row[end - 1]:
            end -= 1
        if end:
            yield "\t".join(row[:end])


# --- number formats: the part of Excel's that reports use -------------------------------------------------

_QUOTED = re.compile(r'"([^"]*)"|\\(.)|_.|\*.|\[[^\]]*\]')


def _literal(part: str) -> str:
    """A format section with its quoted text and escaped characters made plain, colours and padding gone."""
    return _QUOTED.sub(lambda m: m.group(1) if m.group(1) is not None else (m.group(2) or ""), part)


def _sections(fmt: str) -> list[str]:
    out, current, quoted = [], "", False
    for ch in fmt:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            out.append(current)
            current = ""
        else:
            current += ch
    return [*out, current]


_NUMBER_PATTERN = re.compile(r"[#0?,]*[0#?](\.[0#?]*)?|\.[0#?]+")


def display_number(value: float, fmt: str) -> str:
    """`value` as Excel shows it in number format `fmt`: General, 0, 0.00, #,##0.00, 0.0%, with literal
    text ("万元"), sections for negatives; rounding half away from zero as Excel does."""
    sections = _sections(fmt or "General")
    negative = value < 0
    if negative and len(sections) > 1 and sections[1].strip():
        section, sign = sections[1], ""
        value = -value
    elif value == 0 and len(sections) > 2 and sections[2].strip():
        section, sign = sections[2], ""
    else:
        section, sign = sections[0], "-" if negative else ""
        value = abs(value)
    plain = _literal(section)
    if plain.strip().lower() in ("general", "", "@"):
        return sign + _general(value)
    match = _NUMBER_PATTERN.search(plain)
    if not match:
        return plain  # a section of text only
    pattern = match.group(0)
    percent = plain.count("%")
    decimals = len(pattern.split(".", 1)[1]) if "." in pattern else 0
    grouping = "," in pattern.split(".", 1)[0]
    try:
        number = Decimal(repr(float(value))) * (Decimal(100) ** percent)
        rounded = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return sign + _general(value)
    shown = f"{rounded:,.{decimals}f}" if grouping else f"{rounded:.{decimals}f}"
    if sign and rounded == 0:
        sign = ""
    return plain[:match.start()] + sign + shown + plain[match.end():]


def _general(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}"


_DATE_TOKEN = re.compile(r"(yyyy|yy|mmmm|mmm|mm|m|dddd|ddd|dd|d|hh|h|ss|s|am/pm)", re.I)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def display_date(moment: dt.datetime | dt.date | dt.time, fmt: str) -> str:
    """A date cell as its format shows it: yyyy"年"m"月"d"日", yyyy-mm-dd, yyyy/m/d h:mm…; ISO when the
    format has no date or time parts."""
    section = _sections(fmt or "")[0]
    if section.strip().lower() in ("general", "@", ""):
        section = ""
    if "[$-" in section:
        section = re.sub(r"\[\$-[^\]]*\]", "", section)
    plain_parts: list[str] = []
    tokens: list[tuple[str, str]] = []  # (kind, text): "lit" or a date token
    pos = 0
    for m in re.finditer(r'"([^"]*)"|\\(.)|\[[^\]]*\]|_.|\*.', section):
        tokens += _date_tokens(section[pos:m.start()])
        literal = m.group(1) if m.group(1) is not None else (m.group(2) or "")
        tokens.append(("lit", literal))
        pos = m.end()
    tokens += _date_tokens(section[pos:])
    if not any(kind != "lit" for kind, _ in tokens):
        return moment.isoformat(sep=" ") if isinstance(moment, dt.datetime) else moment.isoformat()
    get = _date_getter(moment, twelve=any(kind.lower() == "am/pm" for kind, _ in tokens))
    for i, (kind, text) in enumerate(tokens):
        if kind == "lit":
            plain_parts.append(text)
            continue
        lower = kind.lower()
        if lower in ("m", "mm"):  # minutes after an hour or before a second, else the month
            before = [k.lower() for k, _ in tokens[:i] if k != "lit"]
            after = [k.lower() for k, _ in tokens[i + 1:] if k != "lit"]
            if (before and before[-1] in ("h", "hh")) or (after and after[0] in ("s", "ss")):
                lower = "min" + lower
        plain_parts.append(get(lower))
    return "".join(plain_parts)


def _date_tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _DATE_TOKEN.finditer(text):
        if m.start() > pos:
            out.append(("lit", text[pos:m.start()]))
        out.append((m.group(0), m.group(0)))
        pos = m.end()
    if pos < len(text):
        out.append(("lit", text[pos:]))
    return out


def _date_getter(moment: dt.datetime | dt.date | dt.time, twelve: bool):
    year = getattr(moment, "year", 1900)
    month = getattr(moment, "month", 1)
    day = getattr(moment, "day", 1)
    hour = getattr(moment, "hour", 0)
    minute = getattr(moment, "minute", 0)
    second = getattr(moment, "second", 0)

    def get(token: str) -> str:
        return {
            "yyyy": f"{year:04d}", "yy": f"{year % 100:02d}",
            "mmmm": _MONTHS[month - 1], "mmm": _MONTHS[month - 1][:3], "mm": f"{month:02d}", "m": str(month),
            "dddd": _weekday(moment), "ddd": _weekday(moment)[:3], "dd": f"{day:02d}", "d": str(day),
            "hh": f"{hour:02d}", "h": str(hour if not twelve else (hour % 12 or 12)),
            "minmm": f"{minute:02d}", "minm": str(minute), "ss": f"{second:02d}", "s": str(second),
            "am/pm": "AM" if hour < 12 else "PM",
        }.get(token, token)
    return get


def _weekday(moment) -> str:
    try:
        return ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")[moment.weekday()]
    except AttributeError:
        return ""
