"""Serving's one way to read online features, chosen once per feature store.

A Serve replica, the streamer assist and the evaluation ask a :class:`FeatureReader` for what they
need: a feature service's columns for many entity rows (what the ranker's inputs are built from),
one entity's row, an Arrow frame, the nearest rows of a vector view, and stored vectors.
:func:`reader_for` decides once, from the store's configuration, how: livecart's DuckDB store is
read from this process's read cache (:class:`CacheReader`, no protobuf, no Python objects per
value); Feast's Redis store through Feast's own reads of it, into the same columns
(:class:`RedisReader`); any other Feast online store through Feast's public
``get_online_features`` (:class:`FeastReader`). Nothing else in serving asks which store it runs on.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from feast import FeatureStore

from livecart.core.errors import LivecartError
from livecart.features.ann_params import HnswParams
from livecart.features.online_columns import columns_of, read_columns
from livecart.features.redis_memo import StateMemo
from livecart.features.redis_near import NearCache
from livecart.features.redis_rows import redis_view_rows
from livecart.features.vector_index import LiveIndex, VectorSource
from livecart.features.vector_sources import FeastVectors, StoreVectors
from livecart.model.build_inputs import FeatureColumns, FrameColumns
from livecart.online import frames
from livecart.online.access import read_cache
from livecart.online.lookup import ViewRows
from livecart.online.plan import ServicePlan, plan_service_for_view
from livecart.online.store import STORE_TYPE

Hit = tuple[tuple[Any, ...], float]  # (entity key, distance)
Row = dict[str, Any]
Keys = Sequence[tuple[Any, ...]] | None
REFRESH_S = 60.0  # how often an index over another store's vectors reads them again


class FeatureReader(ABC):
    """Reads of one Feast store's online features, as serving needs them."""

    #: Reads come from this process's memory (no I/O): callers may read on the event loop.
    in_memory: bool = False

    def __init__(self, store: FeatureStore) -> None:
        self.store = store
        self._indexes: dict[str, LiveIndex] = {}
        self._indexing = threading.Lock()

    @abstractmethod
    def frame(self, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]) -> pa.Table:
        """The service's features per entity row as Arrow (entities first; nulls where absent
        or expired), equal to ``get_online_features`` on the same references."""

    @abstractmethod
    def columns(self, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]) -> FeatureColumns:
        """The same rows as the ranker's inputs read them (:class:`FeatureColumns`)."""

    def rows(self, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]) -> list[Row]:
        """Each entity row's features as Python values (a batch's viewer contexts: one read)."""
        rows: list[Row] = self.frame(plan, entities).to_pylist()
        return rows

    def nearest(self, view: str, query: Sequence[float], top_k: int) -> list[Hit]:
        """The ``top_k`` rows of vector view ``view`` nearest to ``query`` (entity key,
        distance), nearest first, from an ANN index over the vectors this store serves
        (:mod:`livecart.features.vector_index`; built on first use unless
        :meth:`index_vectors` built it before)."""
        return self.index_vectors(view).search(query, top_k)

    def index_vectors(
        self,
        view: str,
        keys: Keys = None,
        refresh_s: float = REFRESH_S,
        params: HnswParams | None = None,
    ) -> LiveIndex:
        """The ANN index of ``view``'s vector field, built now if it is not yet (a replica
        calls this at start). ``keys`` (in the view's join-key order): the entity keys to index
        on a store that cannot list its rows (any but livecart's, which indexes every current
        row and follows its commits); such an index reads them again every ``refresh_s``."""
        with self._indexing:
            index = self._indexes.get(view)
            if index is None:
                index = LiveIndex(self._vector_source(view, keys, refresh_s), params)
                self._indexes[view] = index
        index.ensure()
        return index

    def _vector_source(self, view: str, keys: Keys, refresh_s: float) -> VectorSource:
        if keys is None:
            raise LivecartError(
                f"vector view {view!r}: {self.store.config.online_store.type!r} online stores "
                "cannot list their rows through Feast; give the keys to index "
                "(FeatureReader.index_vectors(view, keys))"
            )
        return FeastVectors(self.store, view, self.frame, keys, refresh_s)

    def vectors(self, view: str, keys: Sequence[tuple[Any, ...]]) -> np.ndarray:
        """The vectors of ``keys`` in ``view``'s vector field, in order, leaving out keys that
        are absent, expired or without one: float32 rows."""
        plan = plan_service_for_view(self.store, view)
        (name,) = {n for r in plan.views for n in r.features if _is_vector(r.view, n)}
        key_names = list(plan.entity_columns)
        entities = {k: [key[i] for key in keys] for i, k in enumerate(key_names)}
        values = [v for v in self.frame(plan, entities).column(name).to_pylist() if v]
        width = next((len(v) for v in values), 0)
        return np.array(values, dtype=np.float32).reshape(len(values), width)

    def follow(self, interval_s: float, timeout_s: float) -> None:  # noqa: B027
        """Keep this process's view of the store current in the background (where it keeps
        one); nothing to do for a store read per request."""


