"""Columnar reads of a Feast feature service from livecart's store: no protobuf, no Feast read path.

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
from typing import Any

import numpy as np
import pyarrow as pa
from feast import FeatureStore, FeatureView, Field

from livecart.core.errors import LivecartError
from livecart.online.access import read_cache, table_name
from livecart.online.codec import arrow_type, is_opaque, key_columns, opaque_values
from livecart.online.expiry import cutoff_us
from livecart.online.lookup import ViewRows, expire, view_rows
from livecart.online.plan import ServicePlan
from livecart.online.state import ViewState
from livecart.online.vector import distances


def read_frame(
    store: FeatureStore, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]
) -> pa.Table:
    """The service's features for each entity row, as an Arrow table (entities first).

    ``entities`` maps join key -> values (equal lengths). Absent or expired rows give nulls,
    exactly as Feast's ``get_online_features`` does. livecart's store only: serving reads any
    store through :func:`livecart.features.reader.reader_for`.
    """
    n, views = view_rows(store, plan, entities)
    return frame_of(plan, n, views, entities)


def frame_of(
    plan: ServicePlan, n: int, views: list[ViewRows], entities: Mapping[str, Sequence[Any]]
) -> pa.Table:
    """:func:`read_frame` from rows found per view (here, or on Redis by
    :func:`livecart.features.redis_rows.redis_view_rows`)."""
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
        opaque = {f.name: f for f in read.view.features if is_opaque(f)}
        for name, column in zip(taken.column_names, taken.columns, strict=True):
            cells = column.combine_chunks()
            columns[name] = opaque_values(opaque[name], cells) if name in opaque else cells
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
    view, vector, state = _vector_state(store, view_name)
    if state is None or state.table is None or top_k <= 0:
        return []
    positions, matrix, norms = state.vectors(vector.name)
    q = np.asarray(query, dtype=np.float32)
    if q.shape != (matrix.shape[1],):
        raise LivecartError(f"query has {q.size} dimensions, {vector.name} has {matrix.shape[1]}")
    distance = distances(matrix, norms, q, vector.vector_search_metric or metric)
    distance = np.where(
        expire(state, positions, cutoff_us(store.config.online_store, view)) >= 0, distance, np.nan
    )
    candidates = np.flatnonzero(~np.isnan(distance))
    if len(candidates) > top_k:
        part = np.argpartition(distance[candidates], top_k - 1)[:top_k]
        candidates = candidates[part]
    best = candidates[np.lexsort((positions[candidates], distance[candidates]))]
    rows = pa.array(positions[best], type=pa.int64())
    keys = [state.column(k).take(rows).to_pylist() for k in key_columns(view)]
    return list(zip(zip(*keys, strict=True), distance[best].tolist(), strict=True))


def vector_version(store: FeatureStore, view_name: str) -> object:
    """What identifies the rows :func:`current_vectors` returns now (the view's committed
    snapshot and delta names; None before its first commit): one look at the read cache."""
    state = _vector_state(store, view_name)[2]
    return None if state is None else (state.base, tuple(state.deltas))


def current_vectors(
    store: FeatureStore, view_name: str
) -> tuple[object, list[tuple[Any, ...]], np.ndarray]:
    """(:func:`vector_version`, keys, float32 vectors) of every row :func:`nearest` would rank
    now: current, unexpired, with a vector. What an ANN index over the view is built from."""
    view, vector, state = _vector_state(store, view_name)
    if state is None or state.table is None:
        return vector_version(store, view_name), [], np.zeros((0, vector.vector_length), np.float32)
    positions, matrix, _ = state.vectors(vector.name)
    live = expire(state, positions, cutoff_us(store.config.online_store, view)) >= 0
    rows = pa.array(positions[live], type=pa.int64())
    keys = list(
        zip(*(state.column(k).take(rows).to_pylist() for k in key_columns(view)), strict=True)
    )
    return (state.base, tuple(state.deltas)), keys, matrix[live]


def stored_vectors(
    store: FeatureStore, view_name: str, keys: Sequence[tuple[Any, ...]]
) -> np.ndarray:
    """The vectors of ``keys`` in ``view_name``'s vector-indexed field, in order, leaving out
    keys that are absent, expired or without a vector: the non-null cells of ``read_frame`` for
    those keys, as float32 rows of the matrix :func:`nearest` searches (no Arrow table, no
    Python lists)."""
    view, vector, state = _vector_state(store, view_name)
    if state is None or state.table is None or not keys:
        return np.zeros((0, vector.vector_length), dtype=np.float32)
    get = state.index.get
    rows = np.fromiter((get(tuple(key), -1) for key in keys), dtype=np.int64, count=len(keys))
    rows = expire(state, rows, cutoff_us(store.config.online_store, view))
    slots = state.vector_slots(vector.name)[rows[rows >= 0]]
    found: np.ndarray = state.vectors(vector.name)[1][slots[slots >= 0]]
    return found


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


_VECTOR_VIEWS: dict[tuple[int, str], tuple[FeatureStore, FeatureView, Field]] = {}


def _vector_state(
    store: FeatureStore, view_name: str
) -> tuple[FeatureView, Field, ViewState | None]:
    """The view, its vector-indexed field and its state as this process sees it."""
    view, vector = _vector_view(store, view_name)
    state = read_cache(store.config).view(table_name(store.config, view), key_columns(view))
    return view, vector, state


def vector_field(store: FeatureStore, view_name: str) -> Field:
    """The vector-indexed field of ``view_name`` (its width and declared metric)."""
    return _vector_view(store, view_name)[1]


def _vector_view(store: FeatureStore, view_name: str) -> tuple[FeatureView, Field]:
    """The view and its vector-indexed field, looked up in the registry once per store object
    (Feast rebuilds a FeatureView from its proto, type-checked, on every ``get_feature_view``:
    about a millisecond, more than the search itself; feature plans are cached the same way)."""
    key = (id(store), view_name)
    found = _VECTOR_VIEWS.get(key)
    if found is None or found[0] is not store:
        view = store.get_feature_view(view_name)
        vector = next((f for f in view.features if f.vector_index), None)
        if vector is None:
            raise LivecartError(f"feature view {view_name!r} has no vector-indexed field")
        found = _VECTOR_VIEWS[key] = (store, view, vector)
    return found[1], found[2]
