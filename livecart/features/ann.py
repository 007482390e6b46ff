"""An approximate nearest-neighbour index over one vector feature, on faiss's HNSW.

Vector retrieval used to scan every product's vector per query (numpy over the online state's
matrix): linear in the catalogue, and only on livecart's own store. :class:`AnnIndex` keeps an
HNSW graph (``faiss.IndexHNSWFlat``) keyed by entity key, fed from whichever online store serves
the vectors (:mod:`livecart.features.vector_index` keeps it current).

Why faiss-cpu: a binary wheel (no compiler at install, unlike hnswlib's source-only release) that
our package mirror carries; the reference HNSW implementation; and, measured on the same 100,000
clustered 384-wide vectors on 2 cores, half the query time and two thirds of the build time of
usearch at the same recall (0.42 vs 0.79 ms p50, 25 vs 42 s). What faiss's HNSW lacks is removal:
an update here adds the new vector under a fresh id and marks the old id dead; searches skip dead
ids with an ``IDSelectorBitmap`` (dead nodes still route the graph walk, as in hnswlib's
``mark_deleted``), and the graph is rebuilt from the live vectors once dead ids pass
:data:`DEAD_SHARE` of all ids.

Distances are those of the exact search (:func:`livecart.online.vector.distances`): cosine is
``1 - cos`` (vectors and queries normalised, inner product in the graph), inner product is
``-dot`` and L2 the Euclidean distance. Zero vectors have no cosine and are left out, as the exact
search leaves them out. Not thread-safe: :class:`livecart.features.vector_index.LiveIndex` guards
it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from livecart.core.errors import LivecartError
from livecart.features.ann_params import HnswParams

Key = tuple[Any, ...]
Hit = tuple[Key, float]  # (entity key, distance)

DEAD_SHARE = 0.25
"""Rebuild the graph once dead (replaced or removed) ids pass this share of all ids."""

METRICS = ("cosine", "inner_product", "dot", "l2")


_CHUNK = 8192  # rows compared at a time by ``diff`` (bounded temporary memory)


@dataclass(frozen=True)
class Changes:
    """Upserts (keys and their vectors) and removals that bring an index up to date."""

    keys: list[Key]
    vectors: np.ndarray
    removed: list[Key]

    def __len__(self) -> int:
        return len(self.keys) + len(self.removed)


class AnnIndex:
    """HNSW over the vectors of a set of entity keys, with upserts and removals."""

    def __init__(self, dim: int, metric: str | None = "cosine", params: HnswParams | None = None):
        kind = (metric or "cosine").lower()
        if kind not in METRICS:
            raise LivecartError(f"unknown vector search metric {metric!r}; use one of {METRICS}")
        if dim <= 0:
            raise LivecartError(f"vector width must be positive, got {dim}")
        self.dim, self.metric, self.params = dim, kind, params or HnswParams()
        space = faiss.METRIC_L2 if kind == "l2" else faiss.METRIC_INNER_PRODUCT
        self._index = faiss.IndexHNSWFlat(dim, self.params.m, space)
        self._index.hnsw.efConstruction = self.params.ef_construction
        self._index.hnsw.efSearch = self.params.ef_search
        self._keys: list[Key] = []  # per id
        self._slot: dict[Key, int] = {}  # key -> its live id
        self._live = np.zeros(0, dtype=bool)  # per id
        self._selector: tuple[Any, np.ndarray] | None = None  # (IDSelectorBitmap, its bits)

    def __len__(self) -> int:
        return len(self._slot)

    @property
    def dead(self) -> int:
        """Ids whose vector was replaced or removed (still in the graph)."""
        return len(self._keys) - len(self._slot)

    def prepare(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(float32 rows as the graph stores them, which rows can be indexed): normalised for
        cosine, where zero rows cannot be."""
        rows: np.ndarray = np.ascontiguousarray(vectors, dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.dim:
            raise LivecartError(f"vectors of shape {rows.shape}; the index is {self.dim} wide")
        ok: np.ndarray = np.isfinite(rows).all(axis=1)
        if self.metric == "cosine":
            norms = np.linalg.norm(rows, axis=1)
            ok &= norms > 0
            rows = (rows / np.where(ok, norms, 1.0)[:, None]).astype(np.float32)
        return rows, ok

    def upsert(self, keys: Sequence[Key], vectors: np.ndarray) -> None:
        """Index ``vectors`` under ``keys`` (one row each), replacing a key's previous vector.
        A row that cannot be indexed (zero for cosine, not finite) removes its key."""
        if len(keys) != len(vectors):
            raise LivecartError(f"{len(keys)} keys for {len(vectors)} vectors")
        rows, ok = self.prepare(vectors)
        self.remove(keys)
        fresh = [tuple(k) for k, good in zip(keys, ok, strict=True) if good]
        if not fresh:
            return
        # The last row of a repeated key wins.
        last = {key: i for i, key in enumerate(fresh)}
        rows = rows[ok][list(last.values())]
        start = len(self._keys)
        self._add(rows)
        self._keys.extend(last)
        self._slot.update(zip(last, range(start, start + len(last)), strict=True))
        self._live = np.concatenate([self._live, np.ones(len(last), dtype=bool)])
        self._selector = None

    def remove(self, keys: Sequence[Key]) -> None:
        """Forget ``keys`` (absent ones are ignored); rebuilds once dead ids pile up."""
        dead = [self._slot.pop(tuple(k)) for k in keys if tuple(k) in self._slot]
        if not dead:
            return
        self._live[dead] = False
        self._selector = None
        if self.dead > DEAD_SHARE * max(len(self._keys), 1):
            self._rebuild()

    def stored(self, keys: Sequence[Key]) -> tuple[np.ndarray, np.ndarray]:
        """(whether each key is held, the held ones' vectors as stored: normalised for
        cosine)."""
        slots = np.fromiter(
            (self._slot.get(tuple(k), -1) for k in keys), dtype=np.int64, count=len(keys)
        )
        held = slots >= 0
        return held, self._vectors(slots[held])

    def diff(self, keys: Sequence[Key], vectors: np.ndarray) -> Changes:
        """The upserts and removals after which the index holds exactly ``keys`` -> ``vectors``
        (unchanged vectors are left alone; compared as stored, in chunks)."""
        keys = [tuple(k) for k in keys]
        if len(keys) != len(vectors):
            raise LivecartError(f"{len(keys)} keys for {len(vectors)} vectors")
        changed = np.ones(len(keys), dtype=bool)
        for start in range(0, len(keys), _CHUNK):
            part = slice(start, start + _CHUNK)
            rows, ok = self.prepare(vectors[part])
            held, stored = self.stored(keys[part])
            same = ok[held] & (stored == rows[held]).all(axis=1)
            changed[part][np.flatnonzero(held)[same]] = False
        present = set(keys)
        gone = [key for key in self._slot if key not in present]
        picked = np.flatnonzero(changed)
        return Changes([keys[i] for i in picked.tolist()], vectors[picked], gone)

    def apply(self, changes: Changes) -> None:
        """Make ``changes`` (from :meth:`diff`)."""
        self.remove(changes.removed)
        self.upsert(changes.keys, changes.vectors)

    def search(self, query: Sequence[float] | np.ndarray, top_k: int) -> list[Hit]:
        """(key, distance) of the ``top_k`` nearest held vectors, nearest first."""
        q = np.asarray(query, dtype=np.float32).reshape(1, -1)
        if q.shape[1] != self.dim:
            raise LivecartError(f"query has {q.shape[1]} dimensions, the index {self.dim}")
        if top_k <= 0 or not self._slot:
            return []
        rows, ok = self.prepare(q)
        if not ok[0]:
            return []  # a zero query has no cosine with anything
        k = min(top_k, len(self._slot))
        if self.dead:
            found, ids = self._index.search(rows, k, params=self._search_params())
        else:
            found, ids = self._index.search(rows, k)
        pairs = zip(ids[0].tolist(), found[0].tolist(), strict=True)
        hits = [(self._keys[i], d) for i, d in pairs if i >= 0]
        if self.metric == "cosine":
            return [(key, 1.0 - d) for key, d in hits]
        if self.metric == "l2":
            return [(key, float(np.sqrt(max(d, 0.0)))) for key, d in hits]
        return [(key, -d) for key, d in hits]

    def _search_params(self) -> Any:
        if self._selector is None:
            bits = np.packbits(self._live, bitorder="little")
            self._selector = (faiss.IDSelectorBitmap(len(self._live), faiss.swig_ptr(bits)), bits)
        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # not in the stubs
        params.efSearch = self.params.ef_search
        params.sel = self._selector[0]
        return params

    def _add(self, rows: np.ndarray) -> None:
        faiss.omp_set_num_threads(self.params.threads)  # this thread's OpenMP setting
        self._index.add(rows)

    def _vectors(self, ids: np.ndarray) -> np.ndarray:
        """Stored vectors of ``ids`` (copied out of the graph's flat storage)."""
        if len(ids) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._index.reconstruct_batch(ids.astype(np.int64)), dtype=np.float32)

    def _rebuild(self) -> None:
        keys = list(self._slot)
        vectors = self._vectors(np.fromiter(self._slot.values(), dtype=np.int64, count=len(keys)))
        fresh = AnnIndex(self.dim, self.metric, self.params)
        fresh._add_prepared(keys, vectors)
        self.__dict__.update(fresh.__dict__)

    def _add_prepared(self, keys: list[Key], rows: np.ndarray) -> None:
        if keys:
            self._add(np.ascontiguousarray(rows, dtype=np.float32))
        self._keys = list(keys)
        self._slot = {key: i for i, key in enumerate(keys)}
        self._live = np.ones(len(keys), dtype=bool)
        self._selector = None


def build(
    keys: Sequence[Key],
    vectors: np.ndarray,
    dim: int,
    metric: str | None = "cosine",
    params: HnswParams | None = None,
) -> AnnIndex:
    """A fresh index of ``vectors`` under ``keys`` (the last row of a repeated key wins)."""
    index = AnnIndex(dim, metric, params)
    index.upsert(keys, vectors)
    return index
