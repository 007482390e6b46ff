"""Table-level distribution checks: what a healthy batch looks like as a whole.

Shares, means and category domains do not condemn any single row, so these suites never quarantine;
their failures are reported as warnings (in the run report and in Data Docs). GX's ``mostly``
turns a row rule into a share: "at most half the events are purchases" is "at least half are not".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import great_expectations as gx
from great_expectations.expectations.core.expect_column_mean_to_be_between import (
    ExpectColumnMeanToBeBetween,
)
from great_expectations.expectations.core.expect_column_values_to_be_in_set import (
    ExpectColumnValuesToBeInSet,
)
from great_expectations.expectations.core.expect_column_values_to_not_be_in_set import (
    ExpectColumnValuesToNotBeInSet,
)
from great_expectations.expectations.core.expect_table_row_count_to_be_between import (
    ExpectTableRowCountToBeBetween,
)
from great_expectations.expectations.expectation import Expectation

from livecart.core.contract import (
    AGE_BAND,
    AGE_BANDS,
    CATEGORIES,
    CATEGORY,
    DEVICE,
    DEVICES,
    EVENT_TYPE,
    MAIN_CATEGORY,
    RATING,
    REGION,
    REGIONS,
    EventType,
    Table,
)

META_CHECK: Final = "livecart_check"
"""``meta`` key of a table expectation: a short name for the report."""
MAX_PURCHASE_SHARE: Final = 0.5
CATEGORY_MOSTLY: Final = 0.99

CATEGORICAL: Final[Mapping[Table, tuple[tuple[str, tuple[str, ...]], ...]]] = {
    Table.VIEWERS: ((AGE_BAND, AGE_BANDS), (REGION, REGIONS), (DEVICE, DEVICES)),
    Table.STREAMERS: ((MAIN_CATEGORY, CATEGORIES),),
    Table.ROOMS: ((CATEGORY, CATEGORIES),),
    Table.PRODUCTS: ((CATEGORY, CATEGORIES),),
}


def table_suite_name(table: Table) -> str:
    return f"{table.value}.table"


def _check(expectation: Expectation, name: str) -> Expectation:
    expectation.meta = {META_CHECK: name}
    return expectation


def table_suite(table: Table) -> gx.ExpectationSuite:
    """Distribution checks of ``table``: reported as warnings, never quarantining rows."""
    checks: list[Expectation] = []
    if table is not Table.EVENTS:
        rows = ExpectTableRowCountToBeBetween(min_value=1)
        checks.append(_check(rows, "table is not empty"))
    for column, domain in CATEGORICAL.get(table, ()):
        known = ExpectColumnValuesToBeInSet(
            column=column, value_set=list(domain), mostly=CATEGORY_MOSTLY
        )
        name = f"{column} in the contract's values (>= {CATEGORY_MOSTLY:.0%} of rows)"
        checks.append(_check(known, name))
    if table is Table.PRODUCTS:
        mean = ExpectColumnMeanToBeBetween(column=RATING, min_value=1, max_value=5)
        checks.append(_check(mean, f"mean {RATING} within [1, 5]"))
    if table is Table.EVENTS:
        # "at most half the rows are purchases" == "at least half are not": GX's `mostly`.
        share = ExpectColumnValuesToNotBeInSet(
            column=EVENT_TYPE, value_set=[EventType.PURCHASE.value], mostly=1 - MAX_PURCHASE_SHARE
        )
        checks.append(_check(share, f"purchase share of events within [0, {MAX_PURCHASE_SHARE}]"))
    return gx.ExpectationSuite(name=table_suite_name(table), expectations=checks)
