"""Compaction off the push path: pushes stay deltas, the merge commits in the background, readers
catch up without reloading, and a merge the view outran is discarded."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from livecart.online import cache as cache_module
from livecart.online import compaction
from livecart.online.bookkeeping import CREATED_TS, EVENT_TS
from livecart.online.cache import ReadCache
from livecart.online.compaction import Layout, compact_view, compactor
from livecart.online.files import read_manifest
from livecart.online.writer import OVERDUE, SnapshotWriter, ViewWrite

pytestmark = pytest.mark.integration
SCHEMA = pa.schema(
    [("id", pa.string()), ("x", pa.float64()), (EVENT_TS, pa.int64()), (CREATED_TS, pa.int64())]
)
LAYOUT = Layout(SCHEMA, ("id",), "sig")


def _rows(ids: list[str], x: float, at: int) -> ViewWrite:
    n = len(ids)
    table = pa.table({"id": ids, "x": [x] * n, EVENT_TS: [at] * n, CREATED_TS: [at] * n}, SCHEMA)
    return ViewWrite(table, SCHEMA, ["id"], "sig")


def _values(state: object) -> dict[str, float]:
    table = state.table  # type: ignore[attr-defined]
    index = state.index  # type: ignore[attr-defined]
    return {key[0] if isinstance(key, tuple) else key: table.column("x")[row].as_py()
            for key, row in index.items()}


def test_pushes_past_the_limit__stay_deltas__background_merge_folds_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "online"
    writer = SnapshotWriter(directory, compact_after_deltas=3)
    writer.write({"v": _rows([f"k{i}" for i in range(100)], 0.0, 1)}, compact=True)
    base = read_manifest(directory).views["v"].base
    reader = ReadCache(directory)
    reader.view("v", ["id"])
    loaded: list[str] = []
    real = cache_module.read_snapshot
    monkeypatch.setattr(cache_module, "read_snapshot", lambda d, n: loaded.append(n) or real(d, n))
    background = compactor(directory)
    for k in range(5):
        writer.write({"v": _rows([f"k{k}"], 10.0 + k, 2 + k)})
        entry = read_manifest(directory).views["v"]
        # The push itself never merged: either the old base, or a compaction that finished.
        assert entry.base == base or entry.folded is not None
        reader.view("v", ["id"])
    assert background.wait(30) and background.error is None
    entry = read_manifest(directory).views["v"]
    assert entry.base != base and entry.folded is not None and entry.folded.base == base
    caught_up = reader.view("v", ["id"])
    assert loaded == [], "a reader holding the previous state must not reload the snapshot"
    fresh = ReadCache(directory).view("v", ["id"])
    expected = {f"k{i}": 0.0 for i in range(100)} | {f"k{k}": 10.0 + k for k in range(5)}
    assert _values(caught_up) == _values(fresh) == expected


def test_merge_outrun_by_a_rewrite__discarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "online"
    writer = SnapshotWriter(directory, compact_after_deltas=100)
    writer.write({"v": _rows(["a", "b"], 0.0, 1)}, compact=True)
    writer.write({"v": _rows(["a"], 1.0, 2)})
    entry = read_manifest(directory).views["v"]
    # A materialization compacts the view between the merge's read and its commit.
    real = compaction.write_snapshot

    def rewrite_meanwhile(d: Path, name: str, table: pa.Table) -> None:
        real(d, name, table)
        writer.write({"v": _rows(["b"], 5.0, 3)}, compact=True)

    monkeypatch.setattr(compaction, "write_snapshot", rewrite_meanwhile)
    assert not compact_view(directory, "v", LAYOUT)
    after = read_manifest(directory).views["v"]
    assert after.base != entry.base and not after.deltas
    state = ReadCache(directory).view("v", ["id"])
    assert _values(state) == {"a": 1.0, "b": 5.0}
    assert not [p for p in directory.iterdir() if ".c" in p.name and p.name not in after.base]


def test_overdue_view__the_push_compacts_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should background merges never land (a crashing compactor), a view's deltas stay bounded."""
    directory = tmp_path / "online"
    writer = SnapshotWriter(directory, compact_after_deltas=2)
    monkeypatch.setattr(compactor(directory), "request", lambda view, layout: None)
    for k in range(2 * OVERDUE + 1):
        writer.write({"v": _rows([f"k{k}"], float(k), 1 + k)})
        assert len(read_manifest(directory).views["v"].deltas) <= 2 * OVERDUE
    assert read_manifest(directory).views["v"].base is not None
