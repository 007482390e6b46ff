"""A Feast OnlineStore on DuckDB files: columnar, crash-safe, many readers with one writer.

Select it in ``feature_store.yaml``::

    online_store:
      type: livecart.online.store.DuckDBOnlineStore
      path: ${LIVECART_HOME}/feast/online        # a directory

Design (DuckDB allows one read-write process or many read-only ones, never both): writers never
modify a file in place. Each commit writes new immutable files (a compacted DuckDB snapshot per
view, or a small Arrow delta for pushes) and atomically swaps a manifest; one writer at a time holds
an fcntl lock. Readers (Ray Serve replicas, ``feast serve`` workers) keep a per-process cache that
follows the manifest, so they never see a lock error, a torn write or a missing table. One table
per view, one row per entity key, typed columns plus event and created timestamps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from feast import Entity, FeatureView, RepoConfig
from feast.infra.online_stores.online_store import OnlineStore
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import FeastConfigBaseModel
from pydantic import StrictInt, StrictStr

from livecart.online.cache import ReadCache, ViewState
from livecart.online.codec import (
    entity_key_tuple,
    key_columns,
    proto_builder,
    rows_to_arrow,
    schema_signature,
    view_schema,
)
from livecart.online.writer import SnapshotWriter, ViewWrite

STORE_TYPE = "livecart.online.store.DuckDBOnlineStore"
ReadRow = tuple[datetime | None, dict[str, ValueProto] | None]

# One read cache per store directory per process (readers share nothing across processes).
_CACHES: dict[Path, ReadCache] = {}


class DuckDBOnlineStoreConfig(FeastConfigBaseModel):
    """``online_store`` section of feature_store.yaml for this store."""

    type: Literal["livecart.online.store.DuckDBOnlineStore"] = "livecart.online.store.DuckDBOnlineStore"
    path: StrictStr = "online_store"
    """Store directory; relative paths are resolved against the feature repo."""
    compact_after_deltas: StrictInt = 32
    """Deltas a view may accumulate before a write compacts it into a new snapshot."""
    compact_after_rows: StrictInt = 50_000
    """A write with more rows than this is merged into a snapshot straight away."""


def store_directory(config: RepoConfig) -> Path:
    online = config.online_store
    path = Path(online.path)
    if not path.is_absolute() and config.repo_path is not None:
        path = Path(config.repo_path) / path
    return path


def table_name(config: RepoConfig, view: FeatureView) -> str:
    return f"{config.project}__{view.name}"


def read_cache(config: RepoConfig) -> ReadCache:
    directory = store_directory(config)
    cache = _CACHES.get(directory)
    if cache is None:
        cache = _CACHES[directory] = ReadCache(directory)
    return cache


def writer(config: RepoConfig) -> SnapshotWriter:
    online = config.online_store
    return SnapshotWriter(
        store_directory(config),
        compact_after_deltas=online.compact_after_deltas,
        compact_after_rows=online.compact_after_rows,
    )


def write_arrow(
    config: RepoConfig, views: Sequence[tuple[FeatureView, pa.Table]], compact: bool = True
) -> int:
    """Bulk-write Arrow rows (keys, features, ``__event_ts``, ``__created_ts``) in one commit."""
    changes = {
        table_name(config, view): ViewWrite(
            rows, view_schema(view), key_columns(view), schema_signature(view)
        )
        for view, rows in views
    }
    return writer(config).write(changes, compact=compact)


def _live_positions(
    state: ViewState, positions: list[int | None], view: FeatureView
) -> list[int | None]:
    """Drop rows older than the view's TTL (a TTL of zero means they never expire)."""
    ttl = view.ttl
    if not ttl or ttl.total_seconds() <= 0:
        return positions
    cutoff = (datetime.now(UTC) - ttl).timestamp() * 1e6
    return [p if p is not None and state.event_us[p] >= cutoff else None for p in positions]


class DuckDBOnlineStore(OnlineStore):
    """Feast online store plugin backed by immutable DuckDB snapshots; see the module docstring."""

    _builders: dict[tuple[str, str], Callable[[Any], ValueProto]]

    def __init__(self) -> None:
        super().__init__()
        self._builders = {}

    def online_write_batch(
        self,
        config: RepoConfig,
        table: FeatureView,
        data: list[tuple[EntityKeyProto, dict[str, ValueProto], datetime, datetime | None]],
        progress: Callable[[int], Any] | None,
    ) -> None:
        if data:
            rows = rows_to_arrow(table, data)
            write_arrow(config, [(table, rows)], compact=False)
        if progress:
            progress(len(data))

    def online_read(
        self,
        config: RepoConfig,
        table: FeatureView,
        entity_keys: list[EntityKeyProto],
        requested_features: list[str] | None = None,
    ) -> list[ReadRow]:
        keys = key_columns(table)
        state = read_cache(config).view(table_name(config, table), keys)
        if state is None or state.table is None:
            return [(None, None)] * len(entity_keys)
        positions = [state.index.get(entity_key_tuple(k, keys)) for k in entity_keys]
        positions = _live_positions(state, positions, table)
        found = [p for p in positions if p is not None]
        if not found:
            return [(None, None)] * len(entity_keys)
        names = requested_features or [f.name for f in table.features]
        subset = state.table.select(names).take(pa.array(found, type=pa.int64()))
        columns = {name: subset.column(name).to_pylist() for name in names}
        builders = [(name, self._builder(table, name)) for name in names]
        stamps = state.event_us[np.asarray(found, dtype=np.int64)]
        out: list[ReadRow] = []
        j = 0
        for p in positions:
            if p is None:
                out.append((None, None))
                continue
            values = {name: build(columns[name][j]) for name, build in builders}
            out.append((datetime.fromtimestamp(stamps[j] / 1e6, tz=UTC), values))
            j += 1
        return out

    def _builder(self, view: FeatureView, feature: str) -> Callable[[Any], ValueProto]:
        key = (view.name, feature)
        build = self._builders.get(key)
        if build is None:
            field = next(f for f in view.features if f.name == feature)
            build = self._builders[key] = proto_builder(field)
        return build

    def update(
        self,
        config: RepoConfig,
        tables_to_delete: Sequence[FeatureView],
        tables_to_keep: Sequence[FeatureView],
        entities_to_delete: Sequence[Entity],
        entities_to_keep: Sequence[Entity],
        partial: bool,
    ) -> None:
        keep = {table_name(config, t): schema_signature(t) for t in tables_to_keep}
        writer(config).sync_views(keep, [table_name(config, t) for t in tables_to_delete])
        self._builders.clear()

    def teardown(
        self, config: RepoConfig, tables: Sequence[FeatureView], entities: Sequence[Entity]
    ) -> None:
        writer(config).drop_all([table_name(config, t) for t in tables])
        _CACHES.pop(store_directory(config), None)
