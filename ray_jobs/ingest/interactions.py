"""Feed any public interaction benchmark into the livecart contract.

Input is ``user_id,item_id,timestamp[,event_type]`` as CSV or Parquet, or a headerless
whitespace-separated ``user item`` text file in time order (the SASRec/BERT4Rec layout). Such
logs have no live rooms, so each item becomes a streamer ``it-s<X>`` with one room ``it-r<X>``
that is live over the whole time range of the data; the recommender then ranks items as rooms.

Bad rows never vanish and never abort the file: they are written to
``<quarantine_dir>/ingest_interactions.parquet`` with the line number, raw text and a reason, and
the counts in :class:`InteractionsResult` add up (events + quarantined + blank lines = rows read).
A file with no valid row, or whose quarantined share passes ``max_quarantine_fraction`` (the
validation gate's setting), is refused and the home's raw world is left as it was.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from livecart.core.contract import (
    CATEGORY,
    DISPLAY_NAME,
    END_TIMESTAMP,
    EVENT_ID,
    EVENT_TIMESTAMP,
    EVENT_TYPE,
    FOLLOWER_COUNT,
    MAIN_CATEGORY,
    QUARANTINE_REASON,
    QUARANTINE_SOURCE,
    ROOM_ID,
    SIGNUP_TIMESTAMP,
    START_TIMESTAMP,
    STREAMER_ID,
    TITLE,
    UTC_TIMESTAMP,
    VIEWER_ID,
    Table,
)
from livecart.core.errors import ContractError
from livecart.core.io import write_parquet_atomic
from livecart.core.settings import LivecartSettings
from ray_jobs.ingest._common import (
    check_rows,
    input_file,
    sha256_file,
    to_contract,
    viewer_ids,
    write_world,
)
from ray_jobs.ingest._parse import ParsedRows, read_csv, read_parquet, read_whitespace

log = logging.getLogger(__name__)

QUARANTINE_FILE: Final = "ingest_interactions.parquet"
LINE_NUMBER: Final = "line_number"
RAW_LINE: Final = "raw_line"
UNKNOWN_CATEGORY: Final = "unknown"
QUARANTINE_SCHEMA: Final = pa.schema(
    [
        (LINE_NUMBER, pa.int64()),
        (RAW_LINE, pa.string()),
        (QUARANTINE_REASON, pa.string()),
        (QUARANTINE_SOURCE, pa.string()),
    ]
)
_USER: Final = "_user"
_ITEM: Final = "_item"
_MICROS: Final = "_micros"
_LINE: Final = "_line"
_TYPE: Final = "_type"


class InteractionsFormat(StrEnum):
    """How the file is laid out; ``auto`` decides by suffix (.csv, .parquet/.pq, .txt)."""

    AUTO = "auto"
    CSV = "csv"
    PARQUET = "parquet"
    WHITESPACE = "whitespace"


SUFFIX_FORMATS: Final = {
    ".csv": InteractionsFormat.CSV,
    ".parquet": InteractionsFormat.PARQUET,
    ".pq": InteractionsFormat.PARQUET,
    ".txt": InteractionsFormat.WHITESPACE,
}


class InteractionsConfig(BaseModel):
    """What to ingest and how; ``settings`` and ``path`` are required."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    settings: LivecartSettings = Field(description="Where to write and how to id viewers.")
    path: Path = Field(description="The interactions file.")
    format: InteractionsFormat = Field(default=InteractionsFormat.AUTO, description="File layout.")
    assume_utc: bool = Field(
        default=False, description="Read ISO timestamps without an offset as UTC (else quarantine)."
    )
    name: str = Field(default="interactions", description="Dataset name for dataset.json.")
    progress: bool = Field(default=True, description="Show tqdm bars while reading.")


@dataclass(frozen=True)
class InteractionsResult:
    """Counts of what was read and written; ``events + quarantined + blank_lines == rows_read``."""

    raw_dir: Path
    quarantine_path: Path
    rows_read: int
    events: int
    quarantined: int
    blank_lines: int
    viewers: int
    items: int
    seconds: float


def resolve_format(path: Path, requested: InteractionsFormat) -> InteractionsFormat:
    """The explicit format, or the one the suffix implies; an unknown suffix is a ContractError."""
    if requested is not InteractionsFormat.AUTO:
        return requested
    found = SUFFIX_FORMATS.get(path.suffix.lower())
    if found is None:
        known = ", ".join(sorted(SUFFIX_FORMATS))
        raise ContractError(
            str(path), None, f"unknown format {path.suffix!r}: use {known} or pass format"
        )
    return found


def _strings(values: pa.Array | pa.ChunkedArray, prefix: str) -> pa.ChunkedArray:
    """``prefix`` + each value as text, computed in Arrow (no Python string per row)."""
    text = pc.cast(values, pa.string())
    joined: pa.ChunkedArray = pc.binary_join_element_wise(prefix, text, "")
    return joined


