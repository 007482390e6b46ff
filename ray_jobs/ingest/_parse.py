"""Row-level reading of interaction files: every line becomes an accepted row or a quarantined one.

A bad line (invalid UTF-8, a missing id, an unparseable or naive timestamp) must neither vanish
nor abort the file, so CSV and whitespace files are read as bytes and decoded line by line, and
each problem is recorded with the line number, the raw text and a reason ``<column>: <rule>``.
Only file-level problems (no header, a missing required column) raise :class:`ContractError`.
Lines are split by :mod:`ray_jobs.ingest._lines` (LF, CRLF or old-Mac CR endings; a stray CR or
a field over the csv module's limit makes a bad row, not a failed file).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from livecart.core.contract import EVENT_TYPE, EventType
from livecart.core.errors import ContractError
from ray_jobs.ingest._lines import LINE, byte_lines, csv_fields, stray_cr, utf8_problem

# Column names of the generic interactions format (input names, not contract names).
IN_USER: Final = "user_id"
IN_ITEM: Final = "item_id"
IN_TIMESTAMP: Final = "timestamp"
IN_REQUIRED: Final = (IN_USER, IN_ITEM, IN_TIMESTAMP)

WHITESPACE_EPOCH: Final = datetime(2020, 1, 1, tzinfo=UTC)
"""Time of line 1 of a ``user item`` file; line n is n-1 seconds later (files are in time order)."""

_UNIX_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO: Final = timedelta(microseconds=1)
_MIN_US: Final = (datetime(1, 1, 2, tzinfo=UTC) - _UNIX_EPOCH) // _MICRO
_MAX_US: Final = (datetime(9999, 12, 30, tzinfo=UTC) - _UNIX_EPOCH) // _MICRO
NAIVE_RULE: Final = "naive timestamp (no UTC offset); pass assume_utc=True to read it as UTC"


ACCEPTED_SCHEMA: Final = pa.schema(
    [
        (LINE, pa.int64()),
        (IN_USER, pa.string()),
        (IN_ITEM, pa.string()),
        (IN_TIMESTAMP, pa.int64()),
        (EVENT_TYPE, pa.string()),
    ]
)
"""Accepted rows as parsed: 1-based line, ids as text, microseconds since the Unix epoch, type."""
_BATCH_ROWS: Final = 200_000


@dataclass
class ParsedRows:
    """Accepted rows and quarantined rows, in file order.

    Accepted rows are moved into Arrow batches every ``_BATCH_ROWS`` rows, because Python lists
    cost several times the memory of the same columns in Arrow.
    """

    batches: list[pa.RecordBatch] = field(default_factory=list)
    accepted: int = 0
    lines: list[int] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    micros: list[int] = field(default_factory=list)
    event_types: list[str] = field(default_factory=list)
    bad_lines: list[int] = field(default_factory=list)
    bad_raw: list[str] = field(default_factory=list)
    bad_reasons: list[str] = field(default_factory=list)
    blank_lines: int = 0

    def flush(self) -> None:
        """Move the accepted rows held in lists into an Arrow batch."""
        if not self.lines:
            return
        columns = (self.lines, self.users, self.items, self.micros, self.event_types)
        arrays = [pa.array(c, type=f.type) for c, f in zip(columns, ACCEPTED_SCHEMA, strict=True)]
        self.batches.append(pa.RecordBatch.from_arrays(arrays, schema=ACCEPTED_SCHEMA))
        for column in columns:
            column.clear()

    def accepted_table(self) -> pa.Table:
        """Every accepted row, in file order, as :data:`ACCEPTED_SCHEMA`."""
        self.flush()
        return pa.Table.from_batches(self.batches, schema=ACCEPTED_SCHEMA)

    def reject(self, line: int, raw: str, reason: str) -> None:
        self.bad_lines.append(line)
        self.bad_raw.append(raw)
        self.bad_reasons.append(reason)

    def check(
        self,
        line: int,
        raw: str,
        values: tuple[object, object, object, object],
        assume_utc: bool,
    ) -> None:
        """Accept ``(user, item, timestamp, event_type)`` or quarantine it with every problem."""
        user_value, item_value, ts_value, type_value = values
        problems: list[str] = []
        user = id_text(user_value)
        if user is None:
            problems.append(f"{IN_USER}: missing value")
        item = id_text(item_value)
        if item is None:
            problems.append(f"{IN_ITEM}: missing value")
        micros = parse_timestamp(ts_value, assume_utc)
        if isinstance(micros, str):
            problems.append(f"{IN_TIMESTAMP}: {micros}")
        if problems or user is None or item is None or isinstance(micros, str):
            self.reject(line, raw, "; ".join(problems))
            return
        event_type = id_text(type_value)
        self.lines.append(line)
        self.users.append(user)
        self.items.append(item)
        self.micros.append(micros)
        self.event_types.append(event_type if event_type is not None else EventType.WATCH.value)
        self.accepted += 1
        if len(self.lines) >= _BATCH_ROWS:
            self.flush()


def id_text(value: object) -> str | None:
    """An id as text: stripped strings, integral floats without ``.0``; empty and NaN are None."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else str(value)
    text = str(value).strip()
    return text or None


