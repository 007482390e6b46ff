"""Reading the offline store's event parts from serving, past a torn or corrupt part.

One unreadable Parquet part (a copy cut short) must not keep the ingest replica from starting, and
so stop all event intake: its rows cannot be read by anyone, the others still can. The part is
logged by name and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import duckdb
import pyarrow as pa

from livecart.core import contract as c

log = logging.getLogger(__name__)


def read_recent_events(
    parts: Sequence[str], since: datetime, columns: Sequence[str] | None = None
) -> pa.Table:
    """Offline events at or after ``since``; an unreadable part is logged by name and skipped.

    One torn or corrupt Parquet part must not keep the ingest replica from starting (and so stop
    all event intake): its rows cannot be read by anyone, the others still can.
    """
    names = list(columns) if columns else list(c.SCHEMAS[c.Table.EVENTS].names)
    sql = (
        f"SELECT {', '.join(names)} FROM read_parquet(?, union_by_name = true) "
        f"WHERE {c.EVENT_TIMESTAMP} >= ?"
    )
    found = query_event_parts(sql, parts, [since])
    return c.SCHEMAS[c.Table.EVENTS].empty_table().select(names) if found is None else found


def query_event_parts(
    sql: str, parts: Sequence[str], params: Sequence[object] = ()
) -> pa.Table | None:
    """``sql`` over the event ``parts`` (its first parameter, for ``read_parquet(?, ...)``), then
    ``params``; an unreadable part is logged by name and skipped (None: no part readable)."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        try:
            return con.sql(sql, params=[list(parts), *params]).to_arrow_table()
        except duckdb.Error:
            tables = []
            for part in parts:
                try:
                    tables.append(con.sql(sql, params=[[part], *params]).to_arrow_table())
                except duckdb.Error as exc:
                    log.error("skipping unreadable offline event part %s: %s", part, exc)
            return pa.concat_tables(tables, promote_options="default") if tables else None
    finally:
        con.close()
