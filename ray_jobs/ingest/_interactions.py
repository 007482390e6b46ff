"""The ``interactions`` preset: any public interaction benchmark read into the contract.

Input is ``user_id,item_id,timestamp[,event_type]`` as CSV or Parquet, or a headerless
whitespace-separated ``user item`` text file in time order (the SASRec/BERT4Rec layout). Such
logs have no live rooms, so each item becomes a streamer ``it-s<X>`` with one room ``it-r<X>``
that is live over the whole time range of the data; the recommender then ranks items as rooms.

Bad rows never vanish and never abort the file: each is quarantined with its line number, raw
text and a reason (:mod:`ray_jobs.ingest._parse`), and the counts add up (events + quarantined +
blank lines = rows read).
"""

from __future__ import annotations

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
from livecart.core.settings import LivecartSettings
from ray_jobs.ingest._common import input_file, sha256_file, viewer_ids
from ray_jobs.ingest._parse import ParsedRows, read_csv, read_parquet, read_whitespace
from ray_jobs.ingest._pipeline import Frame, Source

UNKNOWN_CATEGORY: Final = "unknown"
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


class InteractionsOptions(BaseModel):
    """How the file is read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: InteractionsFormat = Field(default=InteractionsFormat.AUTO, description="File layout.")
    assume_utc: bool = Field(
        default=False, description="Read ISO timestamps without an offset as UTC (else quarantine)."
    )


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


def read_interactions(
    path: Path, options: InteractionsOptions, settings: LivecartSettings, progress: bool
) -> Source:
    """Every line an accepted event (in time order) or a quarantined row with its reason; the
    events keep the user, item and time columns the derive step reads."""
    path = input_file(path, "interactions file")
    layout = resolve_format(path, options.format)
    rows = ParsedRows()
    if layout is InteractionsFormat.CSV:
        read_csv(path, rows, options.assume_utc, progress)
    elif layout is InteractionsFormat.PARQUET:
        read_parquet(path, rows, options.assume_utc, progress)
    else:
        read_whitespace(path, rows, progress)
    source = Source(origins={Table.EVENTS: str(path)})
    for line, raw, reason in zip(rows.bad_lines, rows.bad_raw, rows.bad_reasons, strict=True):
        source.quarantine.add_text(Table.EVENTS, str(path), line, reason, raw)
    parsed = rows.accepted_table().rename_columns([_LINE, _USER, _ITEM, _MICROS, _TYPE])
    parsed = parsed.sort_by([(_MICROS, "ascending"), (_LINE, "ascending")])
    users = parsed.group_by(_USER).aggregate([]).sort_by(_USER)[_USER]
    user_ids = viewer_ids(_strings(users, "it-u").to_pylist(), settings)
    source.frames[Table.EVENTS] = pa.table(
        {
            EVENT_ID: _strings(parsed[_LINE], "it-e"),
            EVENT_TYPE: parsed[_TYPE],
            EVENT_TIMESTAMP: parsed[_MICROS].cast(UTC_TIMESTAMP),
            VIEWER_ID: pc.take(user_ids, pc.index_in(parsed[_USER], value_set=users)),
            ROOM_ID: _strings(parsed[_ITEM], "it-r"),
            STREAMER_ID: _strings(parsed[_ITEM], "it-s"),
            _USER: parsed[_USER],
            _ITEM: parsed[_ITEM],
        }
    )
    rows_read = rows.accepted + len(rows.bad_lines) + rows.blank_lines
    source.facts = {
        "source": str(path),
        "format": layout.value,
        "rows": rows_read,
        "sha256": sha256_file(path),
    }
    return source


def derive_interactions(frames: dict[Table, Frame], settings: LivecartSettings) -> list[str]:
    """One viewer per user, one streamer and one always-live room per item."""
    events = frames[Table.EVENTS]
    assert isinstance(events, pa.Table)  # read_interactions'
    users = (
        events.group_by(_USER).aggregate([(EVENT_TIMESTAMP, "min"), (VIEWER_ID, "min")])
    ).sort_by(_USER)
    items = events.group_by(_ITEM).aggregate([(_USER, "count_distinct")]).sort_by(_ITEM)
    item_names = items[_ITEM]
    times = events[EVENT_TIMESTAMP]  # in time order
    n_items = items.num_rows
    frames[Table.VIEWERS] = pa.table(
        {
            VIEWER_ID: users[f"{VIEWER_ID}_min"],
            SIGNUP_TIMESTAMP: users[f"{EVENT_TIMESTAMP}_min"],
        }
    )
    frames[Table.STREAMERS] = pa.table(
        {
            STREAMER_ID: _strings(item_names, "it-s"),
            DISPLAY_NAME: _strings(item_names, "item "),
            MAIN_CATEGORY: pa.array([UNKNOWN_CATEGORY] * n_items, type=pa.string()),
            FOLLOWER_COUNT: items[f"{_USER}_count_distinct"].cast(pa.int64()),
        }
    )
    frames[Table.ROOMS] = pa.table(
        {
            ROOM_ID: _strings(item_names, "it-r"),
            STREAMER_ID: _strings(item_names, "it-s"),
            TITLE: _strings(item_names, "item "),
            CATEGORY: pa.array([UNKNOWN_CATEGORY] * n_items, type=pa.string()),
            START_TIMESTAMP: pa.repeat(times[0], n_items),
            END_TIMESTAMP: pa.repeat(times[-1], n_items),
        }
    )
    return [
        "viewers (one per user; sign-up at the first event)",
        "streamers (one per item: it-s<item>)",
        "rooms (one per item, live over the data's whole time range: it-r<item>)",
    ]
