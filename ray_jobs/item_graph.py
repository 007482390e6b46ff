"""Item vectors smoothed over the product co-interaction graph (a light LightGCN propagation).

Two products are linked when the same viewer clicked, carted or bought both; the edge weight is
the co-interaction count (``B^T B`` of the viewer x product weight matrix, no self loops). Each
product starts from its text embedding reduced to ``GRAPH_DIM`` dimensions (PCA over the catalogue
texts, known at listing time) and is propagated with LightGCN's symmetric normalisation
``D^-1/2 A D^-1/2`` for ``GRAPH_LAYERS`` hops; the vector is the mean over the layers, L2-normalised.
A product without neighbours keeps its own (reduced) text vector.

Point in time: one snapshot per day, stamped at midnight and built from the events strictly
before it, like the daily profiles, so Feast's point-in-time join never sees a later edge.
``livecart embed`` writes the table after the text embeddings (``product_graph`` feature view).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.io import table_path, write_parquet_atomic
from livecart.core.settings import LivecartSettings

# Interactions that link products, with their weight (a purchase says more than a click).
EDGE_WEIGHTS: dict[str, float] = {"click": 1.0, "add_to_cart": 1.0, "purchase": 2.0}

SCHEMA = pa.schema(
    [
        (c.PRODUCT_ID, pa.string()),
        (c.EVENT_TIMESTAMP, c.UTC_TIMESTAMP),
        (c.CREATED_TIMESTAMP, c.UTC_TIMESTAMP),
        (f.GRAPH_VECTOR, pa.list_(pa.float32())),
        (f.GRAPH_DEGREE, pa.int64()),
    ]
)


def graph_path(settings: LivecartSettings) -> Path:
    return settings.feature_table_path(f.FeatureTable.PRODUCT_GRAPH)


def ensure_graph_table(settings: LivecartSettings) -> None:
    """An empty table until ``livecart embed`` runs, so Feast can register the view."""
    if not graph_path(settings).exists():
        write_parquet_atomic(SCHEMA.empty_table(), graph_path(settings))


def co_interaction(
    viewers: np.ndarray, products: np.ndarray, weights: np.ndarray, n_viewers: int, n_products: int
) -> sp.csr_matrix:
    """Product x product co-interaction weights ``B^T B`` without the diagonal."""
    b = sp.csr_matrix((weights, (viewers, products)), shape=(n_viewers, n_products))
    a = (b.T @ b).tocsr()
    a.setdiag(0.0)
    a.eliminate_zeros()
    return a


def propagate(
    adjacency: sp.csr_matrix, features: np.ndarray, layers: int = f.GRAPH_LAYERS
) -> np.ndarray:
    """LightGCN: mean of ``features`` propagated 0..``layers`` hops, rows L2-normalised."""
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    inv_sqrt = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-12)), 0.0)
    norm = sp.diags(inv_sqrt) @ adjacency @ sp.diags(inv_sqrt)
    layer = features.astype(np.float64)
    total = layer.copy()
    for _ in range(layers):
        layer = norm @ layer
        total += layer
    out = total / (layers + 1)
    length = np.linalg.norm(out, axis=1, keepdims=True)
    result: np.ndarray = np.where(length > 0, out / np.maximum(length, 1e-12), 0.0)
    return result.astype(np.float32)


def reduce(vectors: np.ndarray, dim: int = f.GRAPH_DIM) -> np.ndarray:
    """PCA of ``vectors`` to ``dim`` components (zero-padded when there are fewer)."""
    out = np.zeros((len(vectors), dim), dtype=np.float32)
    if len(vectors) == 0:
        return out
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(dim, vt.shape[0])
    out[:, :k] = centred @ vt[:k].T
    return out


def _interactions(
    settings: LivecartSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(viewer id, product id, weight, timestamp in µs) of the linking events."""
    events = table_path(settings.clean_dir, c.Table.EVENTS) / "part-*.parquet"
    kinds = ", ".join(f"'{k}'" for k in EDGE_WEIGHTS)
    weight = " ".join(f"WHEN '{k}' THEN {w}" for k, w in EDGE_WEIGHTS.items())
    con = duckdb.connect()
    try:
        table: pa.Table = con.sql(
            f"SELECT {c.VIEWER_ID}, {c.PRODUCT_ID}, CASE {c.EVENT_TYPE} {weight} END AS w, "
            f"epoch_us({c.EVENT_TIMESTAMP}) AS t FROM read_parquet('{events}') "
            f"WHERE {c.EVENT_TYPE} IN ({kinds}) AND {c.PRODUCT_ID} IS NOT NULL "
            f"AND {c.VIEWER_ID} IS NOT NULL"
        ).to_arrow_table()
    finally:
        con.close()
    return (
        table.column(c.VIEWER_ID).to_numpy(zero_copy_only=False),
        table.column(c.PRODUCT_ID).to_numpy(zero_copy_only=False),
        table.column("w").to_numpy().astype(np.float64),
        table.column("t").to_numpy().astype(np.int64),
    )


def snapshots(settings: LivecartSettings) -> pa.Table:
    """Daily graph vectors of every embedded product (the ``product_graph`` table)."""
    embedded = pq.read_table(settings.feature_table_path(f.FeatureTable.PRODUCT_EMBEDDING))
    viewers, products, weights, times = _interactions(settings)
    if embedded.num_rows == 0 or len(times) == 0:
        return SCHEMA.empty_table()
    ids = embedded.column(c.PRODUCT_ID).to_pylist()
    index = {p: i for i, p in enumerate(ids)}
    listed = embedded.column(c.EVENT_TIMESTAMP).cast(pa.int64()).to_numpy()
    base = reduce(np.stack(embedded.column(f.TEXT_EMBEDDING).to_numpy(zero_copy_only=False)))
    known = np.array([p in index for p in products], dtype=bool)
    p_idx = np.array([index[p] for p in products[known]], dtype=np.int64)
    v_codes, v_idx = np.unique(viewers[known], return_inverse=True)
    w, t = weights[known], times[known]
    day_us = 86_400_000_000
    first, last = int(t.min()) // day_us + 1, int(t.max()) // day_us + 1
    created = datetime.now(UTC)
    parts: list[pa.Table] = []
    for day in range(first, last + 1):
        cutoff = day * day_us  # midnight: the snapshot holds the events strictly before it
        before = t < cutoff
        adjacency = co_interaction(v_idx[before], p_idx[before], w[before], len(v_codes), len(ids))
        vectors = propagate(adjacency, base)
        degree = np.diff(adjacency.indptr).astype(np.int64)
        rows = np.flatnonzero(listed <= cutoff)
        stamp = datetime.fromtimestamp(cutoff / 1e6, UTC)
        parts.append(
            pa.table(
                {
                    c.PRODUCT_ID: pa.array([ids[r] for r in rows], pa.string()),
                    c.EVENT_TIMESTAMP: pa.array([stamp] * len(rows), c.UTC_TIMESTAMP),
                    c.CREATED_TIMESTAMP: pa.array([created] * len(rows), c.UTC_TIMESTAMP),
                    f.GRAPH_VECTOR: pa.array(list(vectors[rows]), pa.list_(pa.float32())),
                    f.GRAPH_DEGREE: pa.array(degree[rows]),
                },
                schema=SCHEMA,
            )
        )
    return pa.concat_tables(parts) if parts else SCHEMA.empty_table()


def run(settings: LivecartSettings) -> int:
    """Write the ``product_graph`` table; returns its row count."""
    table = snapshots(settings)
    write_parquet_atomic(table, graph_path(settings))
    return int(table.num_rows)
