"""The single writer: merges rows into a view's snapshot or appends a delta, then commits.

Only one process writes at a time (an fcntl lock on the store directory), so materialization jobs,
``feast materialize`` and every serving replica's ``push`` can all write safely. Merging keeps,
per entity key, the row with the latest event timestamp (ties: latest created timestamp, then the
latest write), so a write older than what is stored never overwrites it.

A write that takes a view past ``compact_after_deltas`` deltas stays a delta; the merge into a new
snapshot runs in the background (:mod:`livecart.online.compactor`), unless ``background`` is off
or the view has fallen far behind (``OVERDUE`` times the limit, e.g. every compaction failed).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from livecart.online.compaction import Layout, current_parts, merge_latest
from livecart.online.compactor import compactor
from livecart.online.files import (
    Folded,
    Manifest,
    StoreCorrupted,
    ViewEntry,
    collect_garbage,
    collect_garbage_now_and_then,
    next_version,
    read_manifest,
    write_delta,
    write_manifest,
    write_snapshot,
    writer_lock,
)


@dataclass(frozen=True)
class ViewWrite:
    """Rows for one view, with the layout they must have. ``rows`` may be a function that loads
    them (e.g. from a job's staging file): the writer calls it once, when it writes that view, so
    a commit of many large views holds one view's rows at a time, not all of them."""

    rows: pa.Table | Callable[[], pa.Table]
    schema: pa.Schema
    keys: Sequence[str]
    signature: str

    def table(self) -> pa.Table:
        return self.rows if isinstance(self.rows, pa.Table) else self.rows()


def _files(entry: ViewEntry) -> list[str]:
    return ([entry.base] if entry.base else []) + list(entry.deltas)


OVERDUE = 4
"""With background compaction, a write compacts itself past this many times the delta limit."""


class SnapshotWriter:
    """Commits writes to a store directory; see files.py for the file layout."""

    def __init__(
        self,
        directory: Path,
        compact_after_deltas: int = 32,
        compact_after_rows: int = 50_000,
        background: bool = True,
    ):
        self.directory = directory
        self.compact_after_deltas = compact_after_deltas
        self.compact_after_rows = compact_after_rows
        self.background = background

    def write(
        self, changes: Mapping[str, ViewWrite], compact: bool = False, rebuild: bool = False
    ) -> int:
        """Write all ``changes`` in one commit; returns the new manifest version. ``rebuild``
        is the repair of a corrupted store: ``changes`` (every view in full) replace their
        views without reading them, and of the old manifest, where it is readable, only views
        outside ``changes`` whose files are all there are kept (see :meth:`_rebuilt`)."""
        tag = f"-r{uuid.uuid4().hex[:8]}" if rebuild else ""
        with writer_lock(self.directory):
            manifest = self._rebuilt(changes) if rebuild else read_manifest(self.directory)
            version = manifest.version + 1
            for view, change in changes.items():
                entry = manifest.views.get(view)
                if entry is None or entry.signature != change.signature:
                    entry = ViewEntry(change.signature)
                manifest.views[view] = self._apply(view, entry, change, version, compact, tag)
            manifest.version = version
            write_manifest(self.directory, manifest)
            if rebuild or compact:
                collect_garbage(self.directory, manifest.files())
            else:  # pushes and materializations: their files stay the grace period anyway
                collect_garbage_now_and_then(self.directory, manifest.files())
        for view, change in changes.items():
            if self.background and len(manifest.views[view].deltas) > self.compact_after_deltas:
                layout = Layout(
                    change.schema, tuple(change.keys), change.signature, self.compact_after_deltas
                )
                compactor(self.directory).request(view, layout)
        return version

    def _rebuilt(self, changes: Mapping[str, ViewWrite]) -> Manifest:
        """The manifest a rebuild starts from: a version above every file's and the old
        manifest's; intact views the rebuild does not write (pushed-only views, on-demand views
        written online) carried over from it where it can still be read. Rebuilt files carry a
        random tag, so no name a reader may hold (of a lost file) comes back."""
        try:
            old: Manifest | None = read_manifest(self.directory)
        except StoreCorrupted:
            old = None
        kept = {
            view: entry
            for view, entry in (old.views.items() if old is not None else ())
            if view not in changes and all((self.directory / f).exists() for f in _files(entry))
        }
        return Manifest(next_version(self.directory, old) - 1, kept)

    def _apply(
        self,
        view: str,
        entry: ViewEntry,
        change: ViewWrite,
        version: int,
        compact: bool,
        tag: str = "",
    ) -> ViewEntry:
        rows = change.table().cast(change.schema)
        limit = self.compact_after_deltas * (OVERDUE if self.background else 1)
        too_many = len(entry.deltas) + 1 > limit
        big = rows.num_rows > self.compact_after_rows
        delta = f"{view}.{version:010d}{tag}.arrow"
        if compact or too_many or big:
            parts = [*current_parts(self.directory, entry), rows]
            merged = merge_latest(parts, change.schema, change.keys)
            name = f"{view}.{version:010d}{tag}.duckdb"
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
