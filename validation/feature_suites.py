"""Great Expectations suites for the offline feature tables, one per :class:`FeatureTable`, and what
checking them found (:class:`FeatureSuiteReport`, the :class:`FeatureGateBlocked` message).

Feature tables are derived data: a broken rule says the feature job (or its input) is wrong, so the
gate in :mod:`validation.feature_gate` blocks instead of quarantining rows. Every expectation
carries, in ``meta``, the feature column it is about and the rule in words, which is what the gate
prints when it blocks.

GX cannot look inside list columns, so the gate's DuckDB read adds derived scalar columns
(:func:`derived_columns`): the min, max and sum of a probability vector and the length of a
"last N items" list. Their expectations still name the list column itself. The run-dependent
bounds (now) are suite parameters, like in the raw suites.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import great_expectations as gx
from great_expectations.expectations.core.expect_column_mean_to_be_between import (
    ExpectColumnMeanToBeBetween,
)
from great_expectations.expectations.core.expect_column_values_to_be_between import (
    ExpectColumnValuesToBeBetween,
)
from great_expectations.expectations.core.expect_column_values_to_be_in_set import (
    ExpectColumnValuesToBeInSet,
)
from great_expectations.expectations.core.expect_column_values_to_not_be_null import (
    ExpectColumnValuesToNotBeNull,
)
from great_expectations.expectations.core.expect_compound_columns_to_be_unique import (
    ExpectCompoundColumnsToBeUnique,
)
from great_expectations.expectations.expectation import Expectation

from livecart.core import feature_names as f
from livecart.core.contract import EVENT_TIMESTAMP
from livecart.core.errors import GateBlocked
from livecart.core.feature_names import (
    ENTITY_KEYS,
    LAST_ITEMS,
    LAST_PRODUCTS,
    LAST_PURCHASES,
    LAST_ROOMS,
    NON_NEGATIVE_COLUMNS,
    RATE_COLUMNS,
    ROOM_BUCKET_MINUTES,
    VIEWER_CATEGORY_AFFINITY,
    FeatureTable,
)
from livecart.core.settings import LivecartSettings
from validation.suites import EARLIEST_TIMESTAMP, PARAM_MAX_TIMESTAMP, PARAM_MIN_TIMESTAMP

META_COLUMN: Final = "livecart_column"
"""``meta`` key of a feature expectation: the feature column it is about (never a derived one)."""
META_RULE: Final = "livecart_rule"
"""``meta`` key of a feature expectation: the rule in words, as the gate reports it."""

RATE_MEAN_BOUNDS: Final[tuple[float, float]] = (0.001, 0.9)
"""Healthy mean of a smoothed rate: 0 or 1 on average means the counts behind it are broken."""
PROBABILITY_SUM_TOLERANCE: Final = 1e-3
"""Shares are FLOAT (32-bit) in the feature table; their sum drifts by ~1e-7 per category."""

STAMP_LEAD: Final[Mapping[FeatureTable, timedelta]] = {
    FeatureTable.VIEWER_PROFILE: timedelta(days=1),
    FeatureTable.PRODUCT_PROFILE: timedelta(days=1),
    FeatureTable.ROOM_LIVE_STATS: timedelta(minutes=ROOM_BUCKET_MINUTES),
    FeatureTable.PRODUCT_GRAPH: timedelta(days=1),
    FeatureTable.VIEWER_SEGMENT: timedelta(days=1),  # stamped like the profiles it clusters
}
"""How far past its newest event the feature job stamps a row, by design.

