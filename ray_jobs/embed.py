"""`livecart embed`: texts -> transformers embeddings -> embedding feature tables (Ray Data).

Product titles+descriptions and room titles are read from the latest profile rows, and what each
viewer says they shop for from the clean viewers table. Each distinct text is embedded once by a
pool of encoder actors with Ray Data ``map_batches`` (GPU when present), and the vectors are
written as ``<home>/features/{product,room,viewer}_embedding.parquet`` with a fixed-size float
array column, which Feast serves from the online store (vector retrieval; the ranker's match of a
viewer's words to a product's text). Texts and vectors travel as files, never held whole by the
driver (:mod:`ray_jobs.embed_texts`). The product vectors are then smoothed over the
co-interaction graph into daily ``product_graph`` snapshots (ray_jobs/item_graph.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import ray

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.errors import StageError
from livecart.core.io import write_parquet_atomic
from livecart.core.ray_runtime import cluster_has_gpus, ensure_ray
from livecart.core.settings import LivecartSettings
from livecart.core.staging import staging_dir
from ray_jobs import item_graph
from ray_jobs.embed_texts import (
    ORDER,
    TEXT_ID,
    TEXTS,
    VECTOR,
    VECTORS,
    check_vectors,
    stage_texts,
    text_queries,
    viewer_query,
    write_table,
)
from ray_jobs.embed_texts import TEXT as TEXT  # re-exported: the fine-tuning reads item_texts


@dataclass(frozen=True)
class EmbedResult:
    rows: dict[str, int]
    dim: int
    seconds: float


def embedding_path(settings: LivecartSettings, table: f.FeatureTable) -> Path:
    return settings.feature_table_path(table)


def embedding_schema(table: f.FeatureTable, dim: int) -> pa.Schema:
    (key,) = f.ENTITY_KEYS[table]
    return pa.schema(
        [
            (key, pa.string()),
            (c.EVENT_TIMESTAMP, c.UTC_TIMESTAMP),
            (c.CREATED_TIMESTAMP, c.UTC_TIMESTAMP),
            (f.EMBEDDING_COLUMNS[table], pa.list_(pa.float32(), dim)),
        ]
    )


def ensure_embedding_tables(settings: LivecartSettings) -> None:
    """Create empty embedding tables so Feast can register their views before `embed` runs."""
    for table in f.EMBEDDING_TABLES:
        path = embedding_path(settings, table)
        if not path.exists():
            write_parquet_atomic(
                embedding_schema(table, settings.embedding_dim).empty_table(), path
            )


def item_texts(settings: LivecartSettings) -> dict[f.FeatureTable, pa.Table]:
    """Key, first-seen timestamp and text of every product and room (from the profiles), and of
    every viewer who said what they shop for (stamped at sign-up), sorted by key, in memory (for
    the encoder's fine-tuning; `embed` itself streams them, see :mod:`ray_jobs.embed_texts`)."""
    queries = text_queries(settings)
    con = duckdb.connect()
    try:
        out: dict[f.FeatureTable, pa.Table] = {
            table: con.sql(f"{sql} ORDER BY 1", params=params).to_arrow_table()
            for table, (sql, params) in queries.items()
            if table is not f.FeatureTable.VIEWER_EMBEDDING
        }
        out[f.FeatureTable.VIEWER_EMBEDDING] = viewer_texts(settings, con)
    finally:
        con.close()
    return out


def viewer_texts(settings: LivecartSettings, con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Viewers with a non-blank ``shopping_for`` (none where the data has no viewers table or
    the table has no such column, as the Twitch log's)."""
    query = viewer_query(settings)
    if query is None:
        return pa.table(
            {
                c.VIEWER_ID: pa.array([], pa.string()),
                c.EVENT_TIMESTAMP: pa.array([], c.UTC_TIMESTAMP),
                TEXT: pa.array([], pa.string()),
            }
        )
    sql, params = query
    return con.sql(f"{sql} ORDER BY {c.VIEWER_ID}", params=params).to_arrow_table()


class EmbedBatch:
    """A Ray Data actor: loads the encoder once, embeds batches of (text id, text)."""

    def __init__(self, encoder_path: str | None) -> None:
        from livecart.model.text_encoder import TextEncoder

        self.encoder = TextEncoder(Path(encoder_path) if encoder_path else None)

    def __call__(self, batch: dict[str, np.ndarray]) -> pa.Table:
        vectors = self.encoder.encode([str(t) for t in batch[TEXT]])
        return pa.table(
            {
                TEXT_ID: pa.array(batch[TEXT_ID], pa.int64()),
                VECTOR: pa.FixedSizeListArray.from_arrays(
                    pa.array(vectors.ravel(), pa.float32()), vectors.shape[1]
                ),
            }
        )


def run(settings: LivecartSettings, batch_size: int = 128) -> EmbedResult:
    """Embed every item text and write the embedding tables.

    The texts go from DuckDB to a staging file, through the encoder actor (Ray Data
    ``map_batches``) to staged vector files (``write_parquet``), and from there through a DuckDB
    join into the tables: none of them is held whole by this process (:mod:`ray_jobs.embed_texts`).
    """
    from livecart.model.text_encoder import encoder_dim

    started = time.perf_counter()
    created = pa.scalar(datetime.now(UTC), type=c.UTC_TIMESTAMP)
    dim = encoder_dim(settings.encoder_path)  # fails fast on a wrong path; no weights loaded
    if dim != settings.embedding_dim:
        raise StageError(
            "embed",
            f"the encoder gives {dim}-d vectors but LIVECART_EMBEDDING_DIM is {settings.embedding_dim}",
            f"set LIVECART_EMBEDDING_DIM={dim}, then `livecart apply`",
        )
    gpus = 1 if cluster_has_gpus(1, ensure_ray(settings)) else 0
    encoder = str(settings.encoder_path) if settings.encoder_path else None
    rows: dict[str, int] = {}
    with staging_dir(settings.home, "embed") as staging:
        # Each distinct text once (viewers' sign-up answers repeat; so do some product texts).
        distinct = stage_texts(settings, staging)
        if distinct:
            # Products, rooms and viewers go through one pipeline, so one encoder actor starts
            # (a process that imports torch and transformers and loads the weights: seconds).
            # Reading and writing the small staged files is I/O: a fraction of a CPU each, so
            # they run beside the encoder actor even on a two-CPU Ray.
            io = {"num_cpus": 0.25}
            ray.data.read_parquet(str(staging / TEXTS), ray_remote_args=io).map_batches(
                EmbedBatch,
                fn_constructor_kwargs={"encoder_path": encoder},
                batch_size=batch_size,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=1),  # one encoder actor
                num_cpus=1,
                num_gpus=gpus,
            ).write_parquet(str(staging / VECTORS), ray_remote_args=io)
            check_vectors(staging, distinct)
        for table in ORDER:
            schema = embedding_schema(table, dim)
            path = embedding_path(settings, table)
            rows[table.value] = write_table(staging, table, schema, created, path)
    rows[f.FeatureTable.PRODUCT_GRAPH.value] = item_graph.run(settings)
    return EmbedResult(rows, dim, round(time.perf_counter() - started, 2))
