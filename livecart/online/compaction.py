"""Compaction off the push path: a view's deltas merged into a new snapshot.

A push appends a small Arrow delta and commits; once a view holds more deltas than the store's
``compact_after_deltas``, the writing process's compactor (:mod:`livecart.online.compactor`)
merges the base and those deltas into a new DuckDB snapshot *outside* the writer lock
(:func:`merge_view`), then commits the swap in a short locked step (:func:`commit_merge`),
provided the view still starts with what it merged (later pushes stay as deltas on top; anything else, e.g. a
materialization that rewrote the view meanwhile, discards the merge). So no push waits for a
rewrite of the whole view, whatever its size. The new entry records what it folded, so readers
holding the previous state catch up with the deltas instead of loading the new snapshot
(:mod:`livecart.online.cache`).

A merge killed midway leaves an unreferenced snapshot, which the next writer collects. Its merge
runs on one DuckDB thread: the writer keeps a core.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from livecart.online.bookkeeping import CREATED_TS, EVENT_TS
from livecart.online.duck import thread_connection, unique_name
from livecart.online.files import (
    Folded,
    StoreCorrupted,
    ViewEntry,
    collect_garbage,
    missing,
    read_delta,
    read_manifest,
    read_snapshot,
    write_manifest,
    write_snapshot,
    writer_lock,
)

SEQ = "__seq"


def merge_latest(
    parts: Sequence[pa.Table], schema: pa.Schema, keys: Sequence[str], threads: int | None = None
) -> pa.Table:
    """One row per key: the latest by (event ts, created ts, write order); ``threads``: DuckDB's
    (None: one per core). The parts go to DuckDB as one table (one scan; a union of a view's
    base and 32 deltas took longer to plan than to run)."""
    tables = [part.cast(schema) for part in parts]
    order = [np.full(t.num_rows, i, dtype=np.int32) for i, t in enumerate(tables)]
    whole = pa.concat_tables(tables) if tables else schema.empty_table()
    whole = whole.append_column(SEQ, pa.array(np.concatenate(order) if order else [], pa.int32()))
    con = thread_connection()
    source = unique_name("parts")
    con.register(source, whole)
    try:
        con.execute(f"SET threads = {threads or os.cpu_count() or 1}")
        partition = ", ".join(f'"{k}"' for k in keys)
        columns = ", ".join(f'"{name}"' for name in schema.names)
        merged: pa.Table = con.sql(
            f"""
            SELECT {columns} FROM {source}
            QUALIFY row_number() OVER (
                PARTITION BY {partition}
                ORDER BY "{EVENT_TS}" DESC NULLS LAST, "{CREATED_TS}" DESC NULLS LAST, {SEQ} DESC) = 1
            """
        ).to_arrow_table()
    finally:
        con.unregister(source)
        con.execute("RESET threads")
    return merged.cast(schema)


def current_parts(directory: Path, entry: ViewEntry) -> list[pa.Table]:
    name = entry.base
    try:
        parts = [read_snapshot(directory, name)] if name else []
        for name in entry.deltas:
            parts.append(read_delta(directory, name))
    except FileNotFoundError:
        raise missing(directory, str(name)) from None
    return parts


@dataclass(frozen=True)
class Layout:
    """What a merge of a view needs to know: its schema, keys and signature, and how many deltas
    make a merge worth it (a request can be overtaken by one that already merged them)."""

    schema: pa.Schema
    keys: tuple[str, ...]
    signature: str
    after_deltas: int = 0


@dataclass(frozen=True)
class Merged:
    """A view's merge, written as a snapshot file and not yet committed: the entry it folded."""

    view: str
    entry: ViewEntry
    name: str


def merge_view(directory: Path, view: str, layout: Layout) -> Merged | None:
    """Merge the view's committed base and deltas into a new snapshot file, holding no lock
    (the heavy part, which a worker process can do); None when there is nothing to merge."""
    entry = read_manifest(directory).views.get(view)
    if entry is None or entry.signature != layout.signature:
        return None
    if len(entry.deltas) <= layout.after_deltas or not entry.deltas:
        return None
    try:
        parts = current_parts(directory, entry)
    except StoreCorrupted:  # unlocked read: a writer may have compacted and collected meanwhile
        if read_manifest(directory).views.get(view) != entry:
            return None
        raise
    merged = merge_latest(parts, layout.schema, layout.keys, threads=1)  # the writer keeps a core
    name = f"{view}.c{uuid.uuid4().hex}.duckdb"
    write_snapshot(directory, name, merged)
    return Merged(view, entry, name)


def commit_merge(directory: Path, merged: Merged) -> bool:
    """Swap the merged snapshot in, a short step under the writer lock; False (and the file
    removed) when the view changed under the merge."""
    view, entry, name = merged.view, merged.entry, merged.name
    with writer_lock(directory):
        manifest = read_manifest(directory)
        now = manifest.views.get(view)
        merged_deltas = len(entry.deltas)
        if (
            not (directory / name).exists()  # collected while a long write held the lock
            or now is None
            or now.signature != entry.signature
            or now.base != entry.base
            or now.deltas[:merged_deltas] != entry.deltas
        ):
            (directory / name).unlink(missing_ok=True)  # the view changed under the merge
            return False
        manifest.views[view] = ViewEntry(
            entry.signature,
            name,
            now.deltas[merged_deltas:],
            Folded(entry.base, tuple(entry.deltas)),
        )
        manifest.version += 1
        write_manifest(directory, manifest)
        collect_garbage(directory, manifest.files())
    return True


def compact_view(directory: Path, view: str, layout: Layout) -> bool:
    """Merge the view's committed base and deltas into one snapshot; True if it committed."""
    merged = merge_view(directory, view, layout)
    return merged is not None and commit_merge(directory, merged)
