"""The Ray task of `livecart materialize`: the newest row per entity from a Parquet source,
written to a staging file for the driver's single commit (only its path and row count go back
through Ray, so the driver never holds every view's rows at once).

Kept free of Feast imports so that Ray workers start quickly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from livecart.online.bookkeeping import CREATED_TS, EVENT_TS
from livecart.online.codec import cast_stored


def latest_rows(
    path: str,
    keys: list[str],
    features: list[str],
    timestamp: str,
    created: str | None,
    start: datetime,
    end: datetime,
    schema: pa.Schema,
    raw: Sequence[str] = (),
) -> pa.Table:
    """The newest row per entity with ``start <= timestamp < end`` from a Parquet source, cast
    to ``schema`` except the ``raw`` columns (opaque features: the store encodes their values)."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        created_expr = f'"{created}"' if created else f'"{timestamp}"'
        cols = ", ".join(f'"{c}"' for c in [*keys, *features])
        partition = ", ".join(f'"{k}"' for k in keys)
        table: pa.Table = con.sql(
            f"""
            SELECT {cols}, "{timestamp}" AS {EVENT_TS}, {created_expr} AS {CREATED_TS}
            FROM read_parquet(?)
            WHERE "{timestamp}" >= ? AND "{timestamp}" < ?
            QUALIFY row_number() OVER (PARTITION BY {partition}
                                       ORDER BY "{timestamp}" DESC, {created_expr} DESC) = 1
            """,
            params=[path, start, end],
        ).to_arrow_table()
    finally:
        con.close()
    return cast_stored(table, schema, raw)


def stage_latest_rows(out: str, *args: Any) -> tuple[str, int]:
    """:func:`latest_rows` (same arguments after ``out``) written to the Parquet file ``out``;
    (``out``, its row count). The file keeps the exact Arrow types (Parquet stores the schema)."""
    table = latest_rows(*args)
    pq.write_table(table, out)
    return out, table.num_rows
