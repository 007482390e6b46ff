"""A tiny Feast repo per test module and store: livecart's DuckDB store and Feast's SQLite.

The contract tests use Feast's public API only (``apply``, ``materialize``, ``push``,
``write_to_online_store``, ``get_online_features[_async]``), with the same assertions on both
stores, so they state what any Feast online store must do. ``apply`` runs once per module and
store; each test writes its own entity ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, PushSource, ValueType
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import (
    Array,
    Bool,
    Bytes,
    Float32,
    Float64,
    Int32,
    Int64,
    Json,
    Map,
    String,
    UnixTimestamp,
)

from livecart.online.store import STORE_TYPE

NOW = datetime.now(UTC).replace(microsecond=0)
STORES = ["livecart", "sqlite"]
# Offline rows (user ids 1 and 2), an hour old: older than the ``stale`` view's TTL.
OFFLINE_AT = NOW - timedelta(hours=1)

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
# Every value type Feast's SQLite store keeps, scalars and lists, Map and Json included.
PROFILE_SCHEMA = [
    Field(name="score", dtype=Float64),
    Field(name="ratio", dtype=Float32),
    Field(name="visits", dtype=Int64),
    Field(name="small", dtype=Int32),
    Field(name="name", dtype=String),
    Field(name="blob", dtype=Bytes),
    Field(name="active", dtype=Bool),
    Field(name="seen_at", dtype=UnixTimestamp),
    Field(name="scores", dtype=Array(Float64)),
    Field(name="counts", dtype=Array(Int64)),
    Field(name="tags", dtype=Array(String)),
    Field(name="attrs", dtype=Map),
    Field(name="doc", dtype=Json),
]


def views(parquet: Path) -> list[Any]:
    """The repo's source, push source and views over ``parquet`` (fresh objects per repo)."""
    source = FileSource(name="profile_source", path=str(parquet), timestamp_field="event_timestamp")
    push_source = PushSource(name="profile_push", batch_source=source)
    profile = FeatureView(
        name="profile",
        entities=[user],
        ttl=timedelta(days=1),
        schema=PROFILE_SCHEMA,
        source=push_source,
        online=True,
    )
    stale = FeatureView(
        name="stale",
        entities=[user],
        ttl=timedelta(minutes=1),
        schema=[Field(name="score", dtype=Float64)],
        source=source,
        online=True,
    )
    return [source, push_source, profile, stale]


# The on-demand view's projection of ``profile`` (its name and the one feature it reads).
_profile = views(Path("profile.parquet"))[2]


@on_demand_feature_view(
    sources=[_profile[["score"]]],
    schema=[Field(name="double_score", dtype=Float64)],
    mode="python",
    write_to_online_store=True,
    entities=[user],
)
def profile_plus(inputs: dict[str, Any]) -> dict[str, Any]:
    return {"double_score": [float(s or 0.0) * 2 for s in inputs["score"]]}


FEATURE_NAMES = [f.name for f in PROFILE_SCHEMA]
FEATURES = [f"profile:{name}" for name in FEATURE_NAMES]


def row(user_id: int, at: datetime = NOW, **features: Any) -> dict[str, Any]:
    """One row of ``profile`` with a value of every type (overridden by ``features``)."""
    values: dict[str, Any] = {
        "user_id": user_id,
        "score": 1.5 * user_id,
        "ratio": 0.25,
        "visits": 10 * user_id,
        "small": -user_id,
        "name": f"user {user_id}",
        "blob": b"\x00\xff" + bytes([user_id]),
        "active": user_id % 2 == 0,
        "seen_at": OFFLINE_AT,
        "scores": [0.5, 1.5],
        "counts": [1, 2, 3],
        "tags": ["a", f"t{user_id}"],
        "attrs": {"tier": f"gold{user_id}"},
        "doc": {"k": user_id, "nested": [1, "x"]},
        "event_timestamp": at,
    }
    values.update(features)
    return values


def frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """``rows`` as a frame to write; Json values travel as JSON text, as Feast expects."""
    table = pd.DataFrame(list(rows))
    table["doc"] = table["doc"].map(lambda v: None if v is None else json.dumps(v))
    return table


@dataclass
class Contract:
    kind: str
    store: FeatureStore
    root: Path

    def read(self, ids: Sequence[int], features: Sequence[str] = FEATURES) -> dict[str, Any]:
        return self.store.get_online_features(
            features=list(features), entity_rows=[{"user_id": i} for i in ids]
        ).to_dict()


def online_yaml(kind: str, root: Path, extra: str = "") -> str:
    online = (
        f"  type: {STORE_TYPE}\n  path: {root / 'online'}\n{extra}"
        if kind == "livecart"
        else f"  type: sqlite\n  path: {root / 'online.db'}\n"
    )
    return (
        f"project: contract\nprovider: local\nregistry: {root / 'registry.db'}\n"
        f"offline_store:\n  type: duckdb\nonline_store:\n{online}"
        "entity_key_serialization_version: 3\n"
    )


def build(root: Path, kind: str) -> Contract:
    root.mkdir(parents=True, exist_ok=True)
    offline = [row(1, OFFLINE_AT), row(2, OFFLINE_AT, attrs={"tier": "x"}, doc=[1, 2])]
    table = frame(offline)
    # Feast 0.67 cannot materialize a UnixTimestamp feature read as a timestamp column (it
    # int()s its text, on every store): offline, it is epoch seconds.
    table["seen_at"] = table["seen_at"].map(lambda t: int(t.timestamp()))
    table.to_parquet(root / "profile.parquet")
    (root / "feature_store.yaml").write_text(online_yaml(kind, root))
    store = FeatureStore(repo_path=str(root))
    store.apply([user, *views(root / "profile.parquet"), profile_plus])
    return Contract(kind, store, root)


@pytest.fixture(scope="module", params=STORES)
def contract(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Contract]:
    """The module's repo on one store (livecart's, then Feast's SQLite)."""
    yield build(tmp_path_factory.mktemp(f"contract-{request.param}"), request.param)
