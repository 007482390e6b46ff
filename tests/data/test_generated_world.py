"""The GX gates on generated worlds: a clean world passes whole; every injected fault is caught."""

from __future__ import annotations

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from livecart.core import contract as c
from livecart.core.io import read_source
from livecart.core.settings import LivecartSettings
from livecart.simulation.generate import GenerateResult
from livecart.simulation.generate import run as generate
from livecart.simulation.world.config import WorldConfig
from validation.run import run as validate

pytestmark = pytest.mark.data

EXPECTED_EVENT_REASON = {
    "duplicate": "event_id: duplicate",
    "null_required": "viewer_id: not null",
    "unknown_viewer": "viewer_id: unknown id",
    "unknown_room": "room_id: unknown id",
    "future_timestamp": "event_timestamp: future timestamp",
    "negative_amount": "amount: not > 0 on purchase",
    "bad_event_type": "event_type: unknown event type",
    "broken_text": "text: broken text",
    "oversized_text": "text: oversized text",
}
EXPECTED_PRODUCT_REASON = {
    "negative_price": "price: not > 0",
    "null_price": "price: not null",
    "duplicate": "product_id: duplicate",
}


def test_gate__clean_tiny_world__keeps_every_row(
    tiny_world: GenerateResult, settings: LivecartSettings
) -> None:
    report = validate(settings)
    for table in report.tables:
        assert table.quarantined == 0, (table.table, table.top_reasons())
        assert table.good == table.total == tiny_world.tables[table.table.value]
    assert report.data_docs_index is not None and report.data_docs_index.exists()


def test_gate__dirty_world__every_fault_quarantined_every_clean_row_kept(
    settings: LivecartSettings, tiny_config: WorldConfig
) -> None:
    clean = generate(tiny_config, settings, use_ray=False)
    clean_ids = set(read_source(settings.raw_dir, c.Table.EVENTS).column(c.EVENT_ID).to_pylist())
    generate(tiny_config, settings, dirty=0.05, use_ray=False)
    manifest = pq.read_table(settings.truth_dir / "injected_faults.parquet").to_pandas()
    report = validate(settings)

    events = report.table(c.Table.EVENTS)
    injected_events = manifest.query("source == 'events'")
    assert events.good == clean.events
    assert events.quarantined == len(injected_events)
    kept = read_source(settings.clean_dir, c.Table.EVENTS)
    assert set(kept.column(c.EVENT_ID).to_pylist()) == clean_ids

    quarantine = pq.read_table(events.quarantine_path).to_pandas()
    for fault, expected in EXPECTED_EVENT_REASON.items():
        ids = set(injected_events.query("fault == @fault")[c.EVENT_ID])
        rows = quarantine[quarantine[c.EVENT_ID].isin(ids)]
        if fault == "duplicate":  # the copies share their originals' ids; only copies go
            rows = rows[rows[c.QUARANTINE_REASON].str.contains(expected, regex=False)]
        assert len(rows) >= len(ids) > 0, fault
        assert rows[c.QUARANTINE_REASON].str.contains(expected, regex=False).all(), (
            fault,
            rows[c.QUARANTINE_REASON].unique(),
        )

    products = report.table(c.Table.PRODUCTS)
    injected_products = manifest.query("source == 'products'")
    assert products.quarantined == len(injected_products)
    assert products.good == clean.tables[c.Table.PRODUCTS.value]
    product_quarantine = pq.read_table(products.quarantine_path).to_pandas()
    for fault, expected in EXPECTED_PRODUCT_REASON.items():
        n = len(injected_products.query("fault == @fault"))
        hits = product_quarantine[c.QUARANTINE_REASON].str.contains(expected, regex=False).sum()
        assert hits >= n > 0, fault


def test_gate__dirty_world__clean_rows_never_in_quarantine(
    settings: LivecartSettings, tiny_config: WorldConfig
) -> None:
    generate(tiny_config, settings, dirty=0.1, use_ray=False)
    validate(settings)
    quarantine = pq.read_table(settings.quarantine_dir / "events.parquet")
    not_injected = pc.invert(pc.starts_with(quarantine[c.EVENT_ID], "dirty-"))
    survivors = quarantine.filter(pc.fill_null(not_injected, False))
    # Only duplicate copies carry an original's id into quarantine.
    assert set(survivors.column(c.QUARANTINE_REASON).to_pylist()) <= {"event_id: duplicate"}
