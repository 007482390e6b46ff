"""Columnar online reads of a Feast feature service: one Arrow table per request, no protobuf.

``FeatureStore.get_online_features`` builds one protobuf ``Value`` per feature per row and turns
each back into a Python object; for 500 candidate rows with a 384-wide text embedding that is
about 200,000 conversions and 60-85 ms. Serving needs the same features as columns, so this
reader resolves the service through Feast's registry (views, projections, join keys, TTLs, and
on-demand views run with Feast's own ``transform_arrow``) and takes rows straight from the
store's Arrow read cache. ``tests/integration/test_online_frames.py`` checks it value for value
against ``get_online_features``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

import numpy as np
import pyarrow as pa
from feast import FeatureService, FeatureStore, FeatureView
from feast.on_demand_feature_view import OnDemandFeatureView

from livecart.errors import LivecartError
from livecart.online.cache import ViewState
from livecart.online.codec import arrow_type, key_columns
from livecart.online.store import (
    STORE_TYPE,
    read_cache,
    table_name,
)
from livecart.online.vector import distances


@dataclass(frozen=True)
class _ViewRead:
    view: FeatureView
    features: tuple[str, ...]
    join_keys: tuple[str, ...]  # the view's stored key columns, in store order


@dataclass(frozen=True)
class ServicePlan:
    """What reading one feature service takes, resolved once from the registry."""

    name: str
    views: tuple[_ViewRead, ...]
    on_demand: tuple[tuple[OnDemandFeatureView, tuple[str, ...]], ...]

    @property
    def entity_columns(self) -> tuple[str, ...]:
        keys: dict[str, None] = {}
        for read in self.views:
            keys.update(dict.fromkeys(read.join_keys))
        return tuple(keys)

    @property
    def feature_names(self) -> tuple[str, ...]:
        names = [n for read in self.views for n in read.features]
        names += [n for _, feats in self.on_demand for n in feats]
        return tuple(names)


def plan_service(store: FeatureStore, service: str | FeatureService) -> ServicePlan:
    """Resolve a feature service into per-view reads (registry lookups happen here, once)."""
    fs = store.get_feature_service(service) if isinstance(service, str) else service
    views: list[_ViewRead] = []
    on_demand: list[tuple[OnDemandFeatureView, tuple[str, ...]]] = []
    for projection in fs.feature_view_projections:
        features = tuple(f.name for f in projection.features)
        try:
            view: FeatureView | OnDemandFeatureView = store.get_feature_view(projection.name)
        except Exception:
            view = store.get_on_demand_feature_view(projection.name)
        if isinstance(view, OnDemandFeatureView):
            on_demand.append((view, features))
        else:
            views.append(_ViewRead(view, features, tuple(key_columns(view))))
    return ServicePlan(fs.name, tuple(views), tuple(on_demand))


@dataclass(frozen=True)
class ViewRows:
    """Where one view's rows for a batch of entity rows are: the view's state as this process
    sees it, the distinct entity keys' positions (-1: absent or expired) and, per entity row,
    which distinct key it has. A viewer's 500 candidate rows share one viewer key: it is looked
    up once."""

    read: _ViewRead
    state: ViewState | None
    unique: np.ndarray  # int64 positions in ``state.table`` of the distinct keys
    inverse: np.ndarray  # int64 per entity row: its key's index in ``unique``

    @property
    def rows(self) -> np.ndarray:
        """Per entity row, its position in ``state.table`` (-1: absent or expired)."""
        rows: np.ndarray = self.unique[self.inverse]
        return rows


def view_rows(
    store: FeatureStore, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]
) -> tuple[int, list[ViewRows]]:
    """(number of entity rows, :class:`ViewRows` per view of ``plan``) on this online store."""
    lengths = {len(v) for v in entities.values()}
    if len(lengths) > 1:
        raise LivecartError(f"entity columns differ in length: {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    missing = [k for k in plan.entity_columns if k not in entities]
    if missing:
        raise LivecartError(f"feature service {plan.name!r} needs entity columns {missing}")
    cache = read_cache(store.config)
    manifest = cache.manifest()
    if plan.views and not manifest.views:
        # A store with no tables at all is gone (or never materialized): say so instead of
        # answering "no features" for everyone, which callers would mistake for new entities.
        raise LivecartError(
            f"the online store at {cache.directory} has no tables; run `livecart materialize`"
        )
    distinct: dict[tuple[str, ...], tuple[list[tuple[Any, ...]], np.ndarray]] = {}
    out: list[ViewRows] = []
    for read in plan.views:
        keys = distinct.get(read.join_keys)
        if keys is None:
            keys = distinct[read.join_keys] = _distinct_keys([entities[k] for k in read.join_keys])
        uniques, inverse = keys
        state = cache.view(table_name(store.config, read.view), read.join_keys, manifest)
        positions = np.full(len(uniques), -1, dtype=np.int64)
        if state is not None and state.table is not None and uniques:
            get = state.index.get
            positions = np.fromiter(
                (get(key, -1) for key in uniques), dtype=np.int64, count=len(uniques)
            )
            positions = _expire(state, positions, read.view)
        out.append(ViewRows(read, state, positions, inverse))
    return n, out


def _distinct_keys(
    columns: Sequence[Sequence[Any]],
) -> tuple[list[tuple[Any, ...]], np.ndarray]:
    """The distinct key tuples of the entity rows, first-seen order, and each row's index.

    Columns holding one value throughout (the viewer of a request's candidate rows) are not
    walked row by row: only the varying ones are."""
    n = len(columns[0]) if columns else 0
    if n == 0:
        return [], np.zeros(0, dtype=np.int64)
    constant = [len(col) > 0 and list(col).count(col[0]) == n for col in columns]
    varying = [col for col, same in zip(columns, constant, strict=True) if not same]
    if not varying:
        return [tuple(col[0] for col in columns)], np.zeros(n, dtype=np.int64)
    values = varying[0] if len(varying) == 1 else list(zip(*varying, strict=True))
    if len(set(values)) == n:  # all distinct (a request's candidate products): no dedupe walk
        distinct, inverse = list(values), np.arange(n, dtype=np.int64)
    else:
        first: dict[Any, int] = {}
        setdefault = first.setdefault
        inverse = np.fromiter((setdefault(v, len(first)) for v in values), dtype=np.int64, count=n)
        distinct = list(first)
    parts = iter(
        [distinct] if len(varying) == 1 else [list(x) for x in zip(*distinct, strict=True)]
    )
    key_columns_ = [
        repeat(col[0], len(distinct)) if same else next(parts)
        for col, same in zip(columns, constant, strict=True)
    ]
    return list(zip(*key_columns_, strict=False)), inverse


def read_frame(
    store: FeatureStore, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]
) -> pa.Table:
    """The service's features for each entity row, as an Arrow table (entities first).

    ``entities`` maps join key -> values (equal lengths). Absent or expired rows give nulls,
    exactly as Feast's ``get_online_features`` does. With any other online store (Redis,
    SQLite, ...) this *is* ``get_online_features`` with the same feature references.
    """
    if store.config.online_store.type != STORE_TYPE:
        return _read_through_feast(store, plan, entities)
    n, views = view_rows(store, plan, entities)
    columns: dict[str, pa.Array] = {k: pa.array(list(entities[k])) for k in plan.entity_columns}
    for found in views:
        read, state = found.read, found.state
        if state is None or state.table is None:
            for name in read.features:
                columns[name] = pa.nulls(n, type=_feature_type(read.view, name))
            continue
        # One take for the whole view; a null index (absent or expired entity) gives null values.
        rows = found.rows
        indices = pa.array(rows, type=pa.int64(), mask=rows < 0)
        taken = state.table.select(list(read.features)).take(indices)
        for name, column in zip(taken.column_names, taken.columns, strict=True):
            columns[name] = column.combine_chunks()
    table = pa.table(columns)
    for odfv, features in plan.on_demand:
        # Only the columns the transformation reads: Feast copies every column it is given.
        sources = {
            f.name for p in odfv.source_feature_view_projections.values() for f in p.features
        }
        inputs = table.select([n for n in table.column_names if n in sources])
        transformed = odfv.transform_arrow(inputs, full_feature_names=False)
        for name in features:
            table = table.append_column(name, transformed.column(name))
    return table


def _expire(state: Any, rows: np.ndarray, view: FeatureView) -> np.ndarray:
    """``rows`` with positions older than the view's TTL set to -1 (vectorized TTL check)."""
    ttl = view.ttl
    if not ttl or ttl.total_seconds() <= 0:
        return rows
    cutoff = (datetime.now(UTC) - ttl).timestamp() * 1e6
    found = rows >= 0
    stale = np.zeros(len(rows), dtype=bool)
    stale[found] = state.event_us[rows[found]] < cutoff
    return np.where(stale, -1, rows)