def _tables(rows: ParsedRows, settings: LivecartSettings) -> dict[Table, pa.Table]:
    """Contract tables from accepted rows: events in time order, one viewer per user, one
    streamer and one always-live room per item."""
    parsed = rows.accepted_table().rename_columns([_LINE, _USER, _ITEM, _MICROS, _TYPE])
    parsed = parsed.sort_by([(_MICROS, "ascending"), (_LINE, "ascending")])
    users = parsed.group_by(_USER).aggregate([(_MICROS, "min")]).sort_by(_USER)
    user_ids = viewer_ids(_strings(users[_USER], "it-u").to_pylist(), settings)
    items = parsed.group_by(_ITEM).aggregate([(_USER, "count_distinct")]).sort_by(_ITEM)
    item_names = items[_ITEM]
    start, end = (
        (parsed[_MICROS][0].as_py(), parsed[_MICROS][-1].as_py()) if parsed.num_rows else (0, 0)
    )
    n_items = items.num_rows
    tables = {
        Table.VIEWERS: pa.table(
            {
                VIEWER_ID: user_ids,
                SIGNUP_TIMESTAMP: users[f"{_MICROS}_min"].cast(UTC_TIMESTAMP),
            }
        ),
        Table.STREAMERS: pa.table(
            {
                STREAMER_ID: _strings(item_names, "it-s"),
                DISPLAY_NAME: _strings(item_names, "item "),
                MAIN_CATEGORY: pa.array([UNKNOWN_CATEGORY] * n_items, type=pa.string()),
                FOLLOWER_COUNT: items[f"{_USER}_count_distinct"].cast(pa.int64()),
            }
        ),
        Table.ROOMS: pa.table(
            {
                ROOM_ID: _strings(item_names, "it-r"),
                STREAMER_ID: _strings(item_names, "it-s"),
                TITLE: _strings(item_names, "item "),
                CATEGORY: pa.array([UNKNOWN_CATEGORY] * n_items, type=pa.string()),
                START_TIMESTAMP: pa.array([start] * n_items, type=pa.int64()).cast(UTC_TIMESTAMP),
                END_TIMESTAMP: pa.array([end] * n_items, type=pa.int64()).cast(UTC_TIMESTAMP),
            }
        ),
        Table.EVENTS: pa.table(
            {
                EVENT_ID: _strings(parsed[_LINE], "it-e"),
                EVENT_TYPE: parsed[_TYPE],
                EVENT_TIMESTAMP: parsed[_MICROS].cast(UTC_TIMESTAMP),
                VIEWER_ID: pc.take(user_ids, pc.index_in(parsed[_USER], value_set=users[_USER])),
                ROOM_ID: _strings(parsed[_ITEM], "it-r"),
                STREAMER_ID: _strings(parsed[_ITEM], "it-s"),
            }
        ),
    }
    return {table: to_contract(data, table) for table, data in tables.items()}


def _write_quarantine(rows: ParsedRows, path: Path, source: Path) -> None:
    """Always write the file (empty when nothing was bad) so a stale one never misleads."""
    quarantine = pa.table(
        {
            LINE_NUMBER: pa.array(rows.bad_lines, type=pa.int64()),
            RAW_LINE: pa.array(rows.bad_raw, type=pa.string()),
            QUARANTINE_REASON: pa.array(rows.bad_reasons, type=pa.string()),
            QUARANTINE_SOURCE: pa.array([str(source)] * len(rows.bad_lines), type=pa.string()),
        },
        schema=QUARANTINE_SCHEMA,
    )
    write_parquet_atomic(quarantine, path)


def run(config: InteractionsConfig) -> InteractionsResult:
    """Read, check and map an interactions file, then replace the raw world in ``raw_dir``."""
    started = time.perf_counter()
    path = input_file(config.path, "interactions file")
    layout = resolve_format(path, config.format)
    rows = ParsedRows()
    if layout is InteractionsFormat.CSV:
        read_csv(path, rows, config.assume_utc, config.progress)
    elif layout is InteractionsFormat.PARQUET:
        read_parquet(path, rows, config.assume_utc, config.progress)
    else:
        read_whitespace(path, rows, config.progress)
    settings = config.settings
    quarantine_path = settings.quarantine_dir / QUARANTINE_FILE
    _write_quarantine(rows, quarantine_path, path)
    check_rows(
        str(path),
        rows.accepted,
        rows.bad_reasons,
        settings.max_quarantine_fraction,
        quarantine_path,
        settings.raw_dir,
    )
    tables = _tables(rows, settings)
    rows_read = rows.accepted + len(rows.bad_lines) + rows.blank_lines
    manifest = {
        "name": config.name,
        "source": str(path),
        "format": layout.value,
        "rows": rows_read,
        "sha256": sha256_file(path),
    }
    write_world(settings.raw_dir, tables, manifest)
    result = InteractionsResult(
        raw_dir=settings.raw_dir,
        quarantine_path=quarantine_path,
        rows_read=rows_read,
        events=tables[Table.EVENTS].num_rows,
        quarantined=len(rows.bad_lines),
        blank_lines=rows.blank_lines,
        viewers=tables[Table.VIEWERS].num_rows,
        items=tables[Table.STREAMERS].num_rows,
        seconds=time.perf_counter() - started,
    )
    if result.quarantined:
        log.warning("%d of %d rows quarantined in %s", result.quarantined, rows_read, path)
    log.info("interactions ingest wrote %s", result)
    return result
