"""A feature service's online columns as numpy arrays: what the ranker's inputs are built from.

:func:`read_frame` answers a request as an Arrow table and :func:`to_pandas` as a frame; for 500
candidate rows that costs more than scoring them (one column per feature, the viewer's columns
repeated 500 times, a pandas frame, then matrices again). :class:`OnlineColumns` reads the same
rows of the same views (:func:`view_rows`: registry-resolved plan, TTLs, one key lookup per
distinct key) and hands out each column as the matrix the model wants, computing per distinct
key and broadcasting: the viewer's history and category shares once per request, not per
candidate. On-demand views run Feast's own transformation on their source columns.
``tests/integration/serving/test_feature_columns.py`` checks that the ranker's inputs from these
columns equal the ones from :func:`read_frame`, value for value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from feast import FeatureStore
from feast.transformation.mode import TransformationMode

from livecart.core import feature_names as f
from livecart.features import derived
from livecart.model.input_arrays import TableRows
from livecart.online.codec import arrow_type
from livecart.online.keys import CodedKeys, KeyUniverse
from livecart.online.lookup import ViewRows, view_rows
from livecart.online.plan import ServicePlan
from livecart.online.state import ViewState

PAD, UNKNOWN = f.TOKEN_PAD, f.TOKEN_UNKNOWN


class OnlineColumns:
    """The columns of ``plan`` for ``n`` entity rows, read from this process's store cache."""

    def __init__(
        self, n: int, views: list[ViewRows], entities: Mapping[str, Sequence[Any]]
    ) -> None:
        self.n = n
        self.entities = entities
        self._where = {name: found for found in views for name in found.read.features}
        self.computed: dict[str, np.ndarray] = {}
        self._blocks: dict[int, tuple[dict[str, int], np.ndarray]] = {}

    def __len__(self) -> int:
        return self.n

    def __contains__(self, name: str) -> bool:
        return name in self._where or name in self.computed or name in self.entities

    def numbers(self, name: str) -> np.ndarray | None:
        if name in self.computed:
            return _as_float(self.computed[name])
        found = self._where.get(name)
        if found is None:
            return None
        state = found.state
        if state is None or state.table is None:
            return np.full(self.n, np.nan)
        names, block = self._numeric_block(found, state)
        j = names.get(name)
        if j is None:  # not a numeric column
            return np.full(self.n, np.nan)
        out: np.ndarray = block[:, j]
        return out

    def number_matrix(self, names: Sequence[str]) -> np.ndarray:
        """:meth:`numbers` of ``names`` side by side, one copy per view."""
        out = np.full((self.n, len(names)), np.nan)
        by_view: dict[int, tuple[ViewRows, list[int], list[str]]] = {}
        for j, name in enumerate(names):
            if name in self.computed:
                out[:, j] = _as_float(self.computed[name])
                continue
            found = self._where.get(name)
            if found is not None:
                group = by_view.setdefault(id(found), (found, [], []))
                group[1].append(j)
                group[2].append(name)
        for found, targets, wanted in by_view.values():
            state = found.state
            if state is None or state.table is None:
                continue
            columns, block = self._numeric_block(found, state)
            pairs = [(j, columns[n]) for j, n in zip(targets, wanted, strict=True) if n in columns]
            if pairs:
                into, source = zip(*pairs, strict=True)
                out[:, list(into)] = block[:, list(source)]
        return out

    def _numeric_block(
        self, found: ViewRows, state: ViewState
    ) -> tuple[dict[str, int], np.ndarray]:
        """All numeric features of one view for the ``n`` rows, ``(n, k)`` float64 (per request)."""
        key = id(found)
        block = self._blocks.get(key)
        if block is None:
            assert state.table is not None
            names = state.numeric_columns(found.read.features)
            unique = found.unique
            present = unique >= 0
            per_key = np.full((len(unique), len(names)), np.nan)
            per_key[present] = state.matrix(tuple(names))[unique[present]]
            rows = (
                per_key
                if found.identity
                else np.broadcast_to(per_key, (self.n, len(names)))
                if len(unique) == 1
                else per_key[found.inverse]
            )
            block = self._blocks[key] = ({n: j for j, n in enumerate(names)}, rows)
        return block

    def arrow(self, name: str) -> pa.Array:
        """One feature column for the ``n`` rows as Arrow (nulls where absent or expired)."""
        found = self._where[name]
        state = found.state
        if state is None or state.table is None:
            field = next(x for x in found.read.view.features if x.name == name)
            return pa.nulls(self.n, type=arrow_type(field))
        rows = found.rows
        return state.column(name).take(pa.array(rows, type=pa.int64(), mask=rows < 0))

    def array(self, name: str) -> np.ndarray:
        """Arrow's numpy conversion of one feature column (nulls as NaN); float64 columns come
        from the view's numeric block, without an Arrow take."""
        state = self._where[name].state
        table = state.table if state is not None else None
        if table is not None and table.schema.field(name).type == pa.float64():
            values = self.numbers(name)
            assert values is not None
            return np.array(values)  # a copy: the block may be a broadcast view
        out: np.ndarray = self.arrow(name).to_numpy(zero_copy_only=False)
        return out

    def _per_key(self, name: str, convert: Callable[[Any], Any]) -> tuple[list[Any], np.ndarray]:
        """``convert`` of each distinct key's value (None where absent) and each row's key."""
        found = self._where.get(name)
        if found is None:
            if name in self.entities:
                values = list(self.entities[name])
                return [convert(v) for v in values], np.arange(self.n)
            return [convert(None)], np.zeros(self.n, dtype=np.int64)
        state, unique = found.state, found.unique
        if state is None or state.table is None:
            return [convert(None)] * max(len(unique), 1), np.zeros(self.n, dtype=np.int64)
        indices = pa.array(unique, type=pa.int64(), mask=unique < 0)
        return [convert(v) for v in state.column(name).take(indices).to_pylist()], found.inverse

    def codes(self, name: str, labels: Sequence[str]) -> np.ndarray:
        found = self._where.get(name)
        if found is None or found.state is None or found.state.table is None:
            index = {label: i for i, label in enumerate(labels)}
            per_key, inverse = self._per_key(
                name, lambda v: index.get(v, -1) if isinstance(v, str) else -1
            )
            out: np.ndarray = np.asarray(per_key, dtype=np.int64)[inverse]
            return out
        return self._take_rows(found, derived.codes(found.state, name, tuple(labels)), -1)

    def vectors(self, name: str, dim: int) -> np.ndarray:
        return self.vector_rows(name, dim).dense()

    def vector_rows(self, name: str, dim: int) -> TableRows:
        """The view state's matrix itself and each entity row's position in it (no copy)."""
        found = self._where.get(name)
        if found is None or found.state is None or found.state.table is None:
            return TableRows(np.zeros((0, dim), dtype=np.float32), np.full(self.n, -1))
        return TableRows(found.state.dense(name, dim), found.rows)

    def _take_rows(self, found: ViewRows, per_row: np.ndarray, missing: Any) -> np.ndarray:
        """``per_row`` (one entry per stored row) for the ``n`` entity rows, ``missing`` where a
        key is absent or expired."""
        unique = found.unique
        present = unique >= 0
        per_key = np.full((len(unique), *per_row.shape[1:]), missing, dtype=per_row.dtype)
        per_key[present] = per_row[unique[present]]
        if found.identity:
            return per_key
        out: np.ndarray = per_key[found.inverse]
        return out

    def memberships(self, name: str, labels: Sequence[str]) -> np.ndarray:
        found = self._where.get(name)
        if found is not None and found.state is not None and found.state.table is not None:
            per_row = derived.memberships(found.state, name, tuple(labels))
            return self._take_rows(found, per_row, 0.0)
        index = {label: i for i, label in enumerate(labels)}

        def hot(items: Any) -> np.ndarray:
            row = np.zeros(len(labels), dtype=np.float32)
            for item in items or []:
                k = index.get(item) if isinstance(item, str) else None
                if k is not None:
                    row[k] = 1.0
            return row

        per_key, inverse = self._per_key(name, hot)
        out: np.ndarray = np.stack(per_key)[inverse]
        return out

    def token_rows(self, name: str, ids: Mapping[str, int], width: int) -> np.ndarray:
        def row(items: Any) -> np.ndarray:
            tokens = np.full(width, PAD, dtype=np.int64)
            recent = list(items or [])[-width:]
            tokens[: len(recent)] = [ids.get(str(p), UNKNOWN) for p in recent]
            return tokens

        per_key, inverse = self._per_key(name, row)
        out: np.ndarray = np.stack(per_key)[inverse]
        return out

    def token_ids(self, name: str, ids: Mapping[str, int]) -> np.ndarray:
        keys = self.entities.get(name)
        if name not in self._where and isinstance(keys, CodedKeys):
            return _universe_tokens(keys.universe, ids)[keys.codes]
        per_key, inverse = self._per_key(name, lambda v: ids.get(str(v), UNKNOWN))
        out: np.ndarray = np.asarray(per_key, dtype=np.int64)[inverse]
        return out