Daily profile snapshots are stamped at the *next* midnight and room stats at the end of their
bucket (ray_jobs/feature_tables), so with today's events in the log those rows lie legitimately
ahead of now; the future-timestamp rule allows this lead on top of ``max_future_skew_seconds``.
"""
PROBABILITY_LISTS: Final[Mapping[FeatureTable, tuple[str, ...]]] = {
    FeatureTable.VIEWER_PROFILE: (VIEWER_CATEGORY_AFFINITY,),
}
"""List columns holding a probability vector: values in [0, 1] summing to 1 (0 without history)."""
BOUNDED_LISTS: Final[Mapping[FeatureTable, tuple[tuple[str, int], ...]]] = {
    FeatureTable.VIEWER_BEHAVIOR: (
        (LAST_ROOMS, LAST_ITEMS),
        (LAST_PRODUCTS, LAST_ITEMS),
        (LAST_PURCHASES, LAST_ITEMS),
    ),
    FeatureTable.VIEWER_VISITS: (
        (f.VISIT_STREAMERS, f.VISIT_HISTORY_LENGTH),
        (f.VISIT_UNITS, f.VISIT_HISTORY_LENGTH),
    ),
    FeatureTable.STREAMER_VISITS: (
        (f.STREAMER_VISIT_UNITS, f.VISIT_HORIZON_UNITS + 1),
        (f.STREAMER_VISIT_COUNTS, f.VISIT_HORIZON_UNITS + 1),
    ),
}
"""List columns with a maximum length: (column, longest allowed)."""


def list_min_column(column: str) -> str:
    """Derived column: the smallest value of list ``column`` on each row."""
    return f"{column}__min"


def list_max_column(column: str) -> str:
    """Derived column: the largest value of list ``column`` on each row."""
    return f"{column}__max"


def list_sum_column(column: str) -> str:
    """Derived column: the sum of list ``column``, snapped to 0 or 1 when within tolerance.

    Snapping turns "sums to 0 or to 1, give or take the tolerance" into a set membership GX can
    check, while a broken row still shows its real sum (say 3.0) as the observed value.
    """
    return f"{column}__sum"


def list_length_column(column: str) -> str:
    """Derived column: the number of items in list ``column`` on each row."""
    return f"{column}__length"


def derived_columns(table: FeatureTable) -> dict[str, str]:
    """DuckDB expressions of the derived columns of ``table``, by derived column name."""
    found: dict[str, str] = {}
    tol = PROBABILITY_SUM_TOLERANCE
    for column in PROBABILITY_LISTS.get(table, ()):
        total = f"list_sum({column})"
        found[list_min_column(column)] = f"list_min({column})::DOUBLE"
        found[list_max_column(column)] = f"list_max({column})::DOUBLE"
        found[list_sum_column(column)] = (
            f"CASE WHEN abs({total}) <= {tol} THEN 0.0 "
            f"WHEN abs({total} - 1) <= {tol} THEN 1.0 ELSE {total}::DOUBLE END"
        )
    for column, _ in BOUNDED_LISTS.get(table, ()):
        found[list_length_column(column)] = f"len({column})::BIGINT"
    return found


def key_columns(table: FeatureTable) -> tuple[str, ...]:
    """The columns that identify a row: the entity keys and ``event_timestamp``."""
    return (*ENTITY_KEYS[table], EVENT_TIMESTAMP)


def scalar_columns(table: FeatureTable) -> tuple[str, ...]:
    """The file's columns that GX checks as they are: keys, rates and non-negative values."""
    return (*key_columns(table), *RATE_COLUMNS.get(table, ()), *NON_NEGATIVE_COLUMNS.get(table, ()))


def list_columns(table: FeatureTable) -> tuple[str, ...]:
    """The file's list columns that GX checks through :func:`derived_columns`."""
    return (*PROBABILITY_LISTS.get(table, ()), *(c for c, _ in BOUNDED_LISTS.get(table, ())))


def unique_rule(table: FeatureTable) -> str:
    """The uniqueness rule in words, shared by the GX check and the exact DuckDB check."""
    return f"unique ({', '.join(key_columns(table))})"


