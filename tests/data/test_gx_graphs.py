"""GX's expectation graphs kept and reused (:mod:`validation.gx_graphs`) change no outcome.

Every source's suites on clean rows, and the events suite with each rule broken, give the same
quarantined rows, reasons and table checks, first pass and full results, twice over (the second
time from kept graphs), as with GX's own graphs built every time; and the kept table stays
within its bound.
"""

from __future__ import annotations

from typing import Any

import pytest
from great_expectations.validator.validator import Validator

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
from tests.data.builders import NOW, event, table, valid_rows
from validation import gx_graphs
from validation.engine import GxEngine
from validation.gate import ReferenceSets, validate_frame

pytestmark = pytest.mark.data

BROKEN: list[dict[str, Any]] = [
    {VIEWER_ID: None},
    {VIEWER_ID: "nobody"},
    {WATCH_SECONDS: -3.0},
    {EVENT_TIMESTAMP: NOW.replace(year=NOW.year + 1)},
    {EVENT_TYPE: "teleport"},
    {EVENT_TYPE: EventType.PURCHASE.value, AMOUNT: None},
    {EVENT_TYPE: EventType.CLICK.value, PRODUCT_ID: None},
]
GRAPHS = "_generate_metric_dependency_subgraphs_for_each_expectation_configuration"


def _outcomes(
    engines: list[GxEngine], references: ReferenceSets, s: LivecartSettings, rounds: int
) -> list[Any]:
    batches = [(source, valid_rows(source), references) for source in Table]
    batches += [
        (Table.EVENTS, [*valid_rows(Table.EVENTS)[:4], event(90, **b)], references) for b in BROKEN
    ]
    # The same table's suite without the viewer reference rule (other suite, other ids and meta,
    # same batch id): a viewer unknown to it is not quarantined there.
    viewers_unknown = ReferenceSets().with_table(
        Table.PRODUCTS, table(Table.PRODUCTS, valid_rows(Table.PRODUCTS))
    )
    batches += [
        (Table.EVENTS, [*valid_rows(Table.EVENTS)[:4], event(90, **b)], viewers_unknown)
        for b in BROKEN[:2]
    ]
    found = []
    for _ in range(rounds):  # after the first, from kept graphs (when installed)
        for source, rows, known in batches:
            for engine in engines:
                result = validate_frame(source, table(source, rows), known, s, NOW, engine=engine)
                checks = [(c.check, c.success, c.observed) for c in result.table_checks]
                found.append((source, result.quarantined_rows, result.reason_counts, checks))
    return found


def test_graphs__every_suite_clean_and_broken__gx_own_outcomes(
    references: ReferenceSets,
    settings: LivecartSettings,
    engines: list[GxEngine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert getattr(Validator, GRAPHS) is gx_graphs._graphs, "GxEngine did not install it"
    gx_graphs.forget()
    reused = gx_graphs.STATS["reused"]
    kept = _outcomes(engines, references, settings, rounds=2)
    assert gx_graphs.STATS["reused"] - reused > 1000
    assert sum(bool(rows) for _, rows, _, _ in kept) == 2 * 2 * (len(BROKEN) + 1)
    monkeypatch.setattr(Validator, GRAPHS, gx_graphs.original_graphs)
    own = _outcomes(engines, references, settings, rounds=1)
    assert kept == own + own


def test_graphs__more_than_the_bound__oldest_dropped(
    references: ReferenceSets, settings: LivecartSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gx_graphs, "KEPT_GRAPHS", 5)
    gx_graphs.forget()
    rows = valid_rows(Table.EVENTS)
    validate_frame(Table.EVENTS, table(Table.EVENTS, rows), references, settings, NOW)
    assert len(gx_graphs._KEPT) == 5
    gx_graphs.forget()
