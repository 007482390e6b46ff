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
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from feast import Entity, FeatureView, RepoConfig, utils
from feast.filter_models import ComparisonFilter, CompoundFilter
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import FeastConfigBaseModel
from pydantic import PositiveInt, StrictBool, StrictInt, StrictStr

from livecart.online.access import (
    check_names,
    commit_rows,
    forget_cache,
    live_positions,
    read_cache,
    table_name,
    writer,
)
from livecart.online.async_methods import AsyncMethods
from livecart.online.codec import (
    arrow_type,
    entity_key_tuple,
    key_columns,
    proto_builder,
    rows_to_arrow,
    scalar_of,
    schema_signature,
)
from livecart.online.response import (
    EMPTY_VALUE,
    Encoder,
    feature_vector,
    statuses_bytes,
    timestamps_bytes,
    value_encoder,
)
from livecart.online.vector import search

STORE_TYPE = "livecart.online.store.DuckDBOnlineStore"
ReadRow = tuple[datetime | None, dict[str, ValueProto] | None]

class DuckDBOnlineStoreConfig(FeastConfigBaseModel):
    """``online_store`` section of feature_store.yaml for this store."""

    type: Literal["livecart.online.store.DuckDBOnlineStore"] = (
        "livecart.online.store.DuckDBOnlineStore"
    )
    path: StrictStr = "online_store"
    """Store directory; relative paths are resolved against the feature repo."""
    compact_after_deltas: StrictInt = 32
    """Deltas a view may accumulate before a write compacts it into a new snapshot."""
    compact_after_rows: StrictInt = 50_000
    """A write with more rows than this is merged into a snapshot straight away."""
    compact_in_background: StrictBool = True
    """Merge deltas into a new snapshot off the push path (``livecart.online.compaction``)."""
    enforce_ttl: StrictBool = False
    """Serve rows older than their view's TTL as absent (Feast's stores serve them; see
    expiry.py). livecart's own repo sets it true."""
    key_ttl_seconds: PositiveInt | None = None
    """Serve rows whose event time is more than this many seconds old as absent, in every view
    (Redis's setting name; counted from the event time, not the write: see expiry.py)."""


