"""Integration fixtures: a small Feast repo on livecart's DuckDB online store (built in a temporary
directory), and the served world on Feast's own Redis store (one for the run)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import Array, Bool, Float32, Float64, Int32, Int64, String

from livecart.bench.redis_server import local_redis, redis_feature_repo, redis_server_path
from livecart.core.settings import LivecartSettings
from livecart.features.feast_store import apply
from livecart.online.store import STORE_TYPE
from ray_jobs.materialize import materialize
from tests.served_world import copy_served_home, home_env

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
    source: FileSource | PushSource,
    entity: Entity,
    ttl: timedelta = timedelta(days=1),
    extra: bool = False,
) -> FeatureView:
    schema = [
        Field(name="score", dtype=Float64),
        Field(name="count", dtype=Int64),
        Field(name="label", dtype=String),
        Field(name="ratio", dtype=Float32),
        Field(name="flag", dtype=Bool),
        Field(name="small", dtype=Int32),
        Field(name="tags", dtype=Array(String)),
        Field(
            name="embedding",
            dtype=Array(Float32),
            vector_index=True,
            vector_length=EMBEDDING_DIM,
            vector_search_metric="COSINE",
        ),
    ]
    if extra:
        schema.append(Field(name="extra", dtype=Float64))
    return FeatureView(
        name="items", entities=[entity], ttl=ttl, schema=schema, source=source, online=True
    )


def offline_frame(n: int, at: datetime, version: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
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
        }
    )


def make_repo(root: Path, n: int = 50, ttl: timedelta = timedelta(days=1)) -> MiniRepo:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "items.parquet"
    offline_frame(n, NOW - timedelta(hours=1)).to_parquet(path)
    source = FileSource(
        name="items_source",
        path=str(path),
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
    )
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


@pytest.fixture(scope="session")
def redis_address() -> Iterator[str]:
    """A throwaway ``redis-server`` on a free localhost port, no persistence."""
    if redis_server_path() is None:
        pytest.skip("redis-server is not installed (.ci/run installs Debian's redis-server)")
    with local_redis() as address:
        yield address


@pytest.fixture(scope="session")
def redis_world(
    served_template: LivecartSettings,
    redis_address: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LivecartSettings]:
    """A copy of the served world whose online store is Redis: applied and materialized. One for
    the run (building it is ~15 s): its tests compare what they read with Feast's own answers at
    that moment, so none depends on what another pushed before it."""
    root = tmp_path_factory.mktemp("redis-world")
    copied = copy_served_home(served_template, root)
    settings = copied.model_copy(
        update={"feature_repo": redis_feature_repo(root / "feature_repo", redis_address)}
    )
    with home_env(settings):
        apply(settings)
        # The world's events are months old: every view's whole window, not "now minus TTL".
        materialize(settings, start=datetime.now(UTC) - timedelta(days=400))
        yield settings