def _number_or_datetime(text: str) -> int | float | datetime | None:
    """Integers stay exact (float would round large microsecond values); None if nothing fits."""
    for parse in (int, float, datetime.fromisoformat):
        try:
            return parse(text)
        except ValueError:
            continue
    return None


def parse_timestamp(value: object, assume_utc: bool) -> int | str:
    """Microseconds since the Unix epoch (UTC), or the rule the value breaks.

    Numbers (and numeric strings) are Unix seconds; other strings must be ISO-8601 with an
    offset; naive ones are accepted as UTC only with ``assume_utc``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return "missing value"
    if isinstance(value, str):
        text = value.strip()
        value = _number_or_datetime(text)
        if value is None:
            return f"unparseable timestamp {text[:40]!r} (want Unix seconds or ISO-8601)"
    if isinstance(value, bool):
        return f"unsupported timestamp value {value!r}"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return f"not a finite number ({value})"
        micros = round(value * 1_000_000)
    elif isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            if not assume_utc:
                return NAIVE_RULE
            value = value.replace(tzinfo=UTC)
        micros = (value - _UNIX_EPOCH) // _MICRO
    else:
        return f"unsupported timestamp value of type {type(value).__name__}"
    if not _MIN_US <= micros <= _MAX_US:
        return f"out of range ({value})"
    return micros


def read_csv(path: Path, rows: ParsedRows, assume_utc: bool, progress: bool) -> None:
    """A comma-separated file whose header names user_id, item_id, timestamp[, event_type]."""
    lines = byte_lines(path, progress)
    header_line = next(lines, None)
    if header_line is None:
        raise ContractError(str(path), None, "empty file: expected a header line")
    try:
        names = csv_fields(header_line[1].decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ContractError(str(path), None, "header line is not valid UTF-8") from exc
    if isinstance(names, str):
        raise ContractError(str(path), None, f"header {names}")
    header = [name.strip() for name in names]
    for column in IN_REQUIRED:
        if column not in header:
            raise ContractError(str(path), column, f"missing required column (found {header})")
    positions = [header.index(c) for c in IN_REQUIRED]
    type_position = header.index(EVENT_TYPE) if EVENT_TYPE in header else None
    for number, data in lines:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            rows.reject(number, data.decode("utf-8", errors="replace"), utf8_problem(exc))
            continue
        if not text.strip():
            rows.blank_lines += 1
            continue
        fields = csv_fields(text)
        if isinstance(fields, str):
            rows.reject(number, text, fields)
            continue
        if len(fields) != len(header):
            rule = f"expected {len(header)} comma-separated fields, found {len(fields)}"
            rows.reject(number, text, f"{LINE}: {rule}")
            continue
        user, item, stamp = (fields[p] for p in positions)
        event_type = fields[type_position] if type_position is not None else None
        rows.check(number, text, (user, item, stamp, event_type), assume_utc)


def read_whitespace(path: Path, rows: ParsedRows, progress: bool) -> None:
    """A headerless ``user item`` file in time order; line n gets WHITESPACE_EPOCH + (n-1) s."""
    start_seconds = int(WHITESPACE_EPOCH.timestamp())
    for number, data in byte_lines(path, progress):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            rows.reject(number, data.decode("utf-8", errors="replace"), utf8_problem(exc))
            continue
        if not text.strip():
            rows.blank_lines += 1
            continue
        problem = stray_cr(text)
        if problem is not None:
            rows.reject(number, text, problem)
            continue
        fields = text.split()
        if len(fields) != 2:
            rule = f"expected 2 whitespace-separated fields (user item), found {len(fields)}"
            rows.reject(number, text, f"{LINE}: {rule}")
            continue
        rows.check(number, text, (fields[0], fields[1], start_seconds + number - 1, None), False)


def read_parquet(path: Path, rows: ParsedRows, assume_utc: bool, progress: bool) -> None:
    """A Parquet file with the same columns; the line number is the 1-based row number."""
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise ContractError(str(path), None, f"not a readable Parquet file ({exc})") from exc
    names = parquet.schema_arrow.names
    for column in IN_REQUIRED:
        if column not in names:
            raise ContractError(str(path), column, f"missing required column (found {names})")
    columns = [*IN_REQUIRED, *([EVENT_TYPE] if EVENT_TYPE in names else [])]
    number = 0
    total = parquet.metadata.num_rows
    with tqdm(total=total, unit="row", desc=path.name, disable=not progress) as bar:
        for batch in parquet.iter_batches(columns=columns):
            for record in batch.to_pylist():
                number += 1
                values = (
                    record[IN_USER],
                    record[IN_ITEM],
                    record[IN_TIMESTAMP],
                    record.get(EVENT_TYPE),
                )
                raw = json.dumps(record, default=str, ensure_ascii=False)
                rows.check(number, raw, values, assume_utc)
            bar.update(batch.num_rows)
