"""The single writer: merges rows into a view's snapshot or appends a delta, then commits.

Only one process writes at a time (an fcntl lock on the store directory), so materialization jobs,
``feast materialize`` and every serving replica's ``push`` can all write safely. Merging keeps,
per entity key, the row with the latest event timestamp (ties: latest created timestamp, then the
latest write), so a write older than what is stored never overwrites it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from livecart.online.bookkeeping import CREATED_TS, EVENT_TS
from livecart.online.files import (
    Folded,
    Manifest,
    ViewEntry,
    collect_garbage,
    missing,
    next_version,
    read_delta,
    read_manifest,
    read_snapshot,
    write_delta,
    write_manifest,
    write_snapshot,
    writer_lock,
)

SEQ = "__seq"


@dataclass(frozen=True)
class ViewWrite:
    """Rows for one view, with the layout they must have."""

    rows: pa.Table
    schema: pa.Schema
    keys: Sequence[str]
    signature: str


def merge_latest(parts: Sequence[pa.Table], schema: pa.Schema, keys: Sequence[str]) -> pa.Table:
    """One row per key: the latest by (event ts, created ts, write order)."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        for i, part in enumerate(parts):
            con.register(f"p{i}", part.cast(schema))
        union = " UNION ALL ".join(f"SELECT *, {i} AS {SEQ} FROM p{i}" for i in range(len(parts)))
        partition = ", ".join(f'"{k}"' for k in keys)
        columns = ", ".join(f'"{name}"' for name in schema.names)
        merged: pa.Table = con.sql(
            f"""
            SELECT {columns} FROM ({union})
            QUALIFY row_number() OVER (
                PARTITION BY {partition}
                ORDER BY "{EVENT_TS}" DESC NULLS LAST, "{CREATED_TS}" DESC NULLS LAST, {SEQ} DESC) = 1
            """
        ).to_arrow_table()
    finally:
        con.close()
    return merged.cast(schema)


def _current_parts(directory: Path, entry: ViewEntry) -> list[pa.Table]:
    name = entry.base
    try:
        parts = [read_snapshot(directory, name)] if name else []
        for name in entry.deltas:
            parts.append(read_delta(directory, name))
    except FileNotFoundError:
        raise missing(directory, str(name)) from None
    return parts


class SnapshotWriter:
    """Commits writes to a store directory; see files.py for the file layout."""

    def __init__(
        self, directory: Path, compact_after_deltas: int = 32, compact_after_rows: int = 50_000
    ):
        self.directory = directory
        self.compact_after_deltas = compact_after_deltas
        self.compact_after_rows = compact_after_rows

    def write(
        self, changes: Mapping[str, ViewWrite], compact: bool = False, rebuild: bool = False
    ) -> int:
        """Write all ``changes`` in one commit; returns the new manifest version. ``rebuild``
        commits ``changes`` as the whole store, without reading the current manifest (the
        repair of a corrupted store: every view it keeps must be in ``changes``, in full)."""
        with writer_lock(self.directory):
            if rebuild:
                manifest = Manifest(next_version(self.directory, None) - 1)
            else:
                manifest = read_manifest(self.directory)
            version = manifest.version + 1
            for view, change in changes.items():
                entry = manifest.views.get(view)
                if entry is None or entry.signature != change.signature:
                    entry = ViewEntry(change.signature)
                manifest.views[view] = self._apply(view, entry, change, version, compact)
            manifest.version = version
            write_manifest(self.directory, manifest)
            collect_garbage(self.directory, manifest.files())
        return version

    def _apply(
        self, view: str, entry: ViewEntry, change: ViewWrite, version: int, compact: bool
    ) -> ViewEntry:
        rows = change.rows.cast(change.schema)
        too_many = len(entry.deltas) + 1 > self.compact_after_deltas
        big = rows.num_rows > self.compact_after_rows
        delta = f"{view}.{version:010d}.arrow"
        if compact or too_many or big:
            parts = [*_current_parts(self.directory, entry), rows]
            merged = merge_latest(parts, change.schema, change.keys)
            name = f"{view}.{version:010d}.duckdb"
            folded = None
            if (entry.base is not None or entry.deltas) and not big:
                # Followers hold the previous base and deltas already: with this write's rows
                # as one more delta they catch up without loading the new snapshot.
                write_delta(self.directory, delta, rows)
                folded = Folded(entry.base, (*entry.deltas, delta))
            write_snapshot(self.directory, name, merged)
            return ViewEntry(change.signature, name, [], folded)
        write_delta(self.directory, delta, rows)
        return ViewEntry(change.signature, entry.base, [*entry.deltas, delta], entry.folded)

    def sync_views(self, keep: Mapping[str, str], drop: Sequence[str]) -> None:
        """Register views (dropping data whose schema signature changed) and drop others."""
        with writer_lock(self.directory):
            manifest = read_manifest(self.directory)
            changed = False
            for view in drop:
                changed |= manifest.views.pop(view, None) is not None
            for view, signature in keep.items():
                entry = manifest.views.get(view)
                if entry is None or entry.signature != signature:
                    manifest.views[view] = ViewEntry(signature)
                    changed = True
            if changed or manifest.version == 0:
                manifest.version += 1
                write_manifest(self.directory, manifest)
            collect_garbage(self.directory, manifest.files())

    def drop_all(self, views: Sequence[str]) -> None:
        self.sync_views({}, views)
