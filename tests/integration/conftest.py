"""A small Feast repo on livecart's DuckDB online store, built in a temporary directory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import Array, Bool, Float32, Float64, Int32, Int64, String

from livecart.online.store import STORE_TYPE

NOW = datetime.now(UTC).replace(microsecond=0)
EMBEDDING_DIM = 4


@dataclass
class MiniRepo:
    store: FeatureStore
    view: FeatureView
    source_path: Path
    directory: Path


def item_entity() -> Entity:
    return Entity(name="item", join_keys=["item_id"], value_type=ValueType.STRING)


def mini_view(
    source: FileSource | PushSource, entity: Entity, ttl: timedelta = timedelta(days=1), extra: bool = False
) -> FeatureView:
    schema = [
        Field(name="score", dtype=Float64),
        Field(name="count", dtype=Int64),
        Field(name="label", dtype=String),
        Field(name="ratio", dtype=Float32),
        Field(name="flag", dtype=Bool),
        Field(name="small", dtype=Int32),
        Field(name="tags", dtype=Array(String)),
        Field(name="embedding", dtype=Array(Float32), vector_index=True, vector_length=EMBEDDING_DIM,
              vector_search_metric="COSINE"),
    ]
    if extra:
        schema.append(Field(name="extra", dtype=Float64))
    return FeatureView(name="items", entities=[entity], ttl=ttl, schema=schema, source=source, online=True)


def offline_frame(n: int, at: datetime, version: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({
        "item_id": [f"i{k}" for k in range(n)],
        "score": [k + version for k in range(n)],
        "count": list(range(n)),
        "label": [f"label {k}" if k % 7 else None for k in range(n)],
        "ratio": np.array([k / 3 for k in range(n)], dtype=np.float32),
        "flag": [k % 2 == 0 for k in range(n)],
        "small": np.array([-k for k in range(n)], dtype=np.int32),
        "tags": [["a", f"t{k}"] for k in range(n)],
        "embedding": [[float(k), 1.0, 0.0, float(k % 3)] for k in range(n)],
        "event_timestamp": [at] * n,
        "created": [at] * n,
    })


def make_repo(root: Path, n: int = 50, ttl: timedelta = timedelta(days=1)) -> MiniRepo:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "items.parquet"
    offline_frame(n, NOW - timedelta(hours=1)).to_parquet(path)
    source = FileSource(name="items_source", path=str(path), timestamp_field="event_timestamp",
                        created_timestamp_column="created")
    push = PushSource(name="items_push", batch_source=source)
    entity = item_entity()
    view = mini_view(push, entity, ttl)
    (root / "feature_store.yaml").write_text(
        "project: mini\nprovider: local\n"
        f"registry:\n  path: {root / 'registry.db'}\n"
        "  registry_store_type: livecart.features.registry_store.AtomicFileRegistryStore\n"
        "offline_store:\n  type: duckdb\n"
        f"online_store:\n  type: {STORE_TYPE}\n  path: {root / 'online'}\n  enforce_ttl: true\n"
        "entity_key_serialization_version: 3\n"
    )
    store = FeatureStore(repo_path=str(root))
    store.apply([entity, push, view])
    return MiniRepo(store, store.get_feature_view("items"), path, root / "online")


@pytest.fixture
def mini_repo(tmp_path: Path) -> MiniRepo:
    return make_repo(tmp_path / "repo")
