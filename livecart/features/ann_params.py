"""The ANN index's knobs, apart from the index so the command line can show their defaults
without importing faiss or numpy."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HnswParams:
    """HNSW's knobs, tuned with ``livecart bench ann`` (recall@100 >= 0.95 at 100,000 products
    with query p99 <= 5 ms on 2 cores; README, "Retrieval")."""

    m: int = 16  # graph degree: memory and build time grow with it, recall too
    ef_construction: int = 64  # candidate list while inserting: build time vs graph quality
    ef_search: int = 128  # candidate list while searching (at least top_k): latency vs recall
    # OpenMP threads for inserts. One by default: a replica has one CPU, and on a busy 2-core
    # machine two threads spin against each other and other processes (3-4x slower, measured).
    threads: int = 1
