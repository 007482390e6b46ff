"""The one path every ingest ends in: quarantine accounting, derivation, conform and write.

A reader (the export directory of `livecart ingest tables`, or a preset:
:mod:`ray_jobs.ingest.presets`) turns its source into a :class:`Source`: the rows of the contract
tables it could read (a pandas or Arrow frame per table, contract column names; extra columns, such
as the source ids a derive step reads, are allowed and dropped by the conform), and every row it
could not read in :class:`Quarantine`, with file, row and reason. :func:`finish` then

1. writes the quarantine file (always, so a stale one never misleads);
2. refuses a table with no valid row, or whose quarantined share passes
   ``max_quarantine_fraction``, before anything is written (:func:`check_rows`);
3. derives the tables the source lacks (the reader's :data:`Derive` step);
4. conforms every table to the contract and writes the world with its ``dataset.json``
   manifest (:func:`write_world`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypeAlias

import pandas as pd
import pyarrow as pa

from livecart.core import contract as c
from livecart.core.conform import conform
from livecart.core.io import write_parquet_atomic
from livecart.core.settings import LivecartSettings
from ray_jobs.ingest._common import check_rows, write_world

Frame: TypeAlias = pd.DataFrame | pa.Table
Derive: TypeAlias = Callable[[dict[c.Table, Frame], LivecartSettings], list[str]]
"""Fill in ``frames`` (in place) with what the source lacks; return one note per table derived."""

# Columns of every ingest quarantine file.
QUARANTINE_TABLE: Final = "table"
QUARANTINE_FILE: Final = "file"
QUARANTINE_ROW: Final = "row"
QUARANTINE_RAW: Final = "raw"
QUARANTINE_SCHEMA: Final = pa.schema(
    [
        (QUARANTINE_TABLE, pa.string()),
        (QUARANTINE_FILE, pa.string()),
        (QUARANTINE_ROW, pa.int64()),
        (c.QUARANTINE_REASON, pa.string()),
        (QUARANTINE_RAW, pa.string()),
    ]
)


@dataclass
class Quarantine:
    """Rows a reader could not read or convert, each with table, file, row, reason and raw text.

    ``row`` is the number a user finds the row by: the 1-based data row of an export (header not
    counted), the line number of an interactions file (header counted), a Parquet file's row.
    """

    rows: list[dict[str, object]] = field(default_factory=list)

    def add(
        self, table: c.Table, origin: str, row: int, reason: str, raw: dict[str, object]
    ) -> None:
        """A bad row whose raw values are known by column (kept as a JSON object)."""
        self.add_text(table, origin, row, reason, json.dumps(raw, default=str, ensure_ascii=False))

    def add_text(self, table: c.Table, origin: str, row: int, reason: str, raw: str) -> None:
        """A bad row kept as the text it was read from."""
        self.rows.append(
            {
                QUARANTINE_TABLE: table.value,
                QUARANTINE_FILE: origin,
                QUARANTINE_ROW: row,
                c.QUARANTINE_REASON: reason,
                QUARANTINE_RAW: raw,
            }
        )

    def reasons(self, table: c.Table) -> list[str]:
        return [
            str(r[c.QUARANTINE_REASON]) for r in self.rows if r[QUARANTINE_TABLE] == table.value
        ]

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows, schema=QUARANTINE_SCHEMA)


@dataclass
class Source:
    """What a reader read: rows per contract table, their files, the bad rows, manifest facts."""

    frames: dict[c.Table, Frame] = field(default_factory=dict)
    origins: dict[c.Table, str] = field(default_factory=dict)
    quarantine: Quarantine = field(default_factory=Quarantine)
    facts: dict[str, object] = field(default_factory=dict)
    """Written into ``dataset.json`` beside ``name`` and ``derived`` (source, sha256, format...)."""


@dataclass
class Written:
    """The world as written, and where its quarantined rows are."""

    raw_dir: Path
    quarantine_path: Path
    tables: dict[c.Table, pa.Table]
    quarantined: dict[str, int]
    derived: list[str]
    manifest: dict[str, object]

    @property
    def rows(self) -> dict[str, int]:
        return {table.value: data.num_rows for table, data in self.tables.items()}


def _table(frame: Frame, table: c.Table, origin: str) -> pa.Table:
    if isinstance(frame, pd.DataFrame):
        columns = [n for n in c.SCHEMAS[table].names if n in frame]
        frame = pa.Table.from_pandas(frame[columns], preserve_index=False)
    return conform(frame, table, origin)


def finish(
    settings: LivecartSettings, source: Source, derive: Derive, quarantine_file: str, name: str
) -> Written:
    """Account for the quarantined rows, derive, conform and write the raw world."""
    quarantine_path = settings.quarantine_dir / quarantine_file
    write_parquet_atomic(source.quarantine.to_arrow(), quarantine_path)
    for table, frame in source.frames.items():  # before anything is written: the world stays
        reasons = source.quarantine.reasons(table)
        limit = settings.max_quarantine_fraction
        origin = source.origins[table]
        check_rows(origin, len(frame), reasons, limit, quarantine_path, settings.raw_dir)
    read = set(source.frames)
    derived = derive(source.frames, settings)
    tables = {
        table: _table(frame, table, source.origins.get(table, f"derived {table.value}"))
        for table, frame in source.frames.items()
    }
    manifest: dict[str, object] = {"name": name, **source.facts, "derived": derived}
    write_world(settings.raw_dir, tables, manifest)
    quarantined = {t.value: len(source.quarantine.reasons(t)) for t in read}
    return Written(settings.raw_dir, quarantine_path, tables, quarantined, derived, manifest)
