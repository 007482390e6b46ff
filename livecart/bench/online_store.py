"""`livecart bench online-store`: livecart's DuckDB online store vs Feast's stock SQLite store,
and Feast's Redis store when a ``redis-server`` is given (the CLI starts one when installed).

Same data, same machine, one run: a feature view of N entities x F float features is materialized
into every store (SQLite and Redis by stock ``FeatureStore.materialize``; DuckDB by livecart's Ray
job), then read through ``FeatureStore.get_online_features`` with 1 and 100 entities per request.
Also measures push-to-visible freshness against a reader loop in another process. Ratios are
DuckDB / SQLite (``ratio_*``) and DuckDB / Redis (``ratio_vs_redis_*``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, PushSource, ValueType
from feast.data_source import PushMode
from feast.types import Float64
from tqdm import tqdm

from livecart.bench.redis_server import used_memory
from livecart.core.settings import LivecartSettings
from livecart.online.store import STORE_TYPE

VIEW = "bench"


def _write_repo(root: Path, online: str) -> FeatureStore:
    root.mkdir(parents=True, exist_ok=True)
    (root / "feature_store.yaml").write_text(
        f"project: bench\nprovider: local\nregistry: {root / 'registry.db'}\n"
        f"offline_store:\n  type: duckdb\nonline_store:\n{online}\nentity_key_serialization_version: 3\n"
    )
    return FeatureStore(repo_path=str(root))


def _definitions(source_path: Path, features: int) -> list[Any]:
    entity = Entity(name="thing", join_keys=["thing_id"], value_type=ValueType.STRING)
    source = FileSource(
        name="bench_source", path=str(source_path), timestamp_field="event_timestamp"
    )
    push = PushSource(name="bench_push", batch_source=source)
    view = FeatureView(
        name=VIEW,
        entities=[entity],
        ttl=timedelta(days=30),
        source=push,
        online=True,
        schema=[Field(name=f"f{i:02d}", dtype=Float64) for i in range(features)],
    )
    return [entity, push, view]


def _make_source(path: Path, entities: int, features: int, at: datetime) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        rng.random((entities, features)), columns=[f"f{i:02d}" for i in range(features)]
    )
    frame.insert(0, "thing_id", [f"t{i}" for i in range(entities)])
    frame["event_timestamp"] = at
    frame.to_parquet(path)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = np.sort(np.asarray(samples))
    return float(np.percentile(ordered, 50)), float(np.percentile(ordered, 99))


def _reads(
    store: FeatureStore,
    entities: int,
    features: int,
    batch: int,
    requests: int,
    to_dict: bool = False,
) -> tuple[float, float]:
    """p50/p99 ms of ``get_online_features`` (optionally plus Feast's ``to_dict`` conversion)."""
    refs = [f"{VIEW}:f{i:02d}" for i in range(features)]
    rng = np.random.default_rng(batch)
    for _ in range(20):  # warm-up
        store.get_online_features(features=refs, entity_rows=[{"thing_id": "t0"}] * batch).to_dict()
    samples = []
    for _ in range(requests):
        rows = [{"thing_id": f"t{i}"} for i in rng.integers(0, entities, size=batch)]
        t0 = time.perf_counter()
        response = store.get_online_features(features=refs, entity_rows=rows)
        if to_dict:
            response.to_dict()
        samples.append((time.perf_counter() - t0) * 1000)
        if response.to_dict()["f00"][0] is None:
            raise RuntimeError("benchmark read found no value: materialization failed")
    return _percentiles(samples)


READER = """
import sys, time
from feast import FeatureStore
store = FeatureStore(repo_path=sys.argv[1])
seen = None
deadline = time.time() + float(sys.argv[2])
store.get_online_features(features=["bench:f00"], entity_rows=[{"thing_id": "t1"}])  # loaded
print("ready", flush=True)
while time.time() < deadline:
    value = store.get_online_features(features=["bench:f00"], entity_rows=[{"thing_id": "t1"}]).to_dict()["f00"][0]
    if value != seen:
        seen = value
        print(f"{value!r} {time.time()}", flush=True)
"""


def _freshness(
    store: FeatureStore, root: Path, features: int, pushes: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Milliseconds from push() returning to a reader in another process seeing the value (the
    reader has loaded the view before the first push), and of push() itself; p50 and p99."""
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(root), str(10 + pushes * 0.2)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout is not None
    while reader.stdout.readline().strip() != "ready":
        pass
    returned: dict[float, float] = {}
    calls: list[float] = []
    for k in range(pushes):
        value = 1000.0 + k
        row = {"thing_id": ["t1"], "event_timestamp": [datetime.now(UTC)]}
        row.update({f"f{i:02d}": [value if i == 0 else 0.0] for i in range(features)})
        began = time.perf_counter()
        store.push("bench_push", pd.DataFrame(row), to=PushMode.ONLINE)
        returned[value] = time.time()
        calls.append((time.perf_counter() - began) * 1000)
        time.sleep(0.1)
    reader.wait(timeout=60 + pushes)
    seen: dict[float, float] = {}
    for line in reader.stdout.read().splitlines():
        shown, at = line.split()
        if shown != "None":
            seen.setdefault(float(shown), float(at))
    lags = [max(0.0, seen[v] - t) * 1000 for v, t in returned.items() if v in seen]
    if len(lags) < pushes:
        raise RuntimeError(f"reader saw {len(lags)} of {pushes} pushed values")
    return _percentiles(lags), _percentiles(calls)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run(
    settings: LivecartSettings,
    workdir: Path,
    entities: int = 200_000,
    features: int = 20,
    requests: int = 300,
    pushes: int = 100,
    redis_address: str | None = None,
) -> dict[str, Any]:
    """Run the comparison (Redis too, at ``redis_address`` ``host:port``, an empty server);
    returns the JSON-able result."""
    from ray_jobs.materialize import run as materialize

    now = datetime.now(UTC)
    source = workdir / "source.parquet"
    _make_source(source, entities, features, now - timedelta(hours=1))
    stores = {
        "duckdb": _write_repo(
            workdir / "duckdb", f"  type: {STORE_TYPE}\n  path: {workdir / 'duckdb' / 'online'}"
        ),
        "sqlite": _write_repo(
            workdir / "sqlite", f"  type: sqlite\n  path: {workdir / 'sqlite' / 'online.db'}"
        ),
    }
    if redis_address:
        stores["redis"] = _write_repo(
            workdir / "redis", f'  type: redis\n  connection_string: "{redis_address}"'
        )
        redis_before = used_memory(redis_address)
    for store in stores.values():
        store.apply(_definitions(source, features))
    result: dict[str, Any] = {"entities": entities, "features": features, "cpu_count": _cpus()}
    t0 = time.perf_counter()
    from livecart.core.ray_runtime import ensure_ray

    ensure_ray(settings)
    result["duckdb_ray_init_s"] = round(time.perf_counter() - t0, 2)
    for name, store in tqdm(stores.items(), desc="materializing", leave=False):
        t0 = time.perf_counter()
        if name == "duckdb":
            materialize(settings, start=now - timedelta(days=1), end=now, store=store)
        else:
            store.materialize(start_date=now - timedelta(days=1), end_date=now)
        result[f"{name}_materialize_s"] = round(time.perf_counter() - t0, 3)
    result["duckdb_store_bytes"] = _size(workdir / "duckdb" / "online")
    result["sqlite_store_bytes"] = _size(workdir / "sqlite" / "online.db")
    if redis_address:
        result["redis_store_bytes"] = used_memory(redis_address) - redis_before
    for name, store in stores.items():
        for batch in (1, 100):
            p50, p99 = _reads(store, entities, features, batch, requests)
            result[f"{name}_read_{batch}_p50_ms"] = round(p50, 3)
            result[f"{name}_read_{batch}_p99_ms"] = round(p99, 3)
        p50, _ = _reads(store, entities, features, 100, requests // 2, to_dict=True)
        result[f"{name}_read_100_with_to_dict_p50_ms"] = round(p50, 3)
    # Is the hand-written wire encoding (online/response.py, an override of Feast's private
    # ``_read_features_per_fv``) still worth it? The same store through Feast's own read loop.
    with _feast_read_loop():
        for batch in (1, 100):
            p50, p99 = _reads(stores["duckdb"], entities, features, batch, requests)
            result[f"duckdb_feast_loop_read_{batch}_p50_ms"] = round(p50, 3)
            result[f"duckdb_feast_loop_read_{batch}_p99_ms"] = round(p99, 3)
    for batch in (1, 100):
        result[f"ratio_wire_encoding_read_{batch}_p50_ms"] = round(
            result[f"duckdb_read_{batch}_p50_ms"]
            / max(result[f"duckdb_feast_loop_read_{batch}_p50_ms"], 1e-9),
            4,
        )
    for name, store in stores.items():
        (p50, p99), (call_p50, call_p99) = _freshness(store, workdir / name, features, pushes)
        result[f"{name}_push_visible_p50_ms"] = round(p50, 2)
        result[f"{name}_push_visible_p99_ms"] = round(p99, 2)
        result[f"{name}_push_call_p50_ms"] = round(call_p50, 2)
        result[f"{name}_push_call_p99_ms"] = round(call_p99, 2)
    for metric in (
        "materialize_s",
        "store_bytes",
        "read_1_p50_ms",
        "read_1_p99_ms",
        "read_100_p50_ms",
        "read_100_p99_ms",
        "read_100_with_to_dict_p50_ms",
        "push_visible_p50_ms",
        "push_visible_p99_ms",
        "push_call_p50_ms",
        "push_call_p99_ms",
    ):
        result[f"ratio_{metric}"] = _ratio(result[f"duckdb_{metric}"], result[f"sqlite_{metric}"])
        if redis_address:
            result[f"ratio_vs_redis_{metric}"] = _ratio(
                result[f"duckdb_{metric}"], result[f"redis_{metric}"]
            )
    return result


def _ratio(ours: float, theirs: float) -> float | None:
    """``ours / theirs``; None when ``theirs`` rounds to 0 (a lag below the reader's loop)."""
    return round(ours / theirs, 4) if theirs > 0 else None


@contextmanager
def _feast_read_loop() -> Iterator[None]:
    """livecart's store answering ``get_online_features`` through Feast's generic read loop
    (one ValueProto per value from ``online_read``) instead of its wire encoding."""
    from feast.infra.online_stores.online_store import OnlineStore

    from livecart.online.store import DuckDBOnlineStore

    fast = DuckDBOnlineStore.__dict__["_read_features_per_fv"]
    setattr(DuckDBOnlineStore, "_read_features_per_fv", OnlineStore._read_features_per_fv)  # noqa: B010
    try:
        yield
    finally:
        setattr(DuckDBOnlineStore, "_read_features_per_fv", fast)  # noqa: B010


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def main_json(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2, sort_keys=True)
