"""Columnar service reads (livecart.online.frames, through serving's reader) equal Feast's
get_online_features, value for value, on livecart's store and through Feast on another store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from feast import FeatureService, FeatureStore

from livecart.core.errors import LivecartError
from livecart.features.reader import CacheReader, FeastReader, reader_for
from livecart.online.frames import nearest, read_frame, stored_vectors, to_pandas
from livecart.online.plan import plan_service
from livecart.online.vector import distances, search
from tests.integration.conftest import EMBEDDING_DIM, NOW, make_repo

pytestmark = pytest.mark.integration


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, list | tuple | np.ndarray) and not isinstance(a, str):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return bool(np.isclose(float(a), float(b)))
    return bool(a == b)


def _assert_matches_feast(store: FeatureStore, ids: list[str]) -> None:
    service = FeatureService(name="items_service", features=[store.get_feature_view("items")])
    store.apply([service])
    plan = plan_service(store, "items_service")
    reader = reader_for(store)
    mine = reader.frame(plan, {"item_id": ids}).to_pydict()
    feast = store.get_online_features(
        features=store.get_feature_service("items_service"),
        entity_rows=[{"item_id": i} for i in ids],
    ).to_dict()
    for name, values in feast.items():
        assert _same(mine[name], values), name
    frame = to_pandas(reader.frame(plan, {"item_id": ids}))
    assert list(frame["item_id"]) == ids and len(frame.columns) == len(feast)


def test_read_frame__duckdb_store__equals_get_online_features(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", n=30)
    repo.store.materialize(NOW - timedelta(days=2), NOW)
    assert isinstance(reader_for(repo.store), CacheReader)
    _assert_matches_feast(repo.store, ["i3", "i0", "missing", "i29", "i3", "i6"])


def test_read_frame__other_online_store__reads_through_feast(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", n=30)
    yaml = (repo.directory.parent / "feature_store.yaml").read_text()
    online = yaml[yaml.index("online_store:") : yaml.index("entity_key_serialization_version")]
    sqlite = f"online_store:\n  type: sqlite\n  path: {tmp_path / 'online.db'}\n"
    (repo.directory.parent / "feature_store.yaml").write_text(yaml.replace(online, sqlite))
    store = FeatureStore(repo_path=str(repo.directory.parent))
    store.apply([store.get_entity("item"), store.get_feature_view("items")])
    store.materialize(NOW - timedelta(days=2), NOW)
    _assert_matches_feast(store, ["i1", "missing", "i7"])
    reader = reader_for(store)
    assert isinstance(reader, FeastReader)
    with pytest.raises(LivecartError, match="give the keys to index"):
        reader.nearest("items", [1.0, 1.0, 0.0, 0.0], 3)  # Feast cannot list a store's rows
    found = reader.vectors("items", [("i1",), ("missing",), ("i7",)])
    expected = store.get_online_features(
        features=["items:embedding"], entity_rows=[{"item_id": "i1"}, {"item_id": "i7"}]
    ).to_dict()["embedding"]
    assert found.shape == (2, EMBEDDING_DIM)
    assert np.allclose(found, np.array(expected, dtype=np.float32))


def test_nearest__duckdb_store__nearest_first(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", n=30)
    repo.store.materialize(NOW - timedelta(days=2), NOW)
    hits = nearest(repo.store, "items", [5.0, 1.0, 0.0, 2.0], 3)
    assert hits[0][0] == ("i5",) and [d for _, d in hits] == sorted(d for _, d in hits)


@pytest.mark.parametrize("ttl", [timedelta(days=1), timedelta(minutes=30)])
def test_stored_vectors__non_null_frame_cells_in_order(tmp_path: Path, ttl: timedelta) -> None:
    """Absent keys, repeated keys and (with the short TTL) expired rows, as ``read_frame``."""
    repo = make_repo(tmp_path / "repo", n=30, ttl=ttl)  # rows written an hour ago
    repo.store.materialize(NOW - timedelta(days=2), NOW)
    items = repo.store.get_feature_view("items")
    repo.store.apply([FeatureService(name="items_service", features=[items])])
    plan = plan_service(repo.store, "items_service")
    ids = ["i3", "missing", "i0", "i3", "i29"]
    cells = read_frame(repo.store, plan, {"item_id": ids}).column("embedding").to_pylist()
    expected = np.array([v for v in cells if v is not None], dtype=np.float32)
    found = stored_vectors(repo.store, "items", [(i,) for i in ids])
    assert found is not None and found.dtype == np.float32
    assert found.shape == (4 if ttl > timedelta(hours=1) else 0, EMBEDDING_DIM)
    np.testing.assert_array_equal(found, expected.reshape(-1, EMBEDDING_DIM))
    hits = nearest(repo.store, "items", [5.0, 1.0, 0.0, 2.0], 3)  # expired rows are no hits
    assert len(hits) == (3 if ttl > timedelta(hours=1) else 0)


@pytest.mark.parametrize("metric", ["cosine", "l2", "inner_product"])
def test_distances__numpy__same_as_duckdb_search(metric: str) -> None:
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(200, 8)).astype(np.float32)
    query = rng.normal(size=8).astype(np.float32)
    rows = pa.table({"v": pa.array(list(matrix), type=pa.list_(pa.float32(), 8))})
    hits = search(rows, "v", query.tolist(), 10, metric, None)
    ours = distances(matrix, np.linalg.norm(matrix, axis=1), query, metric)
    assert [p for p, _ in hits] == list(np.argsort(ours, kind="stable")[:10])
    np.testing.assert_allclose(ours[[p for p, _ in hits]], [d for _, d in hits], rtol=1e-5)