def feature_parameters(
    settings: LivecartSettings, now: datetime, table: FeatureTable
) -> dict[str, object]:
    """Values of the suite parameters of ``table`` for a check at ``now`` (UTC-aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware (UTC)")
    lead = STAMP_LEAD.get(table, timedelta(0))
    return {
        PARAM_MAX_TIMESTAMP: now + timedelta(seconds=settings.max_future_skew_seconds) + lead,
        PARAM_MIN_TIMESTAMP: EARLIEST_TIMESTAMP,
    }


def _rule(expectation: Expectation, column: str, rule: str) -> Expectation:
    expectation.meta = {META_COLUMN: column, META_RULE: rule}
    return expectation


def _keys(table: FeatureTable) -> list[Expectation]:
    keys = key_columns(table)
    found = [_rule(ExpectColumnValuesToNotBeNull(column=k), k, "not null") for k in keys]
    unique = ExpectCompoundColumnsToBeUnique(column_list=list(keys))
    found.append(_rule(unique, ", ".join(keys), unique_rule(table)))
    return found


def _timestamps(table: FeatureTable, skew_seconds: float) -> list[Expectation]:
    late = ExpectColumnValuesToBeBetween(
        column=EVENT_TIMESTAMP, max_value={"$PARAMETER": PARAM_MAX_TIMESTAMP}
    )
    early = ExpectColumnValuesToBeBetween(
        column=EVENT_TIMESTAMP, min_value={"$PARAMETER": PARAM_MIN_TIMESTAMP}
    )
    lead = STAMP_LEAD.get(table, timedelta(0))
    days, rest = divmod(lead, timedelta(days=1))
    span = f"{days} d" if days and not rest else f"{lead.total_seconds() / 60:g} min"
    bound = f"now + {skew_seconds:g} s" + (f" + {span} stamp lead" if lead else "")
    return [
        _rule(late, EVENT_TIMESTAMP, f"not in the future (<= {bound})"),
        _rule(early, EVENT_TIMESTAMP, f"not before {EARLIEST_TIMESTAMP.date()}"),
    ]


def _ranges(table: FeatureTable) -> list[Expectation]:
    found: list[Expectation] = []
    low, high = RATE_MEAN_BOUNDS
    for column in RATE_COLUMNS.get(table, ()):
        rate = ExpectColumnValuesToBeBetween(column=column, min_value=0, max_value=1)
        found.append(_rule(rate, column, "within [0, 1]"))
        mean = ExpectColumnMeanToBeBetween(column=column, min_value=low, max_value=high)
        found.append(_rule(mean, column, f"mean within [{low:g}, {high:g}]"))
    for column in NON_NEGATIVE_COLUMNS.get(table, ()):
        check = ExpectColumnValuesToBeBetween(column=column, min_value=0)
        found.append(_rule(check, column, ">= 0"))
    return found


def _lists(table: FeatureTable) -> list[Expectation]:
    found: list[Expectation] = []
    for column in PROBABILITY_LISTS.get(table, ()):
        present = ExpectColumnValuesToNotBeNull(column=list_sum_column(column))
        found.append(_rule(present, column, "not null or empty"))
        low = ExpectColumnValuesToBeBetween(column=list_min_column(column), min_value=0)
        found.append(_rule(low, column, "list values >= 0"))
        high = ExpectColumnValuesToBeBetween(column=list_max_column(column), max_value=1)
        found.append(_rule(high, column, "list values <= 1"))
        total = ExpectColumnValuesToBeInSet(column=list_sum_column(column), value_set=[0.0, 1.0])
        rule = f"list sums to 1 (0 without history) within {PROBABILITY_SUM_TOLERANCE:g}"
        found.append(_rule(total, column, rule))
    for column, longest in BOUNDED_LISTS.get(table, ()):
        size = ExpectColumnValuesToBeBetween(column=list_length_column(column), max_value=longest)
        found.append(_rule(size, column, f"list length <= {longest}"))
    return found


def feature_suite(table: FeatureTable, settings: LivecartSettings) -> gx.ExpectationSuite:
    """The rules of ``table``; the bounds that depend on ``now`` are suite parameters."""
    expectations = [
        *_keys(table),
        *_timestamps(table, settings.max_future_skew_seconds),
        *_ranges(table),
        *_lists(table),
    ]
    return gx.ExpectationSuite(name=f"features.{table.value}", expectations=expectations)


@dataclass(frozen=True)
class RuleResult:
    """One rule on one feature column: GX on the sample, or an ``exact`` whole-file check."""

    column: str
    rule: str
    success: bool
    observed: str
    exact: bool


@dataclass(frozen=True)
class FeatureTableReport:
    """What the gate found in one feature table; ``rows_checked`` is the size of GX's sample."""

    table: FeatureTable
    path: Path
    rows: int
    rows_checked: int
    rules: tuple[RuleResult, ...]
    note: str | None = None
    seconds: float = 0.0

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.rules if not r.success)


@dataclass(frozen=True)
class FeatureSuiteReport:
    """The outcome of one feature gate run over the feature tables."""

    checked_at: datetime
    tables: tuple[FeatureTableReport, ...]
    data_docs_index: Path | None

    def table(self, table: FeatureTable) -> FeatureTableReport:
        for item in self.tables:
            if item.table is table:
                return item
        raise KeyError(f"{table.value} was not checked in this run")

    @property
    def failures(self) -> tuple[tuple[FeatureTable, RuleResult], ...]:
        return tuple((t.table, r) for t in self.tables for r in t.failures)


def blocked_message(report: FeatureSuiteReport) -> str:
    """A headline, then one line per failed rule naming table, column, rule and observed value.

    For example ``feature table 'viewer_profile', column 'viewer_ctr': rule 'within [0, 1]'
    failed (observed 1 of 9,466 rows, e.g. 1.7)``; the last line points at the Data Docs.
    """
    failures = report.failures
    tables = len({t for t, _ in failures})
    lines = [f"feature gate blocked: {len(failures)} rule(s) failed in {tables} feature table(s)"]
    for table, rule in failures:
        lines.append(
            f"  feature table {table.value!r}, column {rule.column!r}: "
            f"rule {rule.rule!r} failed (observed {rule.observed or 'n/a'})"
        )
    if report.data_docs_index is not None:
        lines.append(f"Data Docs: {report.data_docs_index}")
    return "\n".join(lines)


class FeatureGateBlocked(GateBlocked):
    """A feature table broke its suite; ``report`` holds every table's results."""

    def __init__(self, report: FeatureSuiteReport) -> None:
        super().__init__(blocked_message(report))
        self.report = report
