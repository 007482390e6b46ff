"""The DuckDB relations every feature query starts from.

``ev`` is the clean event log enriched with the category and price of what the event is about
(the product's category when there is a product, else the room's). Timestamps are UTC.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from livecart.core import contract as c
from livecart.core.io import table_path

# A feature row holds everything up to and including its source events, stamped one microsecond
# later, so "state strictly before the row's timestamp" holds for Feast's point-in-time join.
AFTER = "INTERVAL 1 MICROSECOND"

# How much each action says about a viewer's taste for a category.
AFFINITY_WEIGHTS: dict[str, float] = {
    c.EventType.ENTER_ROOM.value: 1.0,
    c.EventType.LIKE.value: 1.0,
    c.EventType.COMMENT.value: 1.0,
    c.EventType.CLICK.value: 2.0,
    c.EventType.ADD_TO_CART.value: 3.0,
    c.EventType.PURCHASE.value: 5.0,
}


def q(path: Path) -> str:
    """A SQL string literal for a path."""
    return "'" + str(path).replace("'", "''") + "'"


def connect(
    clean_dir: Path, memory_limit: str = "4GB", temp_dir: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with views over the clean contract tables."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = false")
    if temp_dir is not None:
        con.execute(f"SET temp_directory = {q(temp_dir)}")
    events = table_path(clean_dir, c.Table.EVENTS) / "part-*.parquet"
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet({q(events)})")
    for table in (c.Table.VIEWERS, c.Table.ROOMS, c.Table.STREAMERS):
        con.execute(
            f"CREATE VIEW {table.value} AS SELECT * FROM read_parquet({q(table_path(clean_dir, table))})"
        )
    products = table_path(clean_dir, c.Table.PRODUCTS)
    if products.exists():
        con.execute(f"CREATE VIEW products AS SELECT * FROM read_parquet({q(products)})")
    else:  # datasets without products (Twitch, generic interactions)
        empty = ", ".join(
            f"NULL::{duck_type} AS {name}"
            for name, duck_type in (
                (c.PRODUCT_ID, "VARCHAR"),
                (c.STREAMER_ID, "VARCHAR"),
                (c.TITLE, "VARCHAR"),
                (c.DESCRIPTION, "VARCHAR"),
                (c.CATEGORY, "VARCHAR"),
                (c.BRAND, "VARCHAR"),
                (c.PRICE, "DOUBLE"),
                (c.RATING, "DOUBLE"),
                (c.STOCK, "BIGINT"),
            )
        )
        con.execute(f"CREATE VIEW products AS SELECT {empty} WHERE false")
    weights = " ".join(f"WHEN '{k}' THEN {v}" for k, v in AFFINITY_WEIGHTS.items())
    con.execute(
        f"""
        CREATE VIEW ev AS
        SELECT e.*,
               coalesce(p.{c.CATEGORY}, r.{c.CATEGORY}) AS item_category,
               CASE e.{c.EVENT_TYPE} {weights} ELSE 0 END AS affinity_weight,
               e.{c.PRODUCT_ID} IS NOT NULL AND e.{c.EVENT_TYPE} = 'impression' AS is_product_impression
        FROM events e
        LEFT JOIN rooms r USING ({c.ROOM_ID})
        LEFT JOIN products p ON p.{c.PRODUCT_ID} = e.{c.PRODUCT_ID}
        """
    )
    return con


def world_start(con: duckdb.DuckDBPyConnection) -> str:
    """SQL expression of the first day of the event log (catalog rows are stamped there)."""
    row = con.execute(f"SELECT date_trunc('day', min({c.EVENT_TIMESTAMP})) FROM events").fetchone()
    if row is None or row[0] is None:
        raise ValueError("the clean event log is empty: nothing to build features from")
    return f"TIMESTAMPTZ '{row[0].isoformat()}'"
