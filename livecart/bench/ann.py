"""`livecart bench ann`: the ANN index against exact search, at catalogue sizes serving may reach.

Synthetic but clustered vectors, like sentence embeddings of product titles: ``products / 100``
topic centres drawn from a standard normal, each product its centre plus as much noise again
(``spread`` 1.0: two products of one topic have a cosine of about 0.5, two of different topics
about 0), normalised, ``settings.embedding_dim`` wide (384, the encoder's). Queries are fresh
points of the same topics (a viewer's interest), one at a time, top 100, as retrieval asks;
the first :data:`WARM_UP` are also asked once untimed.

Reported in one run: the index's build time, query p50/p99, recall@100 against exact search, and
exact search (numpy over the float32 matrix: the scan vector retrieval did per request,
:func:`livecart.online.vector.distances`) with its own p50/p99; ratios are ANN / exact.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from livecart.core.settings import LivecartSettings
from livecart.features.ann import AnnIndex, build
from livecart.features.ann_params import HnswParams
from livecart.online.vector import distances

TOP_K = 100
WARM_UP = 20  # untimed queries first (page faults, caches), as in a replica that serves


def clustered(
    products: int, dim: int, seed: int = 0, spread: float = 1.0, queries: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(``products`` x ``dim`` vectors, ``queries`` x ``dim`` queries), normalised float32."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(1, products // 100), dim), dtype=np.float32)

    def points(n: int) -> np.ndarray:
        rows = centres[rng.integers(0, len(centres), n)]
        rows += spread * rng.standard_normal((n, dim), dtype=np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        return rows

    return points(products), points(queries)


def exact_top(matrix: np.ndarray, norms: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """Row numbers of the ``k`` nearest rows by cosine distance, nearest first."""
    distance = distances(matrix, norms, query, "cosine")
    part = np.argpartition(distance, k - 1)[:k]
    top: np.ndarray = part[np.argsort(distance[part], kind="stable")]
    return top


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
    }


def run(
    settings: LivecartSettings,
    products: int,
    queries: int = 1000,
    params: HnswParams | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Build, query and score the index against exact search on ``products`` vectors."""
    params = params or HnswParams()
    dim = settings.embedding_dim
    top_k = min(TOP_K, products)
    matrix, asked = clustered(products, dim, seed, queries=queries)
    keys = [(i,) for i in range(products)]

    began = time.perf_counter()
    index = build(keys, matrix, dim, "cosine", params)
    build_s = time.perf_counter() - began

    for query in asked[:WARM_UP]:  # a replica's index is warm: first touches are not timed
        index.search(query, top_k)
    # Each method's queries timed on their own: numpy's BLAS threads spin on after a matrix
    # product and would slow the index's next query if the two alternated.
    ann_s, found = [], []
    for query in asked:
        began = time.perf_counter()
        hits = index.search(query, top_k)
        ann_s.append(time.perf_counter() - began)
        found.append({key[0] for key, _ in hits})
    norms = np.linalg.norm(matrix, axis=1)
    exact_s, recalls = [], []
    for query, ann_found in zip(asked, found, strict=True):
        began = time.perf_counter()
        truth = exact_top(matrix, norms, query, top_k)
        exact_s.append(time.perf_counter() - began)
        recalls.append(len(ann_found.intersection(truth.tolist())) / top_k)

    ann, exact = _percentiles(ann_s), _percentiles(exact_s)
    return {
        "products": products,
        "dim": dim,
        "queries": queries,
        "top_k": top_k,
        "library": "faiss IndexHNSWFlat (inner product on normalised vectors)",
        "params": {
            "m": params.m,
            "ef_construction": params.ef_construction,
            "ef_search": params.ef_search,
            "build_threads": params.threads,
        },
        "ann": {
            "build_s": round(build_s, 2),
            **ann,
            f"recall_at_{top_k}": round(float(np.mean(recalls)), 4),
            f"min_recall_at_{top_k}": round(float(np.min(recalls)), 4),
        },
        "exact": {"method": "numpy cosine over the float32 matrix", **exact},
        "ratio_p50_ann_over_exact": round(ann["p50_ms"] / exact["p50_ms"], 4),
        "ratio_p99_ann_over_exact": round(ann["p99_ms"] / exact["p99_ms"], 4),
        "refresh": _refresh(index, keys, matrix),
    }


def _refresh(index: AnnIndex, keys: list[tuple[int]], matrix: np.ndarray) -> dict[str, float]:
    """What following a commit costs: comparing every served vector with the index (nothing
    changed), then replacing 100 products' vectors in place."""
    began = time.perf_counter()
    unchanged = len(index.diff(keys, matrix))
    diff_s = time.perf_counter() - began
    rng = np.random.default_rng(1)
    picked = rng.choice(len(matrix), size=min(100, len(matrix)), replace=False)
    began = time.perf_counter()
    index.upsert([keys[i] for i in picked.tolist()], matrix[picked][::-1].copy())
    return {
        "diff_all_ms": round(diff_s * 1000, 1),
        "diff_found": unchanged,
        "replaced": len(picked),
        "upsert_ms": round((time.perf_counter() - began) * 1000, 2),
    }
