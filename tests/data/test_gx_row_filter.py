"""GX's row-condition filter kept per batch (:mod:`validation.gx_row_filter`) changes no outcome.

Every conditioned rule of the events suite, broken alone and together beside clean rows, gives the
same rows per rule (full results) and the same first-pass verdicts with the kept filter as with
GX's own, and the kept filter does save queries.
"""

from __future__ import annotations

from typing import Any

import pytest
from great_expectations.execution_engine.pandas_execution_engine import PandasExecutionEngine

from livecart.core.contract import AMOUNT, EVENT_TYPE, PRODUCT_ID, EventType, Table
from livecart.core.settings import LivecartSettings
from tests.data.builders import NOW, Row, event, table, valid_rows
from validation import gx_row_filter
from validation.engine import GxEngine
from validation.gate import ReferenceSets, validate_frame

pytestmark = pytest.mark.data

PURCHASE = EventType.PURCHASE.value
BROKEN: dict[str, list[dict[str, Any]]] = {
    "clean": [],
    "purchase without amount": [{EVENT_TYPE: PURCHASE, AMOUNT: None}],
    "purchase at zero": [{EVENT_TYPE: PURCHASE, AMOUNT: 0.0}],
    "click without product": [{EVENT_TYPE: EventType.CLICK.value, PRODUCT_ID: None}],
    "all three": [
        {EVENT_TYPE: PURCHASE, AMOUNT: None},
        {EVENT_TYPE: PURCHASE, AMOUNT: -1.0},
        {EVENT_TYPE: EventType.ADD_TO_CART.value, PRODUCT_ID: None},
    ],
}


def _rows(broken: list[dict[str, Any]]) -> list[Row]:
    rows = list(valid_rows(Table.EVENTS))
    rows += [event(90 + i, **b) for i, b in enumerate(broken)]
    return rows


def _outcomes(
    engines: list[GxEngine], references: ReferenceSets, s: LivecartSettings
) -> list[tuple[str, tuple[int, ...], dict[str, int]]]:
    """Quarantined rows and reasons of every case, from each engine (a wrong first-pass verdict
    shows too: the fast engine would then call a broken batch clean)."""
    found = []
    for case, broken in BROKEN.items():
        frame = table(Table.EVENTS, _rows(broken))
        for engine in engines:
            result = validate_frame(Table.EVENTS, frame, references, s, NOW, engine=engine)
            assert result.quarantined == len(broken), (case, result.reason_counts)
            found.append((case, result.quarantined_rows, result.reason_counts))
    return found


def test_row_filter__every_conditioned_rule__gx_own_outcomes_with_fewer_queries(
    references: ReferenceSets,
    settings: LivecartSettings,
    engines: list[GxEngine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert PandasExecutionEngine._apply_row_condition_filter is gx_row_filter._filter
    queries = {"n": 0}
    original = gx_row_filter._ORIGINAL  # GX's own filter

    def counted(*args: Any) -> Any:
        queries["n"] += 1
        return original(*args)

    monkeypatch.setattr(gx_row_filter, "_ORIGINAL", counted)
    kept = _outcomes(engines, references, settings)
    kept_queries, queries["n"] = queries["n"], 0
    monkeypatch.setattr(PandasExecutionEngine, "_apply_row_condition_filter", counted)
    own = _outcomes(engines, references, settings)
    assert kept == own
    assert 0 < kept_queries <= queries["n"] / 2, (kept_queries, queries["n"])
