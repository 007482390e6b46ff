"""A batch's first GX pass, split with a worker process or not, gives the plain suite's outcomes.

:mod:`validation.pass_worker` runs a share of the row suite in another process so that the API's
verdict comes sooner; a split verdict must equal the whole suite's, for clean batches and for each
broken rule, and a worker that dies mid-batch must cost the verdict nothing.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from livecart.core.contract import (
    AMOUNT,
    EVENT_TIMESTAMP,
    EVENT_TYPE,
    PRODUCT_ID,
    VIEWER_ID,
    WATCH_SECONDS,
    EventType,
    Table,
)
from livecart.core.settings import LivecartSettings
from tests.data.builders import NOW, Row, event, table, valid_rows
from validation.engine import GxEngine
from validation.gate import GateResult, ReferenceSets, validate_frame

pytestmark = pytest.mark.data

BROKEN: dict[str, dict[str, Any]] = {
    "clean": {},
    "null viewer": {VIEWER_ID: None},
    "unknown viewer": {VIEWER_ID: "nobody"},
    "negative watch": {WATCH_SECONDS: -3.0},
    "future": {EVENT_TIMESTAMP: NOW + timedelta(days=2)},
    "unknown type": {EVENT_TYPE: "teleport"},
    "purchase without amount": {EVENT_TYPE: EventType.PURCHASE.value, AMOUNT: None},
    "click without product": {EVENT_TYPE: EventType.CLICK.value, PRODUCT_ID: None},
}


def _rows(broken: dict[str, Any]) -> list[Row]:
    rows = [r for r in valid_rows(Table.EVENTS)][:4]
    rows.append(event(90, **broken))
    return rows


def _gate(
    rows: list[Row], engine: GxEngine, references: ReferenceSets, s: LivecartSettings
) -> GateResult:
    return validate_frame(
        Table.EVENTS, table(Table.EVENTS, rows), references, s, NOW, engine=engine
    )


def test_first_pass__every_rule__plain_suite_outcomes_split_or_not_and_after_worker_dies(
    engine: GxEngine, references: ReferenceSets, settings: LivecartSettings, tmp_path: Path
) -> None:
    """The first pass (twins of the suite's expectations, verdict only), alone and split with a
    worker, against an engine that validates every batch with the plain suite for its rows
    (Data Docs on: no first pass). One worker for every case: starting one is a new interpreter
    importing GX (seconds), so it starts first and boots while the plain comparisons run."""
    split = GxEngine(pass_workers=1)
    try:
        plain = GxEngine(docs_dir=tmp_path / "docs")
        for case, broken in BROKEN.items():
            fast = _gate(_rows(broken), engine, references, settings)
            full = _gate(_rows(broken), plain, references, settings)
            assert fast.quarantined_rows == full.quarantined_rows, case
            assert fast.reason_counts == full.reason_counts, case
            assert (case == "clean") == (full.quarantined == 0), case
        deadline = time.monotonic() + 90
        while split.workers_ready() < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert split.workers_ready() == 1, "the pass worker did not start within 90 s"
        worker = split._workers[0]
        for case, broken in BROKEN.items():
            answered = worker.answered
            alone = _gate(_rows(broken), engine, references, settings)
            both = _gate(_rows(broken), split, references, settings)
            assert worker.answered == answered + 1, f"{case}: the worker validated no share"
            assert both.quarantined_rows == alone.quarantined_rows, case
            assert both.reason_counts == alone.reason_counts, case
        # A worker that died: the engine validates its share itself, and misses no rule.
        worker.kill()
        for case, broken in BROKEN.items():
            alone = _gate(_rows(broken), engine, references, settings)
            both = _gate(_rows(broken), split, references, settings)
            assert both.quarantined_rows == alone.quarantined_rows, case
        assert split.workers_ready() == 0 and worker.answered == answered + 1
    finally:
        split.close()
