"""Reports out as Apache Parquet (`gongkai export --format parquet`): typed columns, streamed in row groups.

It takes the rows the JSON lines and CSV writers take (gongkai.app.export.iter_reports: one dict per report, in seq
order, dates and timestamps as ISO strings) and writes them with real types: dates as date32,
timestamps as timestamp[us, UTC], `urls` a list of strings, `attachments` a list of {name, url}
structs, `metadata` a map of label -> value. Rows are buffered only up to one row group (ROW_GROUP_ROWS
reports or ROW_GROUP_BYTES of text, whichever comes first), so memory stays flat however many
reports there are. The output needs no seeking: stdout (a pipe) works.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP_ROWS = 10_000
ROW_GROUP_BYTES = 32 * 2**20

_ATTACHMENT = pa.struct([("name", pa.string()), ("url", pa.string())])
_TS = pa.timestamp("us", tz="UTC")
# A report file's record (reports.files, README "Report files").
_FILE = pa.struct([("url", pa.string()), ("name", pa.string()), ("filename", pa.string()), ("size", pa.int64()),
                   ("sha256", pa.string()), ("kind", pa.string()), ("staged_page_id", pa.int64()),
                   ("chars", pa.int64()), ("ocr", pa.bool_()), ("confidence", pa.float64()), ("used", pa.string()),
                   ("note", pa.string())])

# The export fields (gongkai.app.export.EXPORT_FIELDS), in that order, with their types.
SCHEMA = pa.schema([
    pa.field("id", pa.int64(), nullable=False),
    pa.field("seq", pa.int64(), nullable=False),
    pa.field("url", pa.string(), nullable=False),
    pa.field("urls", pa.list_(pa.string())),
    pa.field("site", pa.string(), nullable=False),
    pa.field("title", pa.string(), nullable=False),
    pa.field("index_no", pa.string()),
    pa.field("publisher", pa.string()),
    pa.field("doc_no", pa.string()),
    pa.field("written_date", pa.date32()),
    pa.field("published_date", pa.date32()),
    pa.field("category", pa.string()),
    pa.field("body", pa.string(), nullable=False),
    pa.field("attachments", pa.list_(_ATTACHMENT)),
    pa.field("metadata", pa.map_(pa.string(), pa.string())),
    pa.field("version", pa.int32(), nullable=False),
    pa.field("first_seen_at", _TS),
    pa.field("updated_at", _TS),
    pa.field("withdrawn_at", _TS),
    pa.field("period_year", pa.int32()),
    pa.field("period_half", pa.string()),
    pa.field("kinds", pa.list_(pa.string())),
    pa.field("province", pa.string()),
    pa.field("city", pa.string()),
    pa.field("county", pa.string()),
    pa.field("town", pa.string()),
    pa.field("extraction", pa.string()),
    pa.field("body_source", pa.string()),
    pa.field("cover_note", pa.string()),
    pa.field("attachment_text", pa.string()),
    pa.field("files", pa.list_(_FILE)),
], metadata={b"gongkai": b"reports export: one row per report, in seq order"})

_DATES = ("written_date", "published_date")
_TIMESTAMPS = ("first_seen_at", "updated_at", "withdrawn_at")


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(value)


def _timestamp(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _metadata(value: Any) -> list[tuple[str, str]] | None:
    if value is None:
        return None
    return [(str(k), v if v is None or isinstance(v, str) else str(v)) for k, v in dict(value).items()]


def _attachments(value: Any) -> list[dict[str, str | None]]:
    return [{"name": a.get("name"), "url": a.get("url")} for a in value or []]


def typed_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """One export row with Python values of the schema's types."""
    out = {name: row.get(name) for name in SCHEMA.names}
    for name in _DATES:
        out[name] = _date(out[name])
    for name in _TIMESTAMPS:
        out[name] = _timestamp(out[name])
    out["metadata"] = _metadata(out["metadata"])
    out["attachments"] = _attachments(out["attachments"])
    out["files"] = [{name: f.get(name) for name in _FILE.names} for f in out["files"] or []]
    out["urls"] = list(out["urls"] or [])
    out["kinds"] = list(out["kinds"] or [])
    return out


def _text_bytes(row: Mapping[str, Any]) -> int:
    return sum(len(row.get(name) or "") * 3 for name in ("body", "title", "cover_note", "attachment_text")) + 512


def write_parquet(rows: Iterable[Mapping[str, Any]], out: IO[bytes] | str, *,
                  row_group_rows: int = ROW_GROUP_ROWS, row_group_bytes: int = ROW_GROUP_BYTES) -> int:
    """Write every row to `out` (a binary file object, e.g. sys.stdout.buffer, or a path); return the count.

    An empty export is a valid file with the schema and no rows.
    """
    count = 0
    with pq.ParquetWriter(out, SCHEMA, compression="zstd", use_dictionary=["site", "publisher", "category"],
                          write_statistics=True) as writer:
        batch: list[dict[str, Any]] = []
        size = 0
        for row in rows:
            batch.append(typed_row(row))
            size += _text_bytes(row)
            if len(batch) >= row_group_rows or size >= row_group_bytes:
                writer.write_table(pa.Table.from_pylist(batch, schema=SCHEMA), row_group_size=len(batch))
                count += len(batch)
                batch, size = [], 0
        if batch or count == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=SCHEMA), row_group_size=max(1, len(batch)))
            count += len(batch)
    return count
