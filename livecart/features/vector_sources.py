"""Where an ANN index reads a vector view's keys and vectors: livecart's store or any Feast store.

:class:`StoreVectors` reads this process's read cache of livecart's store (every current row,
versioned by the view's committed files, so commits are followed). :class:`FeastVectors` reads
the vectors of a given key set through Feast's public ``get_online_features`` (any online store:
SQLite, Redis, ...), in chunks, versioned by the clock: Feast can neither list a store's rows nor
tell what changed, so the index is rebuilt from a fresh read every ``refresh_s`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from feast import FeatureStore

from livecart.core.errors import LivecartError
from livecart.features.ann import Key
from livecart.features.vector_index import Snapshot, VectorSource
from livecart.online import frames
from livecart.online.plan import ServicePlan, plan_service_for_view
from livecart.online.state import dense_rows

FEAST_CHUNK = 2000  # entity rows per get_online_features call

Frame = Callable[[ServicePlan, Mapping[str, Sequence[Any]]], pa.Table]


class StoreVectors(VectorSource):
    """Every current row of a vector view in livecart's store, as this process's cache holds it."""

    def __init__(self, store: FeatureStore, view: str) -> None:
        self.store, self.view = store, view
        field = frames.vector_field(store, view)
        self.dim, self.metric = field.vector_length, field.vector_search_metric

    def version(self) -> object:
        return frames.vector_version(self.store, self.view)

    def snapshot(self) -> Snapshot:
        return Snapshot(*frames.current_vectors(self.store, self.view))


class FeastVectors(VectorSource):
    """The vectors of ``keys`` in a view, read through ``get_online_features`` (``frame``)."""

    def __init__(
        self,
        store: FeatureStore,
        view: str,
        frame: Frame,
        keys: Sequence[Key],
        refresh_s: float,
    ) -> None:
        if refresh_s <= 0:
            raise LivecartError(f"vector index refresh interval must be positive: {refresh_s}")
        field = frames.vector_field(store, view)
        self.dim, self.metric = field.vector_length, field.vector_search_metric
        self.plan = plan_service_for_view(store, view)
        self.name, self.frame = field.name, frame
        self.keys = list(dict.fromkeys(tuple(k) for k in keys))
        self.refresh_s = refresh_s

    def version(self) -> object:
        return int(time.monotonic() / self.refresh_s)

    def snapshot(self) -> Snapshot:
        version = self.version()
        columns = self.plan.entity_columns
        keys: list[Key] = []
        parts: list[np.ndarray] = []
        for start in range(0, len(self.keys), FEAST_CHUNK):
            chunk = self.keys[start : start + FEAST_CHUNK]
            entities = {k: [key[i] for key in chunk] for i, k in enumerate(columns)}
            cells = self.frame(self.plan, entities).column(self.name).combine_chunks()
            found = _fits(cells, self.dim)
            keys += [key for key, ok in zip(chunk, found.tolist(), strict=True) if ok]
            parts.append(dense_rows(cells, self.dim)[found])
        vectors = np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)
        return Snapshot(version, keys, vectors)


def _fits(cells: pa.Array, dim: int) -> np.ndarray:
    """Which cells hold a vector of width ``dim`` (absent and expired rows are null)."""
    if len(cells) == 0:
        return np.zeros(0, dtype=bool)
    lengths = pc.fill_null(pc.list_value_length(cells), 0).to_numpy(zero_copy_only=False)
    valid = cells.is_valid().to_numpy(zero_copy_only=False)
    return np.asarray(valid & (lengths == dim), dtype=bool)
