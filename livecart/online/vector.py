"""Vector retrieval over a view's current rows with DuckDB array functions.

Embeddings are fixed-size float arrays (``FLOAT[d]``); the query ranks by cosine distance
(1 - cosine similarity), L2 distance, or negative inner product, after optional metadata filters
(Feast's ComparisonFilter / CompoundFilter, e.g. "room is live now": start <= now < end).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from feast.filter_models import ComparisonFilter, CompoundFilter

from livecart.online.duck import thread_connection

POSITION = "__position"
_OPERATORS = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_METRICS = {
    "cosine": "1 - array_cosine_similarity({col}, {q})",
    "l2": "array_distance({col}, {q})",
    "inner_product": "-array_inner_product({col}, {q})",
    "dot": "-array_inner_product({col}, {q})",
}


def _connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB connection per thread (opening one per query cost ~1-50 ms)."""
    return thread_connection()


class FilterError(ValueError):
    """A filter that names an unknown column or operator."""


def _quote(name: str, columns: Sequence[str]) -> str:
    if name not in columns:
        raise FilterError(f"filter on unknown column {name!r}; known: {sorted(columns)}")
    return '"' + name.replace('"', '""') + '"'


def filter_sql(
    node: ComparisonFilter | CompoundFilter | None, columns: Sequence[str], params: list[Any]
) -> str:
    """SQL for a Feast filter tree (values become bound parameters)."""
    if node is None:
        return "TRUE"
    if isinstance(node, CompoundFilter):
        joiner = {"and": " AND ", "or": " OR "}[node.type]
        inner = [filter_sql(child, columns, params) for child in node.filters]
        return "(" + joiner.join(inner or ["TRUE"]) + ")"
    column = _quote(node.key, columns)
    if node.type in ("in", "nin"):
        params.append(list(node.value))
        negate = "NOT " if node.type == "nin" else ""
        return f"({negate}list_contains(?, {column}))"
    if node.type not in _OPERATORS:
        raise FilterError(f"unknown filter operator {node.type!r}")
    params.append(node.value)
    return f"({column} {_OPERATORS[node.type]} ?)"


def search(
    rows: pa.Table,
    vector_column: str,
    query: Sequence[float],
    top_k: int,
    metric: str | None,
    filters: ComparisonFilter | CompoundFilter | None,
) -> list[tuple[int, float]]:
    """(row position in ``rows``, distance) of the ``top_k`` nearest rows, nearest first."""
    kind = (metric or "cosine").lower()
    if kind not in _METRICS:
        raise FilterError(f"unknown distance metric {metric!r}; use one of {sorted(_METRICS)}")
    dim = rows.schema.field(vector_column).type.list_size
    if dim <= 0 or len(query) != dim:
        raise FilterError(f"query has {len(query)} dimensions, {vector_column} has {dim}")
    table = rows.append_column(POSITION, pa.array(np.arange(rows.num_rows, dtype=np.int64)))
    params: list[Any] = [np.asarray(query, dtype=np.float32).tolist()]
    where = filter_sql(filters, rows.schema.names, params)
    distance = _METRICS[kind].format(
        col=_quote(vector_column, rows.schema.names), q=f"?::FLOAT[{dim}]"
    )
    con = _connection()
    name = f"items_{threading.get_ident()}"
    con.register(name, table)
    try:
        # The query vector is the first parameter; filters follow in order.
        found = con.execute(
            f"SELECT {POSITION}, {distance} AS d FROM {name} "
            f"WHERE {vector_column} IS NOT NULL AND {where} ORDER BY d ASC LIMIT {int(top_k)}",
            params,
        ).fetchall()
    finally:
        con.unregister(name)
    return [(int(p), float(d)) for p, d in found]


def distances(
    matrix: np.ndarray, norms: np.ndarray, query: np.ndarray, metric: str | None
) -> np.ndarray:
    """The distances :func:`search` ranks on, for every row of ``matrix`` (``norms``: its row
    norms), in numpy: what serving's candidate retrieval uses on a cached matrix."""
    kind = (metric or "cosine").lower()
    if kind not in _METRICS:
        raise FilterError(f"unknown distance metric {metric!r}; use one of {sorted(_METRICS)}")
    if kind == "l2":
        return np.asarray(np.linalg.norm(matrix - query, axis=1), dtype=np.float64)
    dot: np.ndarray = (matrix @ query).astype(np.float64)
    if kind == "cosine":
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(1.0 - dot / (norms * np.linalg.norm(query)), dtype=np.float64)
    return -dot
