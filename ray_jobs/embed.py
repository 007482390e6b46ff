"""`livecart embed`: texts -> transformers embeddings -> embedding feature tables (Ray Data).

Product titles+descriptions and room titles are read from the latest profile rows, and what each
viewer says they shop for from the clean viewers table. Each distinct text is embedded once by a
pool of encoder actors with Ray Data ``map_batches`` (GPU when present), and the vectors are
written as ``<home>/features/{product,room,viewer}_embedding.parquet`` with a fixed-size float
array column, which Feast serves from the online store (vector retrieval; the ranker's match of a
viewer's words to a product's text). The product vectors are then smoothed
over the co-interaction graph into daily ``product_graph`` snapshots (ray_jobs/item_graph.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.errors import StageError
from livecart.core.io import source_exists, table_path, write_parquet_atomic
from livecart.core.ray_runtime import cluster_has_gpus, ensure_ray
from livecart.core.settings import LivecartSettings
from ray_jobs import item_graph

TEXT = "text"
TABLE, KEY = "table", "key"  # which embedding table a text is for, and its entity key


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
    every viewer who said what they shop for (stamped at sign-up)."""
    queries = {
        f.FeatureTable.PRODUCT_EMBEDDING: (
            f.FeatureTable.PRODUCT_PROFILE,
            c.PRODUCT_ID,
            f"concat_ws('. ', {f.PRODUCT_TITLE}, {f.PRODUCT_DESCRIPTION})",
        ),
        f.FeatureTable.ROOM_EMBEDDING: (f.FeatureTable.ROOM_PROFILE, c.ROOM_ID, f.ROOM_TITLE),
    }
    out = {}
    con = duckdb.connect()
    try:
        for target, (profile, key, text) in queries.items():
            path = settings.feature_table_path(profile)
            if not path.exists():
                raise StageError("embed", f"missing {path}", "run `livecart features` first")
            out[target] = con.sql(
                f"SELECT {key}, min({c.EVENT_TIMESTAMP}) AS {c.EVENT_TIMESTAMP}, "
                f"arg_max({text}, {c.EVENT_TIMESTAMP}) AS {TEXT} FROM read_parquet(?) GROUP BY {key} "
                f"ORDER BY {key}",
                params=[str(path)],
            ).to_arrow_table()
        out[f.FeatureTable.VIEWER_EMBEDDING] = viewer_texts(settings, con)
    finally:
        con.close()
    return out


def viewer_texts(settings: LivecartSettings, con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Viewers with a non-blank ``shopping_for`` (none where the data has no viewers table or
    the table has no such column, as the Twitch log's)."""
    path = table_path(settings.clean_dir, c.Table.VIEWERS)
    if not source_exists(settings.clean_dir, c.Table.VIEWERS) or (
        c.SHOPPING_FOR not in pq.read_schema(path).names
    ):
        return pa.table(
            {
                c.VIEWER_ID: pa.array([], pa.string()),
                c.EVENT_TIMESTAMP: pa.array([], c.UTC_TIMESTAMP),
                TEXT: pa.array([], pa.string()),
            }
        )
    return con.sql(
        f"SELECT {c.VIEWER_ID}, {c.SIGNUP_TIMESTAMP} AS {c.EVENT_TIMESTAMP}, "
        f"trim({c.SHOPPING_FOR}) AS {TEXT} FROM read_parquet(?) "
        f"WHERE nullif(trim({c.SHOPPING_FOR}), '') IS NOT NULL ORDER BY {c.VIEWER_ID}",
        params=[str(path)],
    ).to_arrow_table()


class EmbedBatch:
    """A Ray Data actor: loads the encoder once, embeds batches of texts."""

    def __init__(self, encoder_path: str | None) -> None:
        from livecart.model.text_encoder import TextEncoder

        self.encoder = TextEncoder(Path(encoder_path) if encoder_path else None)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        vectors = self.encoder.encode([str(t) for t in batch[TEXT]])
        return {**batch, f.TEXT_EMBEDDING: list(vectors)}


def run(settings: LivecartSettings, batch_size: int = 128) -> EmbedResult:
    """Embed every item text and write the embedding tables."""
    from livecart.model.text_encoder import encoder_dim

    started = time.perf_counter()
    created = datetime.now(UTC)
    dim = encoder_dim(settings.encoder_path)  # fails fast on a wrong path; no weights loaded
    if dim != settings.embedding_dim:
        raise StageError(
            "embed",
            f"the encoder gives {dim}-d vectors but LIVECART_EMBEDDING_DIM is {settings.embedding_dim}",
            f"set LIVECART_EMBEDDING_DIM={dim}, then `livecart apply`",
        )
    gpus = 1 if cluster_has_gpus(1, ensure_ray(settings)) else 0
    encoder = str(settings.encoder_path) if settings.encoder_path else None
    texts = item_texts(settings)
    # Products, rooms and viewers go through one pipeline, so one encoder actor starts (a process
    # that imports torch and transformers and loads the weights: seconds), not one per table.
    together = pa.concat_tables(
        pa.table(
            {
                TABLE: pa.array([table.value] * part.num_rows, pa.string()),
                KEY: part.column(0).cast(pa.string()),
                c.EVENT_TIMESTAMP: part.column(c.EVENT_TIMESTAMP).cast(c.UTC_TIMESTAMP),
                TEXT: pc.fill_null(part.column(TEXT).cast(pa.string()), ""),
            }
        )
        for table, part in texts.items()
    )
    # Each distinct text once (viewers' sign-up answers repeat; so do some product texts).
    distinct = pc.unique(together.column(TEXT))
    vectors_of = np.zeros((len(distinct), dim), dtype=np.float32)
    if len(distinct):
        embedded = (
            ray.data.from_arrow(pa.table({TEXT: distinct}))
            .map_batches(
                EmbedBatch,
                fn_constructor_kwargs={"encoder_path": encoder},
                batch_size=batch_size,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=1),  # one encoder actor
                num_cpus=1,
                num_gpus=gpus,
            )
            .to_pandas()
        )
        at = pc.index_in(pa.array(embedded[TEXT].astype(str)), value_set=distinct).to_numpy()
        vectors_of[at] = np.array(list(embedded[f.TEXT_EMBEDDING]), dtype=np.float32)
    row_of = pc.index_in(together.column(TEXT), value_set=distinct).to_numpy(zero_copy_only=False)
    which = together.column(TABLE).to_numpy(zero_copy_only=False)
    rows: dict[str, int] = {}
    for table in texts:
        schema = embedding_schema(table, dim)
        (key,) = f.ENTITY_KEYS[table]
        picked = np.flatnonzero(which == table.value)
        mine = together.take(pa.array(picked))
        order = pc.sort_indices(mine, [(KEY, "ascending")]).to_numpy()
        mine, vectors = mine.take(pa.array(order)), vectors_of[row_of[picked][order]]
        out = pa.table(
            {
                key: mine.column(KEY),
                c.EVENT_TIMESTAMP: mine.column(c.EVENT_TIMESTAMP),
                c.CREATED_TIMESTAMP: pa.array([created] * mine.num_rows, type=c.UTC_TIMESTAMP),
                f.EMBEDDING_COLUMNS[table]: pa.FixedSizeListArray.from_arrays(
                    pa.array(vectors.ravel()), dim
                ),
            },
            schema=schema,
        )
        write_parquet_atomic(out, embedding_path(settings, table))
        rows[table.value] = out.num_rows
    rows[f.FeatureTable.PRODUCT_GRAPH.value] = item_graph.run(settings)
    return EmbedResult(rows, dim, round(time.perf_counter() - started, 2))
