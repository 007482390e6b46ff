"""The store's files: an atomically swapped manifest, immutable snapshots, and the writer lock.

Layout of the store directory::

    MANIFEST.json            {"version": n, "views": {view: {"signature", "base", "deltas",
                             "folded"}}}  (folded: what the base was compacted from)
    COMMITTED                written with the first manifest: from then on a missing manifest
                             is a lost one (corruption), not a new store
    <view>.<n>.duckdb        an immutable DuckDB file with one table ``t`` (a compacted snapshot)
    <view>.<n>.arrow         an immutable Arrow IPC file of rows written since (push, small writes)
    .writer.lock             fcntl lock: one writer at a time, across processes

A change is committed by writing new files, fsyncing them, and replacing MANIFEST.json with
``os.replace``: readers see the old state or the new one, never a mix, and a writer killed at any
moment leaves only unreferenced files, which the next writer removes.

A manifest that is lost, truncated or unparsable, or that names a file which is gone, is
corruption (:class:`StoreCorrupted`, naming the file): nothing reads it as an empty store and no
writer commits over it, since that would drop every view it cannot see. ``livecart materialize
--repair`` rebuilds all views from the offline store in one commit (:func:`next_version` keeps the
new files' names apart from the old ones).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from livecart.core.errors import LivecartError
from livecart.online.duck import attached, unique_name

MANIFEST = "MANIFEST.json"
COMMITTED = "COMMITTED"
LOCK = ".writer.lock"
TABLE = "t"
GC_GRACE_SECONDS = 30.0
REPAIR = "run `livecart materialize --repair` to rebuild the views from the offline store"


class StoreCorrupted(LivecartError):
    """The store's manifest is lost or unreadable, or names a file that is gone."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(f"online store corrupted: {path}: {problem}; {REPAIR}")


@dataclass
class ViewEntry:
    signature: str
    base: str | None = None
    deltas: list[str] = field(default_factory=list)
    # What the base was compacted from (the previous base and the deltas merged into it, the
    # last one holding the compacting write's own rows): a reader that already holds that
    # previous state applies the missing deltas instead of loading the whole new snapshot.
    folded: Folded | None = None


@dataclass(frozen=True)
class Folded:
    base: str | None
    deltas: tuple[str, ...]


@dataclass
class Manifest:
    version: int = 0
    views: dict[str, ViewEntry] = field(default_factory=dict)

    def to_json(self) -> str:
        views = {
            name: {
                "signature": v.signature,
                "base": v.base,
                "deltas": v.deltas,
                **(
                    {"folded": {"base": v.folded.base, "deltas": list(v.folded.deltas)}}
                    if v.folded is not None
                    else {}
                ),
            }
            for name, v in self.views.items()
        }
        return json.dumps({"version": self.version, "views": views}, indent=1)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        raw: dict[str, Any] = json.loads(text)
        views = {
            name: ViewEntry(
                v["signature"],
                v.get("base"),
                list(v.get("deltas", [])),
                Folded(v["folded"].get("base"), tuple(v["folded"].get("deltas", [])))
                if v.get("folded")
                else None,
            )
            for name, v in raw.get("views", {}).items()
        }
        return cls(int(raw.get("version", 0)), views)

    def files(self) -> set[str]:
        names: set[str] = set()
        for view in self.views.values():
            if view.base:
                names.add(view.base)
            names.update(view.deltas)
            if view.folded is not None:  # kept while readers may still catch up through them
                names.update(view.folded.deltas)
        return names


def read_manifest(directory: Path) -> Manifest:
    """The committed manifest; empty for a store that never committed, :class:`StoreCorrupted`
    for one whose manifest is lost or unreadable."""
    path = directory / MANIFEST
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        if (directory / COMMITTED).exists():
            raise StoreCorrupted(
                path, f"missing, though the store has committed before ({COMMITTED} is there)"
            ) from None
        return Manifest()
    except IsADirectoryError:
        raise StoreCorrupted(path, "a directory, not the manifest file") from None
    try:  # invalid UTF-8 is a ValueError too
        return Manifest.from_json(text)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise StoreCorrupted(path, f"unreadable ({type(error).__name__}: {error})") from error


