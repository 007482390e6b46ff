"""Realistic bad rows for the validation path (``livecart generate --dirty FRACTION``).

Faults are *added* as corrupted copies of clean rows, never by damaging clean rows, so a test can
check that the gate keeps every clean row and quarantines every injected one. Each injected row
is listed in a manifest with its fault class.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from livecart.core import contract as c

EVENT_FAULTS: tuple[str, ...] = (
    "duplicate",
    "null_required",
    "unknown_viewer",
    "unknown_room",
    "future_timestamp",
    "negative_amount",
    "bad_event_type",
    "broken_text",
    "oversized_text",
)
PRODUCT_FAULTS: tuple[str, ...] = ("negative_price", "null_price", "duplicate")
MANIFEST_COLUMNS = ("source", "fault", c.EVENT_ID, c.PRODUCT_ID)


def _set(table: pa.Table, column: str, values: pa.Array) -> pa.Table:
    idx = table.schema.get_field_index(column)
    return table.set_column(idx, table.schema.field(idx), values)


def _const(table: pa.Table, column: str, value: object) -> pa.Table:
    field_type = table.schema.field(column).type
    return _set(table, column, pa.array([value] * table.num_rows, type=field_type))


def _fresh_ids(table: pa.Table, fault: str) -> pa.Table:
    ids = [f"dirty-{fault}-{i}" for i in range(table.num_rows)]
    return _set(table, c.EVENT_ID, pa.array(ids, type=pa.string()))


def _event_fault(fault: str, rows: pa.Table, max_text_chars: int) -> pa.Table:
    future = datetime.now(UTC) + timedelta(days=30)
    purchase_like = _const(rows, c.EVENT_TYPE, c.EventType.PURCHASE.value)
    recipes: dict[str, Callable[[], pa.Table]] = {
        "duplicate": lambda: rows,
        "null_required": lambda: _const(_fresh_ids(rows, fault), c.VIEWER_ID, None),
        "unknown_viewer": lambda: _const(_fresh_ids(rows, fault), c.VIEWER_ID, "v-unknown"),
        "unknown_room": lambda: _const(_fresh_ids(rows, fault), c.ROOM_ID, "r-unknown"),
        "future_timestamp": lambda: _const(_fresh_ids(rows, fault), c.EVENT_TIMESTAMP, future),
        "negative_amount": lambda: _const(_fresh_ids(purchase_like, fault), c.AMOUNT, -19.99),
        "bad_event_type": lambda: _const(_fresh_ids(rows, fault), c.EVENT_TYPE, "teleport"),
        "broken_text": lambda: _const(
            _const(_fresh_ids(rows, fault), c.EVENT_TYPE, "comment"),
            c.TEXT,
            "gr\ufffd\ufffdt de\x00al",
        ),
        "oversized_text": lambda: _const(
            _const(_fresh_ids(rows, fault), c.EVENT_TYPE, "comment"),
            c.TEXT,
            "wow " * max_text_chars,
        ),
    }
    return recipes[fault]()


def dirty_events(
    clean: pa.Table, fraction: float, rng: np.random.Generator, max_text_chars: int
) -> tuple[pa.Table, pa.Table]:
    """Bad event rows (about ``fraction`` of ``clean``) and their manifest."""
    per_fault = max(1, round(fraction * clean.num_rows / len(EVENT_FAULTS)))
    # Product-bearing rows make a purchase copy plausible apart from the planted fault.
    with_product = clean.filter(pc.is_valid(clean[c.PRODUCT_ID]))
    pool = with_product if with_product.num_rows else clean
    parts, manifest = [], []
    for fault in EVENT_FAULTS:
        pick = rng.choice(pool.num_rows, size=min(per_fault, pool.num_rows), replace=False)
        bad = _event_fault(fault, pool.take(pa.array(pick)), max_text_chars)
        parts.append(bad)
        manifest.append(_manifest("events", fault, bad[c.EVENT_ID], None))
    return pa.concat_tables(parts), pa.concat_tables(manifest)


def dirty_products(
    clean: pa.Table, fraction: float, rng: np.random.Generator
) -> tuple[pa.Table, pa.Table]:
    """Bad product rows: negative or missing prices (as new products) and duplicated ids."""
    per_fault = max(1, round(fraction * clean.num_rows / len(PRODUCT_FAULTS)))
    parts, manifest = [], []
    for fault in PRODUCT_FAULTS:
        rows = clean.take(
            pa.array(rng.choice(clean.num_rows, size=min(per_fault, clean.num_rows), replace=False))
        )
        if fault != "duplicate":
            rows = _set(
                rows, c.PRODUCT_ID, pa.array([f"dirty-{fault}-{i}" for i in range(rows.num_rows)])
            )
            rows = _const(rows, c.PRICE, -5.0 if fault == "negative_price" else None)
        parts.append(rows)
        manifest.append(_manifest("products", fault, None, rows[c.PRODUCT_ID]))
    return pa.concat_tables(parts), pa.concat_tables(manifest)


def _manifest(
    source: str, fault: str, event_ids: pa.ChunkedArray | None, product_ids: pa.ChunkedArray | None
) -> pa.Table:
    n = len(event_ids) if event_ids is not None else len(product_ids or [])
    return pa.table(
        {
            "source": pa.array([source] * n),
            "fault": pa.array([fault] * n),
            c.EVENT_ID: event_ids.combine_chunks()
            if event_ids is not None
            else pa.nulls(n, pa.string()),
            c.PRODUCT_ID: product_ids.combine_chunks()
            if product_ids is not None
            else pa.nulls(n, pa.string()),
        }
    )
