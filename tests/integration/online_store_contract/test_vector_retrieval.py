"""Vector retrieval's ANN index on any online store: built from the vectors the store serves
(materialized through Feast), searchable the same on livecart's store and Feast's SQLite, and a
pushed embedding (a new product, a changed one) becomes searchable."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import Array, Float32

from livecart.features.reader import CacheReader, FeatureReader, reader_for
from livecart.online.vector import distances
from tests.integration.online_store_contract.conftest import NOW, STORES, online_yaml

pytestmark = pytest.mark.integration

DIM, ITEMS = 8, 60
item = Entity(name="item", join_keys=["item_id"], value_type=ValueType.STRING)


@dataclass
class VectorRepo:
    kind: str
    store: FeatureStore
    vectors: np.ndarray  # the materialized rows, item i{k} in row k

    def reader(self, extra_keys: tuple[str, ...] = ()) -> FeatureReader:
        """A fresh reader whose index knows the items (and ``extra_keys``, as serving's
        catalogue would know a new product) and reads another store again every 0.1 s."""
        reader = reader_for(self.store)
        keys = [(f"i{k}",) for k in range(ITEMS)] + [(key,) for key in extra_keys]
        reader.index_vectors("items", keys, refresh_s=0.1)
        return reader

    def push(self, item_id: str, vector: np.ndarray) -> None:
        row = {"item_id": [item_id], "embedding": [vector.tolist()], "event_timestamp": [NOW]}
        self.store.push("items_push", pd.DataFrame(row))


@pytest.fixture(scope="module", params=STORES)
def repo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VectorRepo]:
    root = tmp_path_factory.mktemp(f"vectors-{request.param}")
    vectors = np.random.default_rng(7).standard_normal((ITEMS, DIM)).astype(np.float32)
    offline = pd.DataFrame(
        {
            "item_id": [f"i{k}" for k in range(ITEMS)],
            "embedding": [row.tolist() for row in vectors],
            "event_timestamp": [NOW - timedelta(hours=1)] * ITEMS,
        }
    )
    offline.to_parquet(root / "items.parquet")
    source = FileSource(
        name="items_source", path=str(root / "items.parquet"), timestamp_field="event_timestamp"
    )
    push = PushSource(name="items_push", batch_source=source)
    field = Field(
        name="embedding",
        dtype=Array(Float32),
        vector_index=True,
        vector_length=DIM,
        vector_search_metric="COSINE",
    )
    view = FeatureView(
        name="items", entities=[item], ttl=timedelta(0), schema=[field], source=push, online=True
    )
    (root / "feature_store.yaml").write_text(online_yaml(request.param, root))
    store = FeatureStore(repo_path=str(root))
    store.apply([item, source, push, view])
    store.materialize(NOW - timedelta(days=1), NOW)
    yield VectorRepo(request.param, store, vectors)


def _exact(vectors: np.ndarray, query: np.ndarray, k: int) -> list[tuple[str]]:
    distance = distances(vectors, np.linalg.norm(vectors, axis=1), query, "cosine")
    return [(f"i{i}",) for i in np.argsort(distance, kind="stable")[:k].tolist()]


def _first_hit(reader: FeatureReader, query: np.ndarray, timeout_s: float = 10.0) -> object:
    """Poll until the index's refresh shows ``query``'s nearest key (a refresh runs in the
    background); the last answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        hits = reader.nearest("items", query.tolist(), 1)
        if time.monotonic() > deadline or (hits and hits[0][1] < 1e-5):
            return hits[0][0] if hits else None
        time.sleep(0.05)


def test_nearest__materialized_vectors__same_top_10_as_exact_search(repo: VectorRepo) -> None:
    reader = repo.reader()
    for k in (0, 17, 42):
        query = repo.vectors[k] + 0.1
        hits = reader.nearest("items", query.tolist(), 10)
        assert [key for key, _ in hits] == _exact(repo.vectors, query, 10), (repo.kind, k)
        cosine = 1 - repo.vectors[k] @ query / np.linalg.norm(repo.vectors[k]) / np.linalg.norm(
            query
        )
        assert hits[0][1] == pytest.approx(cosine, abs=1e-5)


def test_nearest__livecart_store__equals_the_exact_scan(repo: VectorRepo) -> None:
    if repo.kind != "livecart":
        pytest.skip("the exact scan is livecart's store's own")
    reader = repo.reader()
    assert isinstance(reader, CacheReader)
    for k in range(0, ITEMS, 7):
        query = (repo.vectors[k] - repo.vectors[k + 1]).tolist()
        ann = reader.nearest("items", query, 20)
        exact = reader.exact_nearest("items", query, 20)
        assert [key for key, _ in ann] == [key for key, _ in exact]
        assert np.allclose([d for _, d in ann], [d for _, d in exact], atol=1e-5)


def test_nearest__pushed_embeddings__new_and_changed_become_searchable(repo: VectorRepo) -> None:
    reader = repo.reader(extra_keys=("fresh",))
    new = np.ones(DIM, dtype=np.float32)
    assert _first_hit(reader, new, timeout_s=0) != ("fresh",)
    repo.push("fresh", new)
    assert _first_hit(reader, new) == ("fresh",)
    # A changed vector: found where it is now, no longer where it was.
    old, moved = repo.vectors[5].copy(), -np.arange(1, DIM + 1, dtype=np.float32)
    repo.push("i5", moved)
    repo.vectors[5] = moved
    assert _first_hit(reader, moved) == ("i5",)
    assert ("i5",) not in [key for key, _ in reader.nearest("items", old.tolist(), 3)]