class CacheReader(FeatureReader):
    """livecart's DuckDB online store, read from this process's read cache."""

    in_memory = True

    def frame(self, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]) -> pa.Table:
        return frames.read_frame(self.store, plan, entities)

    def columns(self, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]) -> FeatureColumns:
        return read_columns(self.store, plan, entities)

    def exact_nearest(self, view: str, query: Sequence[float], top_k: int) -> list[Hit]:
        """The exact ranking :meth:`nearest` approximates (a scan of every current row): the
        reference for recall."""
        return frames.nearest(self.store, view, query, top_k)

    def _vector_source(self, view: str, keys: Keys, refresh_s: float) -> VectorSource:
        return StoreVectors(self.store, view)  # every current row; follows commits

    def vectors(self, view: str, keys: Sequence[tuple[Any, ...]]) -> np.ndarray:
        return frames.stored_vectors(self.store, view, keys)

    def follow(self, interval_s: float, timeout_s: float) -> None:
        read_cache(self.store.config).follow(interval_s, timeout_s)


class FeastReader(FeatureReader):
    """Any other Feast online store (Redis, SQLite, ...), through ``get_online_features``."""

    def frame(self, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]) -> pa.Table:
        refs = [f"{r.view.name}:{n}" for r in plan.views for n in r.features]
        refs += [f"{odfv.name}:{n}" for odfv, feats in plan.on_demand for n in feats]
        keys = list(plan.entity_columns)
        rows = [
            dict(zip(keys, values, strict=True))
            for values in zip(*(entities[k] for k in keys), strict=True)
        ]
        if not rows:
            return pa.table({k: pa.array([], pa.string()) for k in keys})
        table: pa.Table = self.store.get_online_features(features=refs, entity_rows=rows).to_arrow()
        return table

    def columns(self, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]) -> FeatureColumns:
        return frame_columns(self, plan, entities)


class RedisReader(FeastReader):
    """Feast's Redis store: frames, rows and the ranker's columns from Feast's own Redis keys
    and fields, one round trip a read (:mod:`livecart.features.redis_rows`); ``scripted=False``
    reads key by key in a pipeline, as Feast does (:mod:`livecart.features.redis_fetch`);
    ``memo`` spares decoding an answer seen before (:mod:`livecart.features.redis_memo`;
    :func:`reader_for` gives serving one)."""

    def __init__(
        self,
        store: FeatureStore,
        scripted: bool = True,
        near: NearCache | None = None,
        memo: StateMemo | None = None,
    ) -> None:
        super().__init__(store)
        self.scripted = scripted
        self.near = near
        self.memo = memo
        from feast.infra.online_stores.redis import RedisOnlineStore  # needs the redis extra

        self._online = RedisOnlineStore()  # Feast's; keeps its Redis client (thread-safe)
        self._first = threading.Lock()  # Feast creates that client on the first read, unguarded
        self._connected = False

    def _rows(
        self, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]
    ) -> tuple[int, list[ViewRows]]:
        if not self._connected:
            with self._first:
                found = redis_view_rows(
                    self.store, self._online, plan, entities, self.scripted, self.near, self.memo
                )
                self._connected = True
                return found
        return redis_view_rows(
            self.store, self._online, plan, entities, self.scripted, self.near, self.memo
        )

    def frame(self, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]) -> pa.Table:
        n, views = self._rows(plan, entities)
        return frames.frame_of(plan, n, views, entities)

    def columns(self, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]) -> FeatureColumns:
        n, views = self._rows(plan, entities)
        return columns_of(plan, n, views, entities)


def reader_for(store: FeatureStore, near_cache_s: float = 0.0) -> FeatureReader:
    """The reader for ``store``'s online store: the one place that asks which store it is.
    ``near_cache_s``: on Redis, how long rows of views not keyed by the viewer are kept
    (:mod:`livecart.features.redis_near`; 0: never)."""
    kind = store.config.online_store.type
    if kind == STORE_TYPE:
        return CacheReader(store)
    if kind == "redis":
        near = NearCache(near_cache_s) if near_cache_s > 0 else None
        return RedisReader(store, near=near, memo=StateMemo())
    return FeastReader(store)


def frame_columns(
    reader: FeatureReader, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]
) -> FeatureColumns:
    """The ranker's columns through an Arrow frame and a pandas frame: what any store but
    livecart's takes, and the baseline of ``livecart bench pipeline``."""
    return FrameColumns(frames.to_pandas(reader.frame(plan, entities)))


def _is_vector(view: Any, name: str) -> bool:
    return any(f.name == name and f.vector_index for f in view.features)