class DuckDBOnlineStore(AsyncMethods):
    """Feast online store plugin backed by immutable DuckDB snapshots; see the module docstring."""

    _builders: dict[tuple[str, str], Callable[[Any], ValueProto]]
    _encoders: dict[tuple[str, str], Encoder]

    def __init__(self) -> None:
        super().__init__()
        self._builders = {}
        self._encoders = {}

    def online_write_batch(
        self,
        config: RepoConfig,
        table: FeatureView,
        data: list[tuple[EntityKeyProto, dict[str, ValueProto], datetime, datetime | None]],
        progress: Callable[[int], Any] | None,
    ) -> None:
        if data:
            check_names(table, data)
            commit_rows(config, [(table, rows_to_arrow(table, data))], compact=False)
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
        positions = live_positions(state, positions, config, table)
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

    def _read_features_per_fv(
        self,
        config: RepoConfig,
        grouped_refs: list[Any],
        join_key_values: dict[str, Any],
        entity_name_to_join_key_map: dict[str, str],
        online_features_response: Any,
        full_feature_names: bool,
        include_feature_view_version_metadata: bool,
    ) -> None:
        """Feast's read loop, with each feature vector encoded straight from the Arrow column."""
        for table, requested in grouped_refs:
            entity_rows, indexes, output_len = utils._get_unique_entities(
                table, join_key_values, entity_name_to_join_key_map
            )
            keys = key_columns(table)
            state = read_cache(config).view(table_name(config, table), keys)
            out_rows = np.full(output_len, -1, dtype=np.int64)
            if state is not None and state.table is not None:
                wanted = [tuple(scalar_of(row[k]) for k in keys) for row in entity_rows]
                positions = live_positions(
                    state, [state.index.get(w) for w in wanted], config, table
                )
                for position, destinations in zip(positions, indexes, strict=True):
                    if position is not None:
                        out_rows[destinations] = position
            present = out_rows >= 0
            prefix = table.projection.name_to_use()
            online_features_response.metadata.feature_names.val.extend(
                [f"{prefix}__{name}" if full_feature_names else name for name in requested]
            )
            if include_feature_view_version_metadata:
                meta = online_features_response.metadata.feature_view_metadata.add()
                meta.name = table.projection.name_alias or table.projection.name
                meta.version = getattr(table, "current_version_number", 0) or 0
            stamps = timestamps_bytes(
                [int(state.event_us[r]) if r >= 0 and state else None for r in out_rows]
            )
            statuses = statuses_bytes(present)
            for name in requested:
                encode = self._encoder(table, name)
                if state is None or state.table is None:
                    values = EMPTY_VALUE * output_len
                else:
                    values = encode(state, name, out_rows)
                online_features_response.results.append(feature_vector(values, statuses, stamps))

    def retrieve_online_documents_v2(
        self,
        config: RepoConfig,
        table: FeatureView,
        requested_features: list[str],
        embedding: list[float] | None,
        top_k: int,
        distance_metric: str | None = None,
        query_string: str | None = None,
        filters: ComparisonFilter | CompoundFilter | None = None,
        include_feature_view_version_metadata: bool = False,
    ) -> list[tuple[datetime | None, EntityKeyProto | None, dict[str, ValueProto] | None]]:
        """Top-k rows nearest to ``embedding`` (DuckDB array functions), after ``filters``.

        ``distance`` in the result is what was ranked on: cosine distance, L2 distance, or the
        negative inner product. Keyword search (``query_string``) is not supported.

        The documents are returned ordered by entity key, not by distance: Feast 0.67's
        ``FeatureStore.retrieve_online_documents_v2`` re-sorts entities by key while keeping the
        rows in the store's order, which misaligns values unless both orders agree. Sort by
        ``distance`` to rank.
        """
        if embedding is None or query_string is not None:
            raise NotImplementedError(
                "the DuckDB online store supports vector search, not keyword search"
            )
        vector = next((f for f in table.features if f.vector_index), None)
        if vector is None:
            raise ValueError(f"feature view {table.name} has no field with vector_index=True")
        keys = key_columns(table)
        state = read_cache(config).view(table_name(config, table), keys)
        if state is None or state.table is None:
            return []
        live = [
            p
            for p in live_positions(state, list(state.index.values()), config, table)
            if p is not None
        ]
        current = state.table.take(pa.array(live, type=pa.int64()))
        hits = search(current, vector.name, embedding, top_k, distance_metric, filters)
        key_of = {h: tuple(current.column(k)[h[0]].as_py() for k in keys) for h in hits}
        hits.sort(key=lambda h: key_of[h])
        names = requested_features or [f.name for f in table.features]
        key_types = {f.name: f for f in table.entity_columns}
        out: list[tuple[datetime | None, EntityKeyProto | None, dict[str, ValueProto] | None]] = []
        for position, distance in hits:
            row = live[position]
            key = EntityKeyProto(
                join_keys=keys,
                entity_values=[
                    proto_builder(key_types[k])(state.column(k)[row].as_py()) for k in keys
                ],
            )
            values = {n: self._builder(table, n)(state.column(n)[row].as_py()) for n in names}
            values["distance"] = ValueProto(float_val=distance)
            stamp = datetime.fromtimestamp(state.event_us[row] / 1e6, tz=UTC)
            out.append((stamp, key, values))
        return out

    def _encoder(self, view: FeatureView, feature: str) -> Encoder:
        key = (view.name, feature)
        encode = self._encoders.get(key)
        if encode is None:
            field = next(f for f in view.features if f.name == feature)
            encode = self._encoders[key] = value_encoder(field, arrow_type(field))
        return encode

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
        self._encoders.clear()

    def teardown(
        self, config: RepoConfig, tables: Sequence[FeatureView], entities: Sequence[Entity]
    ) -> None:
        writer(config).drop_all([table_name(config, t) for t in tables])
        forget_cache(config)
