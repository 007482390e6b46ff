"""Where contract tables live on disk, and how they are read and written.

Catalog sources are single Parquet files ``<dir>/<table>.parquet``; events are a directory of
Parquet parts ``<dir>/events/part-*.parquet`` so that large worlds are written in bounded memory.
Writes go to a temporary name and are renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from livecart.core.contract import SCHEMAS, Table


def table_path(directory: Path, table: Table) -> Path:
    """The file (catalog tables) or directory (events) holding ``table`` under ``directory``."""
    if table is Table.EVENTS:
        return directory / "events"
    return directory / f"{table.value}.parquet"


def write_parquet_atomic(table: pa.Table, path: Path) -> Path:
    """Write ``table`` to ``path`` via a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return path


def write_source(directory: Path, table: Table, data: pa.Table, part: str = "00000") -> Path:
    """Write a contract table; events go to ``events/part-<part>.parquet``."""
    target = table_path(directory, table)
    if table is Table.EVENTS:
        return write_parquet_atomic(data, target / f"part-{part}.parquet")
    return write_parquet_atomic(data, target)


def source_exists(directory: Path, table: Table) -> bool:
    target = table_path(directory, table)
    if table is Table.EVENTS:
        return target.is_dir() and any(target.glob("part-*.parquet"))
    return target.is_file()


def event_parts(directory: Path) -> list[Path]:
    """Event part files in a stable order."""
    return sorted(table_path(directory, Table.EVENTS).glob("part-*.parquet"))


def read_source(directory: Path, table: Table) -> pa.Table:
    """Read a whole contract table (use :func:`event_parts` to stream large event sets)."""
    target = table_path(directory, table)
    if table is Table.EVENTS:
        parts = event_parts(directory)
        if not parts:
            return SCHEMAS[table].empty_table()
        return ds.dataset([str(p) for p in parts], format="parquet").to_table()
    return pq.read_table(target)


def clear_events(directory: Path) -> None:
    """Remove previous event parts so a rerun never mixes two worlds."""
    for part in event_parts(directory):
        part.unlink()
