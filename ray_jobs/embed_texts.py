"""What `livecart embed` reads and writes, in DuckDB over files: the texts to embed, staged as
Parquet for Ray Data, and the embedding tables assembled from the vectors Ray Data wrote.

So that the texts and the vectors never pass through the driver's memory (the driver of a Ray job
is one process, often a small one), the job hands them over as files in a staging directory:

* ``items.parquet``: one row per (table, key): its first-seen timestamp, its text and ``text_id``,
  the id of its text (the position, in (table, key) order, of the first row with that text);
* ``texts.parquet``: each distinct text once, with its id, in order of first appearance (the
  order the encoder saw them in before, so its batches, and its vectors, are the same);
* ``vectors/``: ``text_id`` and vector, written by Ray Data's ``write_parquet``.

Each embedding table is then a DuckDB join of items and vectors, sorted by key, streamed in
bounded batches into a Parquet file that replaces the old one atomically.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.errors import StageError
from livecart.core.io import source_exists, table_path
from livecart.core.settings import LivecartSettings

TEXT = "text"
TEXT_ID = "text_id"
VECTOR = "vector"
ITEMS, TEXTS, VECTORS = "items.parquet", "texts.parquet", "vectors"
ORDER = (
    f.FeatureTable.PRODUCT_EMBEDDING,
    f.FeatureTable.ROOM_EMBEDDING,
    f.FeatureTable.VIEWER_EMBEDDING,
)
"""The tables in the order their texts are numbered (the first appearance of a repeated text)."""
BATCH_BYTES = 64 << 20
"""About this much vector data per batch (and Parquet row group) of an embedding table written."""

Query = tuple[str, list[str]]  # SQL and its parameters


def text_queries(settings: LivecartSettings) -> dict[f.FeatureTable, Query]:
    """Per embedding table, a query of its key, first-seen timestamp and ``text``: products and
    rooms from their profiles, and the viewers who said what they shop for (stamped at sign-up;
    none where the data has no viewers table or the table has no such column, as the Twitch
    log's). Unordered; a missing profile is a StageError."""
    queries = {}
    profiles = {
        f.FeatureTable.PRODUCT_EMBEDDING: (
            f.FeatureTable.PRODUCT_PROFILE,
            c.PRODUCT_ID,
            f"concat_ws('. ', {f.PRODUCT_TITLE}, {f.PRODUCT_DESCRIPTION})",
        ),
        f.FeatureTable.ROOM_EMBEDDING: (f.FeatureTable.ROOM_PROFILE, c.ROOM_ID, f.ROOM_TITLE),
    }
    for target, (profile, key, text) in profiles.items():
        path = settings.feature_table_path(profile)
        if not path.exists():
            raise StageError("embed", f"missing {path}", "run `livecart features` first")
        queries[target] = (
            f"SELECT {key}, min({c.EVENT_TIMESTAMP}) AS {c.EVENT_TIMESTAMP}, "
            f"arg_max({text}, {c.EVENT_TIMESTAMP}) AS {TEXT} FROM read_parquet(?) GROUP BY {key}",
            [str(path)],
        )
    viewers = viewer_query(settings)
    if viewers is not None:
        queries[f.FeatureTable.VIEWER_EMBEDDING] = viewers
    return queries


def viewer_query(settings: LivecartSettings) -> Query | None:
    """Viewers with a non-blank ``shopping_for``; None without a viewers table or that column."""
    path = table_path(settings.clean_dir, c.Table.VIEWERS)
    if not source_exists(settings.clean_dir, c.Table.VIEWERS) or (
        c.SHOPPING_FOR not in pq.read_schema(path).names
    ):
        return None
    return (
        f"SELECT {c.VIEWER_ID}, {c.SIGNUP_TIMESTAMP} AS {c.EVENT_TIMESTAMP}, "
        f"trim({c.SHOPPING_FOR}) AS {TEXT} FROM read_parquet(?) "
        f"WHERE nullif(trim({c.SHOPPING_FOR}), '') IS NOT NULL",
        [str(path)],
    )


def _lit(path: Path) -> str:
    """``path`` as a SQL string literal (COPY's target takes no parameter)."""
    return "'" + str(path).replace("'", "''") + "'"


def connect(staging: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB that spills what outgrows its memory (a join, a sort) into ``staging``."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # naive timestamps are UTC, as Arrow's cast takes them
    con.execute(f"SET temp_directory = {_lit(staging / 'duckdb.tmp')}")
    return con


def stage_texts(settings: LivecartSettings, staging: Path) -> int:
    """Write ``items.parquet`` and ``texts.parquet`` (module doc); the number of distinct texts."""
    parts, params, queries = [], [], text_queries(settings)
    for number, table in enumerate(ORDER):
        query = queries.get(table)
        if query is None:
            continue
        (key,) = f.ENTITY_KEYS[table]
        parts.append(
            f"SELECT {number} AS tbl, CAST({key} AS VARCHAR) AS key, "
            f"{c.EVENT_TIMESTAMP} AS ts, coalesce(CAST({TEXT} AS VARCHAR), '') AS {TEXT} "
            f"FROM ({query[0]})"
        )
        params += query[1]
    items, texts = staging / ITEMS, staging / TEXTS
    con = connect(staging)
    try:
        con.execute(
            f"""
            COPY (
                WITH numbered AS (
                    SELECT *, row_number() OVER (ORDER BY tbl, key) AS pos
                    FROM ({" UNION ALL ".join(parts)})
                )
                SELECT tbl, key, ts, {TEXT}, pos, min(pos) OVER (PARTITION BY {TEXT}) AS {TEXT_ID}
                FROM numbered
            ) TO {_lit(items)} (FORMAT parquet)
            """,
            params,
        )
        con.execute(
            f"COPY (SELECT {TEXT_ID}, {TEXT} FROM read_parquet({_lit(items)}) WHERE pos = {TEXT_ID} "
            f"ORDER BY {TEXT_ID}) TO {_lit(texts)} (FORMAT parquet)"
        )
        (distinct,) = con.execute(
            f"SELECT count(*) FROM read_parquet({_lit(texts)})"
        ).fetchone() or (0,)
    finally:
        con.close()
    return int(distinct)


def check_vectors(staging: Path, distinct: int) -> None:
    """Every distinct text has exactly one vector (none lost, none written twice)."""
    con = connect(staging)
    try:
        found = con.execute(
            f"SELECT count(*), count(DISTINCT {TEXT_ID}) "
            f"FROM read_parquet({_lit(staging / VECTORS / '*.parquet')})"
        ).fetchone()
    finally:
        con.close()
    if found != (distinct, distinct):
        raise StageError(
            "embed",
            f"the encoder wrote {found and found[0]} vectors for {distinct} distinct texts",
            "rerun `livecart embed`",
        )


def write_table(
    staging: Path, table: f.FeatureTable, schema: pa.Schema, created: pa.Scalar, path: Path
) -> int:
    """Embedding table ``table`` (``schema``) from the staged items and vectors, sorted by key,
    every row stamped ``created``, written to ``path`` atomically; its row count."""
    (key,) = f.ENTITY_KEYS[table]
    dim = schema.field(f.EMBEDDING_COLUMNS[table]).type.list_size
    rows_per_batch = max(1024, BATCH_BYTES // (4 * dim))
    vectors = staging / VECTORS
    con = connect(staging)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    written = 0
    try:
        if not any(vectors.glob("*.parquet")):  # nothing was embedded: every table is empty
            batches: pa.RecordBatchReader | None = None
        else:
            batches = con.sql(
                f"""
                SELECT i.key, i.ts, CAST(v.{VECTOR} AS FLOAT[{dim}]) AS {VECTOR}
                FROM read_parquet({_lit(staging / ITEMS)}) i
                JOIN read_parquet({_lit(vectors / "*.parquet")}) v ON i.{TEXT_ID} = v.{TEXT_ID}
                WHERE i.tbl = {ORDER.index(table)}
                ORDER BY i.key
                """
            ).to_arrow_reader(rows_per_batch)
        path.parent.mkdir(parents=True, exist_ok=True)
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for batch in batches or ():
                part = pa.table(
                    {
                        key: batch.column(0),
                        c.EVENT_TIMESTAMP: batch.column(1),
                        c.CREATED_TIMESTAMP: pa.repeat(created, batch.num_rows),
                        f.EMBEDDING_COLUMNS[table]: batch.column(2),
                    }
                ).cast(schema)
                writer.write_table(part)
                written += part.num_rows
            if written == 0:  # one empty row group, as a whole empty table is written
                writer.write_table(schema.empty_table())
        os.replace(tmp, path)
    finally:
        con.close()
        tmp.unlink(missing_ok=True)
    return written