def read_columns(
    store: FeatureStore, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]
) -> OnlineColumns:
    """The service's columns for each entity row (this online store only; see :func:`read_frame`
    for any store). On-demand features are computed here, by Feast's transformation."""
    n, views = view_rows(store, plan, entities)
    return columns_of(plan, n, views, entities)


def columns_of(
    plan: ServicePlan, n: int, views: list[ViewRows], entities: Mapping[str, Sequence[Any]]
) -> OnlineColumns:
    """The service's columns from rows found per view (on livecart's store: :func:`view_rows`;
    on Redis: :func:`livecart.features.redis_rows.redis_view_rows`), on-demand features
    computed by Feast's transformation."""
    columns = OnlineColumns(n, views, entities)
    for odfv, features in plan.on_demand:
        sources = [
            (projection.name, feature.name)
            for projection in odfv.source_feature_view_projections.values()
            for feature in projection.features
            if feature.name in columns
        ]
        transformation = odfv.feature_transformation
        python_columns = odfv.mode == TransformationMode.PYTHON.value and not odfv.singleton
        if transformation is not None and python_columns:
            # What Feast's python mode hands the UDF: a dict of columns by short and
            # view-qualified name; here numpy arrays (nulls as NaN) instead of lists. A
            # singleton UDF takes one row's values: Feast's own path below.
            arrays = {name: columns.array(name) for _, name in sources}
            qualified = {f"{view}__{name}": arrays[name] for view, name in sources}
            result = transformation.udf({**arrays, **qualified})
            for name in features:
                columns.computed[name] = np.asarray(result[name])
        else:
            inputs = {name: columns.arrow(name) for _, name in sources}
            table = odfv.transform_arrow(pa.table(inputs), full_feature_names=False)
            for name in features:
                columns.computed[name] = table.column(name).to_numpy()
    return columns


_TOKENS_BY_UNIVERSE: dict[tuple[int, int], tuple[Mapping[str, int], np.ndarray]] = {}


def _universe_tokens(universe: KeyUniverse, ids: Mapping[str, int]) -> np.ndarray:
    """Token id of each key of ``universe`` in vocabulary ``ids``, and UNKNOWN last (for code
    -1); kept per universe and vocabulary: a ranker's vocabulary lives as long as the ranker."""
    key = (universe.token, id(ids))
    cached = _TOKENS_BY_UNIVERSE.get(key)
    if cached is None or cached[0] is not ids:
        if len(_TOKENS_BY_UNIVERSE) > 16:
            _TOKENS_BY_UNIVERSE.clear()
        tokens = np.array(
            [*(ids.get(str(v), UNKNOWN) for v in universe.values), UNKNOWN], dtype=np.int64
        )
        cached = _TOKENS_BY_UNIVERSE[key] = (ids, tokens)
    return cached[1]


def _as_float(values: np.ndarray) -> np.ndarray:
    if values.dtype == object:
        values = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy()
    out: np.ndarray = values.astype(np.float64)
    return out
