"""Tiny, valid contract tables for the validation tests; each row builder takes overrides.

A consistent little world: viewers v0..v3, streamers s0..s1, rooms r0..r1 (of s0, s1), products
p0..p2 (of s0, s0, s1), and events that only reference those ids. Tests break one thing at a time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from livecart.core.contract import (
    AGE_BAND,
    AMOUNT,
    BRAND,
    CATEGORY,
    DESCRIPTION,
    DEVICE,
    DISPLAY_NAME,
    END_TIMESTAMP,
    EVENT_ID,
    EVENT_TIMESTAMP,
    EVENT_TYPE,
    FOLLOWER_COUNT,
    GIFT_VALUE,
    INTEREST_CATEGORIES,
    MAIN_CATEGORY,
    PRICE,
    PRODUCT_ID,
    RATING,
    REGION,
    ROOM_ID,
    SCHEMAS,
    SIGNUP_TIMESTAMP,
    START_TIMESTAMP,
    STOCK,
    STREAMER_ID,
    TEXT,
    TITLE,
    VIEWER_ID,
    WATCH_SECONDS,
    EventType,
    Table,
)
from livecart.core.io import write_source

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(days=10)

Row = dict[str, Any]


def viewer(i: int = 0, **overrides: Any) -> Row:
    return {
        VIEWER_ID: f"v{i}",
        SIGNUP_TIMESTAMP: EARLIER - timedelta(days=100),
        AGE_BAND: "25-34",
        REGION: "north",
        DEVICE: "ios",
        INTEREST_CATEGORIES: ["fashion", "beauty"],
        **overrides,
    }


def streamer(i: int = 0, **overrides: Any) -> Row:
    return {
        STREAMER_ID: f"s{i}",
        DISPLAY_NAME: f"Streamer {i}",
        MAIN_CATEGORY: "fashion",
        FOLLOWER_COUNT: 1000 + i,
        **overrides,
    }


def room(i: int = 0, streamer_index: int | None = None, **overrides: Any) -> Row:
    return {
        ROOM_ID: f"r{i}",
        STREAMER_ID: f"s{i if streamer_index is None else streamer_index}",
        TITLE: f"Spring sale {i}",
        CATEGORY: "fashion",
        START_TIMESTAMP: EARLIER,
        END_TIMESTAMP: EARLIER + timedelta(hours=2),
        **overrides,
    }


def product(i: int = 0, streamer_index: int = 0, **overrides: Any) -> Row:
    return {
        PRODUCT_ID: f"p{i}",
        STREAMER_ID: f"s{streamer_index}",
        TITLE: f"Silk scarf {i}",
        DESCRIPTION: "A light silk scarf.\tMachine washable.\nOne size.",
        CATEGORY: "fashion",
        BRAND: "acme",
        PRICE: 19.5 + i,
        RATING: 4.5,
        STOCK: 10,
        **overrides,
    }


def room_product(room_index: int = 0, product_index: int = 0, **overrides: Any) -> Row:
    return {ROOM_ID: f"r{room_index}", PRODUCT_ID: f"p{product_index}", **overrides}


def event(i: int = 0, kind: EventType = EventType.WATCH, **overrides: Any) -> Row:
    """A valid event of ``kind`` by viewer v0 in room r0 of streamer s0."""
    row: Row = {
        EVENT_ID: f"e{i}",
        EVENT_TYPE: kind.value,
        EVENT_TIMESTAMP: EARLIER + timedelta(minutes=i),
        VIEWER_ID: "v0",
        ROOM_ID: "r0",
        STREAMER_ID: "s0",
        PRODUCT_ID: None,
        WATCH_SECONDS: None,
        AMOUNT: None,
        GIFT_VALUE: None,
        TEXT: None,
    }
    if kind in (EventType.CLICK, EventType.ADD_TO_CART, EventType.PURCHASE):
        row[PRODUCT_ID] = "p0"
    if kind is EventType.PURCHASE:
        row[AMOUNT] = 19.5
    if kind is EventType.WATCH:
        row[WATCH_SECONDS] = 42.0
    if kind is EventType.GIFT:
        row[GIFT_VALUE] = 5.0
    if kind is EventType.COMMENT:
        row[TEXT] = "love it"
    row.update(overrides)
    return row


def table(source: Table, rows: list[Row]) -> pa.Table:
    """Rows as an Arrow table with exactly the contract's schema."""
    return pa.Table.from_pylist(rows, schema=SCHEMAS[source])


def valid_rows(source: Table) -> list[Row]:
    """A small valid batch of ``source`` consistent with the default world."""
    rows: dict[Table, list[Row]] = {
        Table.VIEWERS: [viewer(i) for i in range(4)],
        Table.STREAMERS: [streamer(i) for i in range(2)],
        Table.ROOMS: [room(0), room(1)],
        Table.PRODUCTS: [product(0, 0), product(1, 0), product(2, 1)],
        Table.ROOM_PRODUCTS: [room_product(0, 0), room_product(0, 1), room_product(1, 2)],
        Table.EVENTS: [
            event(0, EventType.IMPRESSION),
            event(1, EventType.ENTER_ROOM),
            event(2, EventType.WATCH),
            event(3, EventType.LIKE),
            event(4, EventType.COMMENT),
            event(5, EventType.FOLLOW),
            event(6, EventType.CLICK),
            event(7, EventType.ADD_TO_CART),
            event(8, EventType.PURCHASE),
            event(9, EventType.GIFT),
        ],
    }
    return rows[source]


def write_world(raw_dir: Path, skip: tuple[Table, ...] = (), parts: int = 2) -> None:
    """Write the valid world to ``raw_dir``; events split into ``parts`` part files."""
    for source in Table:
        if source in skip:
            continue
        rows = valid_rows(source)
        if source is not Table.EVENTS:
            write_source(raw_dir, source, table(source, rows))
            continue
        size = -(-len(rows) // parts)
        for index in range(parts):
            chunk = rows[index * size : (index + 1) * size]
            write_source(raw_dir, source, table(source, chunk), part=f"{index:05d}")
