"""Compaction off the push path: pushes stay deltas, the merge commits in the background, readers
catch up without reloading, and a merge the view outran is discarded."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from livecart.online import cache as cache_module
from livecart.online import compact_worker, compaction
from livecart.online.bookkeeping import CREATED_TS, EVENT_TS
from livecart.online.cache import ReadCache
from livecart.online.compact_server import NICENESS
from livecart.online.compact_worker import CompactWorker
from livecart.online.compaction import Layout, commit_merge, compact_view
from livecart.online.compactor import Compactor, compactor
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
    return {
        key[0] if isinstance(key, tuple) else key: table.column("x")[row].as_py()
        for key, row in index.items()
    }


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


def _push_past_limit(directory: Path, compacting: Compactor) -> dict[str, float]:
    """Pushes past a limit of 2 deltas through ``compacting``; the values a new reader sees."""
    writer = SnapshotWriter(directory, compact_after_deltas=2)
    writer.write({"v": _rows([f"k{i}" for i in range(10)], 0.0, 1)}, compact=True)
    base = read_manifest(directory).views["v"].base
    for k in range(3):
        writer.write({"v": _rows([f"k{k}"], 10.0 + k, 2 + k)})
    assert compacting.wait(60) and compacting.error is None
    entry = read_manifest(directory).views["v"]
    assert entry.base != base and entry.folded is not None, "the merge did not commit"
    return _values(ReadCache(directory).view("v", ["id"]))


EXPECTED = {f"k{i}": 0.0 for i in range(10)} | {f"k{k}": 10.0 + k for k in range(3)}


def test_background_merge__in_a_worker_process_at_the_lowest_priority(tmp_path: Path) -> None:
    directory = tmp_path / "online"
    assert _push_past_limit(directory, compactor(directory)) == EXPECTED
    worker = compact_worker.shared()
    assert worker is not None and worker.merged >= 1, "the merge ran in the writing process"
    assert worker.pid != os.getpid()
    assert worker.policy == ("idle" if sys.platform == "linux" else f"nice {NICENESS}")


def test_worker_that_cannot_start__the_compactor_merges_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = CompactWorker(module="livecart.online.no_such_server")
    monkeypatch.setattr(compact_worker, "shared", lambda: broken)
    directory = tmp_path / "online"
    assert _push_past_limit(directory, compactor(directory)) == EXPECTED
    assert broken.merged == 0 and not broken.alive()


def test_worker_killed__the_next_merge_starts_another(tmp_path: Path) -> None:
    first = compact_worker.shared()
    assert first is not None and first.merge(tmp_path / "none", "v", LAYOUT) is None
    first.kill()
    directory = tmp_path / "online"
    assert _push_past_limit(directory, compactor(directory)) == EXPECTED
    second = compact_worker.shared()
    assert second is not None and second is not first and second.merged >= 1


def test_worker_writes_the_snapshot__only_the_writer_commits_it(tmp_path: Path) -> None:
    """The worker runs at the lowest priority: it must never hold the writer lock."""
    directory = tmp_path / "online"
    writer = SnapshotWriter(directory, compact_after_deltas=100)
    writer.write({"v": _rows(["a", "b"], 0.0, 1)}, compact=True)
    writer.write({"v": _rows(["a"], 1.0, 2)})
    before = read_manifest(directory)
    worker = compact_worker.shared()
    assert worker is not None
    merged = worker.merge(directory, "v", LAYOUT)
    assert merged is not None and (directory / merged.name).exists()
    assert read_manifest(directory) == before, "the worker committed"
    assert commit_merge(directory, merged)
    assert read_manifest(directory).views["v"].base == merged.name
    assert _values(ReadCache(directory).view("v", ["id"])) == {"a": 1.0, "b": 0.0}
