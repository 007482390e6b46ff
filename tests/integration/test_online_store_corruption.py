"""A lost or broken store is corruption, never an empty store: reads and writes refuse it naming
the file, no commit drops the views it cannot see, and `materialize --repair` rebuilds it."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from livecart.core.errors import StageError
from livecart.core.settings import LivecartSettings
from livecart.online.access import forget_cache
from livecart.online.bookkeeping import CREATED_TS, EVENT_TS
from livecart.online.cache import ReadCache
from livecart.online.files import COMMITTED, MANIFEST, StoreCorrupted, read_manifest
from livecart.online.writer import SnapshotWriter, ViewWrite
from ray_jobs.materialize import run as materialize
from tests.integration.conftest import NOW, MiniRepo, make_repo

pytestmark = pytest.mark.integration
IDS = [f"i{k}" for k in range(50)] + ["nobody"]
FEATURES = ["items:score", "items:label", "items:tags", "items:embedding"]


def _write(writer: SnapshotWriter, view: str, n: int, compact: bool = True) -> None:
    schema = pa.schema(
        [("id", pa.string()), ("x", pa.float64()), (EVENT_TS, pa.int64()), (CREATED_TS, pa.int64())]
    )
    rows = pa.table(
        {"id": [f"k{i}" for i in range(n)], "x": [float(i) for i in range(n)],
         EVENT_TS: [1] * n, CREATED_TS: [1] * n},
        schema=schema,
    )
    writer.write({view: ViewWrite(rows, schema, ["id"], "sig")}, compact=compact)


def _data_files(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir() if p.suffix in (".duckdb", ".arrow")}


def test_lost_manifest__writes_refuse__no_view_dropped_or_collected(tmp_path: Path) -> None:
    directory = tmp_path / "online"
    writer = SnapshotWriter(directory)
    for view in ("a", "b", "c"):
        _write(writer, view, 10)
    files = _data_files(directory)
    manifest = directory / MANIFEST
    away = tmp_path / "MANIFEST.away"
    os.replace(manifest, away)

    with pytest.raises(StoreCorrupted, match=f"{manifest}.*missing.*--repair"):
        _write(writer, "a", 3, compact=False)
    with pytest.raises(StoreCorrupted, match=str(manifest)):
        ReadCache(directory).view("b", ["id"])
    assert _data_files(directory) == files and not manifest.exists()

    os.replace(away, manifest)
    assert sorted(read_manifest(directory).views) == ["a", "b", "c"]
    state = ReadCache(directory).view("c", ["id"])
    assert state is not None and len(state.index) == 10


def test_new_store__no_manifest_yet__is_empty_not_corrupted(tmp_path: Path) -> None:
    directory = tmp_path / "online"
    assert read_manifest(directory).views == {}
    _write(SnapshotWriter(directory), "a", 2)
    assert (directory / COMMITTED).exists() and list(read_manifest(directory).views) == ["a"]


@pytest.mark.parametrize(
    "content", [b"", b'{"version": 3, "views": {"a": {"sig', b"[1, 2]", b"\xff\xfe{"]
)
def test_unreadable_manifest__corruption_naming_the_file(tmp_path: Path, content: bytes) -> None:
    directory = tmp_path / "online"
    _write(SnapshotWriter(directory), "a", 2)
    (directory / MANIFEST).write_bytes(content)
    with pytest.raises(StoreCorrupted, match=f"{directory / MANIFEST}: unreadable"):
        read_manifest(directory)


def test_missing_snapshot__reader_and_compaction_name_the_file(tmp_path: Path) -> None:
    directory = tmp_path / "online"
    writer = SnapshotWriter(directory)
    _write(writer, "a", 5)
    base = read_manifest(directory).views["a"].base
    assert base is not None
    (directory / base).unlink()
    with pytest.raises(StoreCorrupted, match=f"{directory / base}: named by {MANIFEST} but gone"):
        ReadCache(directory).view("a", ["id"])
    with pytest.raises(StoreCorrupted, match=base):
        _write(writer, "a", 5, compact=True)


def _read(repo: MiniRepo) -> dict[str, list[object]]:
    return repo.store.get_online_features(
        features=FEATURES, entity_rows=[{"item_id": i} for i in IDS]
    ).to_dict()


@pytest.fixture
def materialized(tmp_path: Path) -> tuple[MiniRepo, LivecartSettings, dict[str, list[object]]]:
    repo = make_repo(tmp_path / "repo")
    settings = LivecartSettings(home=tmp_path / "home")
    materialize(settings, start=NOW - timedelta(days=2), end=NOW, store=repo.store, use_ray=False)
    before = _read(repo)
    assert before["score"][:3] == [0.0, 1.0, 2.0]
    return repo, settings, before


def _fresh_reader(repo: MiniRepo) -> None:
    """Drop this process's read cache of the store, as a newly started reader would be."""
    forget_cache(repo.store.config)