def manifest_stamp(directory: Path) -> tuple[int, int, int] | None:
    """A cheap change detector: the manifest is replaced (new inode) on every commit."""
    try:
        st = os.stat(directory / MANIFEST)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Commit point: write, fsync, then atomically replace the manifest."""
    tmp = directory / f".{MANIFEST}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(manifest.to_json())
    _fsync_file(tmp)
    os.replace(tmp, directory / MANIFEST)
    committed = directory / COMMITTED
    if not committed.exists():
        committed.write_text("a manifest was committed here; see livecart/online/files.py\n")
    _fsync_dir(directory)


def next_version(directory: Path, manifest: Manifest | None) -> int:
    """A version above the manifest's and above every data file's in ``directory`` (a rebuild
    without a readable manifest must not reuse the name of a file a reader may hold)."""
    seen = [manifest.version if manifest is not None else 0]
    for path in directory.glob("*.*"):
        # <view>.<n>.arrow, <view>.<n>-r<tag>.duckdb (a rebuild's), <view>.c<hex>.duckdb (none)
        part = path.name.split(".")[-2] if path.suffix in (".duckdb", ".arrow") else ""
        number = part.split("-")[0]
        if number.isdigit():
            seen.append(int(number))
    return max(seen) + 1


def missing(directory: Path, name: str) -> StoreCorrupted:
    return StoreCorrupted(directory / name, f"named by {MANIFEST} but gone")


@contextlib.contextmanager
def writer_lock(directory: Path) -> Iterator[None]:
    """Hold the single-writer lock of the store directory (blocks until free)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def write_snapshot(directory: Path, name: str, table: pa.Table) -> None:
    """Write ``table`` as an immutable DuckDB file ``name`` (via a temporary file)."""
    tmp = directory / f".{name}.{uuid.uuid4().hex}.tmp"
    with attached(tmp, read_only=False) as (con, alias):
        incoming = unique_name("incoming")
        con.register(incoming, table)
        try:
            con.execute(f"CREATE TABLE {alias}.{TABLE} AS SELECT * FROM {incoming}")
            con.execute(f"CHECKPOINT {alias}")
        finally:
            con.unregister(incoming)
    _fsync_file(tmp)
    os.replace(tmp, directory / name)


def read_snapshot(directory: Path, name: str) -> pa.Table:
    """Read a snapshot file (read-only: many processes may do this at once)."""
    if not (directory / name).exists():  # DuckDB says "IO Error"; the reader retries on this
        raise _gone(directory / name)
    with attached(directory / name, read_only=True) as (con, alias):
        return con.table(f"{alias}.{TABLE}").to_arrow_table()


def write_delta(directory: Path, name: str, table: pa.Table) -> None:
    tmp = directory / f".{name}.{uuid.uuid4().hex}.tmp"
    with ipc.new_file(str(tmp), table.schema) as sink:
        sink.write_table(table)
    _fsync_file(tmp)
    os.replace(tmp, directory / name)


def read_delta(directory: Path, name: str) -> pa.Table:
    try:
        source = ipc.open_file(str(directory / name))
    except FileNotFoundError:  # Arrow's carries no file name
        raise _gone(directory / name) from None
    with source:
        return source.read_all()


def _gone(path: Path) -> FileNotFoundError:
    return FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))


GC_EVERY_SECONDS = 1.0
"""A writing process collects a directory's garbage at most this often on the push path (a
collection lists and stats every file: 1 ms at 470 files, and files stay the grace period)."""
_COLLECTED: dict[Path, float] = {}


def collect_garbage_now_and_then(directory: Path, keep: set[str]) -> int:
    """:func:`collect_garbage`, unless this process collected ``directory`` under
    :data:`GC_EVERY_SECONDS` ago (then 0)."""
    now = time.monotonic()
    if now - _COLLECTED.get(directory, -GC_EVERY_SECONDS) < GC_EVERY_SECONDS:
        return 0
    _COLLECTED[directory] = now
    return collect_garbage(directory, keep)


def collect_garbage(directory: Path, keep: set[str], grace: float = GC_GRACE_SECONDS) -> int:
    """Remove files no manifest references (after a grace period for slow readers)."""
    removed = 0
    now = time.time()
    for path in directory.iterdir():
        if path.name in (MANIFEST, LOCK) or path.name in keep:
            continue
        if path.suffix not in (".duckdb", ".arrow", ".tmp", ".wal"):
            continue
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:  # renamed or removed since the listing (a compaction's file)
            continue
        if age > grace:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