def _read_through_feast(
    store: FeatureStore, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]
) -> pa.Table:
    refs = [f"{r.view.name}:{n}" for r in plan.views for n in r.features]
    refs += [f"{odfv.name}:{n}" for odfv, feats in plan.on_demand for n in feats]
    keys = list(plan.entity_columns)
    rows = [
        dict(zip(keys, values, strict=True))
        for values in zip(*(entities[k] for k in keys), strict=True)
    ]
    if not rows:
        return pa.table({k: pa.array([], pa.string()) for k in keys})
    table: pa.Table = store.get_online_features(features=refs, entity_rows=rows).to_arrow()
    return table


def _feature_type(view: FeatureView, name: str) -> pa.DataType:
    for field in view.features:
        if field.name == name:
            return arrow_type(field)
    raise LivecartError(f"view {view.name!r} has no feature {name!r}")


def nearest(
    store: FeatureStore,
    view_name: str,
    query: Sequence[float],
    top_k: int,
    metric: str | None = None,
) -> list[tuple[tuple[Any, ...], float]]:
    """(entity key, distance) of the ``top_k`` rows of ``view_name`` nearest to ``query``.

    The ranking of ``FeatureStore.retrieve_online_documents_v2`` on this store (current rows
    within the TTL; the field's declared ``vector_search_metric`` wins over ``metric``, as in
    Feast), without filters or protobuf documents: numpy over a float32 matrix cached per
    committed state. Nearest first, ties by row position.
    """
    if store.config.online_store.type != STORE_TYPE:
        return []  # vector retrieval is this store's; other stores skip this candidate source
    view = store.get_feature_view(view_name)
    vector = next((f for f in view.features if f.vector_index), None)
    if vector is None:
        raise LivecartError(f"feature view {view_name!r} has no vector-indexed field")
    state = read_cache(store.config).view(table_name(store.config, view), key_columns(view))
    if state is None or state.table is None or top_k <= 0:
        return []
    positions, matrix, norms = state.vectors(vector.name)
    q = np.asarray(query, dtype=np.float32)
    if q.shape != (matrix.shape[1],):
        raise LivecartError(f"query has {q.size} dimensions, {vector.name} has {matrix.shape[1]}")
    distance = distances(matrix, norms, q, vector.vector_search_metric or metric)
    ttl = view.ttl
    if ttl and ttl.total_seconds() > 0:
        cutoff = (datetime.now(UTC) - ttl).timestamp() * 1e6
        distance = np.where(state.event_us[positions] >= cutoff, distance, np.nan)
    candidates = np.flatnonzero(~np.isnan(distance))
    if len(candidates) > top_k:
        part = np.argpartition(distance[candidates], top_k - 1)[:top_k]
        candidates = candidates[part]
    best = candidates[np.lexsort((positions[candidates], distance[candidates]))]
    rows = pa.array(positions[best], type=pa.int64())
    keys = [state.column(k).take(rows).to_pylist() for k in key_columns(view)]
    return list(zip(zip(*keys, strict=True), distance[best].tolist(), strict=True))


def to_pandas(table: pa.Table) -> Any:
    """``table`` as a pandas DataFrame, with vector columns as rows of one float32 array.

    ``Table.to_pandas`` turns each list cell into its own numpy array via Python objects (about
    14 ms for 500 rows of 384-wide embeddings); here a fixed-size or variable list column of
    floats is flattened once and sliced into per-row views.
    """
    import pandas as pd

    columns: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        array = column.combine_chunks()
        kind = array.type
        if (pa.types.is_fixed_size_list(kind) or pa.types.is_list(kind)) and pa.types.is_floating(
            kind.value_type
        ):
            columns[name] = _vector_rows(array)
        else:
            columns[name] = array.to_pandas()
    return pd.DataFrame(columns)


def _vector_rows(array: pa.Array) -> list[np.ndarray | None]:
    values = array.values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    if pa.types.is_fixed_size_list(array.type):
        width = array.type.list_size
        starts = np.arange(len(array)) * width + array.offset * width
        ends = starts + width
    else:
        offsets = array.offsets.to_numpy()  # absolute positions in ``array.values``
        starts, ends = offsets[:-1], offsets[1:]
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    return [values[a:b] if ok else None for a, b, ok in zip(starts, ends, valid, strict=True)]