def test_truncated_manifest__feast_read_and_materialize_refuse__repair_rebuilds(
    materialized: tuple[MiniRepo, LivecartSettings, dict[str, list[object]]],
) -> None:
    repo, settings, before = materialized
    manifest = repo.directory / MANIFEST
    manifest.write_bytes(manifest.read_bytes()[:40])
    _fresh_reader(repo)
    with pytest.raises(StoreCorrupted, match=str(manifest)):
        _read(repo)
    with pytest.raises(StoreCorrupted, match="--repair"):
        materialize(settings, end=NOW, store=repo.store, use_ray=False)

    result = materialize(settings, end=NOW, store=repo.store, use_ray=False, repair=True)
    assert result.rows["items"] == 50
    assert _read(repo) == before


def test_missing_snapshot__repair_rebuilds_every_value(
    materialized: tuple[MiniRepo, LivecartSettings, dict[str, list[object]]],
) -> None:
    repo, settings, before = materialized
    entry = next(iter(read_manifest(repo.directory).views.values()))
    assert entry.base is not None
    (repo.directory / entry.base).unlink()
    _fresh_reader(repo)
    with pytest.raises(StoreCorrupted, match=entry.base):
        _read(repo)
    materialize(settings, end=NOW, store=repo.store, use_ray=False, repair=True)
    assert _read(repo) == before
    assert entry.base not in {v.base for v in read_manifest(repo.directory).views.values()}


def test_store_directory_deleted__plain_materialize_refills_not_empty(
    materialized: tuple[MiniRepo, LivecartSettings, dict[str, list[object]]],
) -> None:
    """Feast's registry remembers the last run; a store that lost everything is refilled."""
    repo, settings, before = materialized
    for path in repo.directory.iterdir():
        path.unlink()
    _fresh_reader(repo)
    result = materialize(settings, end=NOW, store=repo.store, use_ray=False)
    assert result.rows["items"] == 50
    assert _read(repo) == before


def test_rebuild__keeps_intact_views_it_does_not_write__new_names_never_reused(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "online"
    writer = SnapshotWriter(directory)
    _write(writer, "a", 4)
    _write(writer, "b", 3)
    lost = read_manifest(directory).views["a"].base
    assert lost is not None
    (directory / lost).unlink()
    schema = pa.schema(
        [("id", pa.string()), ("x", pa.float64()), (EVENT_TS, pa.int64()), (CREATED_TS, pa.int64())]
    )
    rows = pa.table({"id": ["k0"], "x": [9.0], EVENT_TS: [2], CREATED_TS: [2]}, schema=schema)
    writer.write({"a": ViewWrite(rows, schema, ["id"], "sig")}, compact=True, rebuild=True)
    after = read_manifest(directory).views
    assert sorted(after) == ["a", "b"] and after["a"].base != lost and "-r" in str(after["a"].base)
    state = ReadCache(directory).view("b", ["id"])
    assert state is not None and len(state.index) == 3


def test_repair_with_a_start__refused(
    materialized: tuple[MiniRepo, LivecartSettings, dict[str, list[object]]],
) -> None:
    repo, settings, _ = materialized
    with pytest.raises(StageError, match="without --start"):
        materialize(settings, start=NOW, end=NOW, store=repo.store, use_ray=False, repair=True)
