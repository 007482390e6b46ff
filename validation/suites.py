"""Great Expectations suites for the raw sources, built from the data contract.

Each source gets a *row* suite: the rules that condemn single rows. Every expectation in it
carries a human-readable reason in ``meta`` (``"<column>: <rule>"``) that the gate copies into the
quarantine table. Distribution checks, which never quarantine, live in :mod:`validation.checks`.

Values that depend on the run (now, the text limit) are GX suite parameters, so a suite is built
once per process and reused for every batch. Referential integrity is checked on a derived boolean
column (``<column>__is_known``) that the gate computes with Arrow: an id set of a million viewers
would otherwise be copied into every validation result and rendered into every Data Docs page.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

import great_expectations as gx
from great_expectations.expectations.core.expect_column_pair_values_a_to_be_greater_than_b import (
    ExpectColumnPairValuesAToBeGreaterThanB,
)
from great_expectations.expectations.core.expect_column_value_lengths_to_be_between import (
    ExpectColumnValueLengthsToBeBetween,
)
from great_expectations.expectations.core.expect_column_values_to_be_between import (
    ExpectColumnValuesToBeBetween,
)
from great_expectations.expectations.core.expect_column_values_to_be_in_set import (
    ExpectColumnValuesToBeInSet,
)
from great_expectations.expectations.core.expect_column_values_to_be_unique import (
    ExpectColumnValuesToBeUnique,
)
from great_expectations.expectations.core.expect_column_values_to_not_be_null import (
    ExpectColumnValuesToNotBeNull,
)
from great_expectations.expectations.core.expect_column_values_to_not_match_regex import (
    ExpectColumnValuesToNotMatchRegex,
)
from great_expectations.expectations.core.expect_compound_columns_to_be_unique import (
    ExpectCompoundColumnsToBeUnique,
)
from great_expectations.expectations.expectation import Expectation
from great_expectations.expectations.row_conditions import Column

from livecart.core.contract import (
    AMOUNT,
    DESCRIPTION,
    END_TIMESTAMP,
    EVENT_TIMESTAMP,
    EVENT_TYPE,
    EVENT_TYPES,
    FOLLOWER_COUNT,
    GIFT_VALUE,
    PRICE,
    PRIMARY_KEYS,
    PRODUCT_EVENT_TYPES,
    PRODUCT_ID,
    RATING,
    REQUIRED_COLUMNS,
    ROOM_ID,
    SHOPPING_FOR,
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
from livecart.core.settings import LivecartSettings

META_REASON: Final = "livecart_reason"
"""``meta`` key of a row expectation: the quarantine reason it stands for."""
META_KIND: Final = "livecart_kind"
"""``meta`` key of a row expectation: :data:`KIND_ROW` or :data:`KIND_DUPLICATE`."""
KIND_ROW: Final = "row"
KIND_DUPLICATE: Final = "duplicate"
"""GX flags every copy of a duplicated key; the gate keeps the first and quarantines the rest."""

PARAM_MAX_TIMESTAMP: Final = "max_timestamp"
PARAM_MIN_TIMESTAMP: Final = "min_timestamp"
PARAM_MAX_TEXT_CHARS: Final = "max_text_chars"

EARLIEST_TIMESTAMP: Final = datetime(2000, 1, 1, tzinfo=UTC)
BROKEN_TEXT_PATTERN: Final = "[\ufffd\x00-\x08\x0b-\x1f\x7f]"
"""The replacement character, or an ASCII control character other than tab and newline."""

# Foreign keys: (column, parent table). The parent's single-column primary key is the target.
REFERENCES: Final[Mapping[Table, tuple[tuple[str, Table], ...]]] = {
    Table.ROOMS: ((STREAMER_ID, Table.STREAMERS),),
    Table.PRODUCTS: ((STREAMER_ID, Table.STREAMERS),),
    Table.ROOM_PRODUCTS: ((ROOM_ID, Table.ROOMS), (PRODUCT_ID, Table.PRODUCTS)),
    Table.EVENTS: (
        (VIEWER_ID, Table.VIEWERS),
        (ROOM_ID, Table.ROOMS),
        (STREAMER_ID, Table.STREAMERS),
        (PRODUCT_ID, Table.PRODUCTS),
    ),
}
PARENT_TABLES: Final = frozenset(parent for refs in REFERENCES.values() for _, parent in refs)
NON_NEGATIVE: Final[Mapping[Table, tuple[str, ...]]] = {
    Table.STREAMERS: (FOLLOWER_COUNT,),
    Table.PRODUCTS: (STOCK,),
    Table.EVENTS: (AMOUNT, GIFT_VALUE, WATCH_SECONDS),
}
# (column, reject future values). A room's end may lie ahead of now while it is still live.
TIMESTAMPS: Final[Mapping[Table, tuple[tuple[str, bool], ...]]] = {
    Table.VIEWERS: ((SIGNUP_TIMESTAMP, True),),
    Table.ROOMS: ((START_TIMESTAMP, True), (END_TIMESTAMP, False)),
    Table.EVENTS: ((EVENT_TIMESTAMP, True),),
}
TEXT_COLUMNS: Final[Mapping[Table, tuple[str, ...]]] = {
    Table.VIEWERS: (SHOPPING_FOR,),
    Table.ROOMS: (TITLE,),
    Table.PRODUCTS: (TITLE, DESCRIPTION),
    Table.EVENTS: (TEXT,),
}


def reason(column: str, rule: str) -> str:
    """The quarantine reason for ``rule`` broken in ``column``, e.g. ``viewer_id: not null``."""
    return f"{column}: {rule}"


def duplicate_reason(table: Table) -> str:
    """The reason given to later copies of a primary key (``event_id: duplicate``)."""
    return reason(", ".join(PRIMARY_KEYS[table]), "duplicate")


def unknown_id_reason(column: str, parent: Table) -> str:
    """The reason given to a foreign key that names no clean row of ``parent``."""
    return reason(column, f"unknown id (not in clean {parent.value})")


def reference_column(column: str) -> str:
    """Name of the derived boolean column saying whether ``column`` names a clean parent row."""
    return f"{column}__is_known"


def suite_parameters(settings: LivecartSettings, now: datetime) -> dict[str, object]:
    """Values of the suites' run-time parameters for a validation at ``now`` (UTC-aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware (UTC)")
    return {
        PARAM_MAX_TIMESTAMP: now + timedelta(seconds=settings.max_future_skew_seconds),
        PARAM_MIN_TIMESTAMP: EARLIEST_TIMESTAMP,
        PARAM_MAX_TEXT_CHARS: settings.max_text_chars,
    }


def row_suite_name(table: Table, parents: Collection[Table]) -> str:
    """Suite name; reference checks skipped for absent parents are visible in the name."""
    missing = [p.value for _, p in REFERENCES.get(table, ()) if p not in parents]
    suffix = "".join(f"-without-{p}" for p in sorted(set(missing)))
    return f"{table.value}.rows{suffix}"


def _row(expectation: Expectation, why: str, kind: str = KIND_ROW) -> Expectation:
    expectation.meta = {META_REASON: why, META_KIND: kind}
    return expectation


def _required_and_keys(table: Table) -> list[Expectation]:
    found: list[Expectation] = [
        _row(ExpectColumnValuesToNotBeNull(column=c), reason(c, "not null"))
        for c in REQUIRED_COLUMNS[table]
    ]
    key = PRIMARY_KEYS[table]
    unique: Expectation = (
        ExpectColumnValuesToBeUnique(column=key[0])
        if len(key) == 1
        else ExpectCompoundColumnsToBeUnique(column_list=list(key))
    )
    found.append(_row(unique, duplicate_reason(table), KIND_DUPLICATE))
    return found


def _ranges(table: Table) -> list[Expectation]:
    found: list[Expectation] = []
    if table is Table.PRODUCTS:
        price = ExpectColumnValuesToBeBetween(column=PRICE, min_value=0, strict_min=True)
        found.append(_row(price, reason(PRICE, "not > 0")))
        rating = ExpectColumnValuesToBeBetween(column=RATING, min_value=0, max_value=5)
        found.append(_row(rating, reason(RATING, "outside [0, 5]")))
    for column in NON_NEGATIVE.get(table, ()):
        check = ExpectColumnValuesToBeBetween(column=column, min_value=0)
        found.append(_row(check, reason(column, "negative")))
    return found


def _references(table: Table, parents: Collection[Table]) -> list[Expectation]:
    found: list[Expectation] = []
    for column, parent in REFERENCES.get(table, ()):
        if parent not in parents:
            continue
        check = ExpectColumnValuesToBeInSet(
            column=reference_column(column),
            value_set=[True],
            description=f"{column} must be the id of a clean {parent.value} row",
        )
        found.append(_row(check, unknown_id_reason(column, parent)))
    return found


def _timestamps(table: Table) -> list[Expectation]:
    found: list[Expectation] = []
    for column, reject_future in TIMESTAMPS.get(table, ()):
        if reject_future:
            late = ExpectColumnValuesToBeBetween(
                column=column, max_value={"$PARAMETER": PARAM_MAX_TIMESTAMP}
            )
            found.append(_row(late, reason(column, "future timestamp")))
        early = ExpectColumnValuesToBeBetween(
            column=column, min_value={"$PARAMETER": PARAM_MIN_TIMESTAMP}
        )
        found.append(_row(early, reason(column, f"before {EARLIEST_TIMESTAMP.date()}")))
    if table is Table.ROOMS:
        order = ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=END_TIMESTAMP,
            column_B=START_TIMESTAMP,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        )
        found.append(_row(order, reason(END_TIMESTAMP, f"before {START_TIMESTAMP}")))
    return found


def _event_rules(table: Table) -> list[Expectation]:
    if table is not Table.EVENTS:
        return []
    purchase = Column(EVENT_TYPE) == EventType.PURCHASE.value
    product_events = "/".join(PRODUCT_EVENT_TYPES)
    return [
        _row(
            ExpectColumnValuesToBeInSet(column=EVENT_TYPE, value_set=list(EVENT_TYPES)),
            reason(EVENT_TYPE, "unknown event type"),
        ),
        _row(
            ExpectColumnValuesToNotBeNull(
                column=PRODUCT_ID, row_condition=Column(EVENT_TYPE).is_in(PRODUCT_EVENT_TYPES)
            ),
            reason(PRODUCT_ID, f"null on {product_events} event"),
        ),
        _row(
            ExpectColumnValuesToNotBeNull(column=AMOUNT, row_condition=purchase),
            reason(AMOUNT, "null on purchase"),
        ),
        _row(
            ExpectColumnValuesToBeBetween(
                column=AMOUNT, min_value=0, strict_min=True, row_condition=purchase
            ),
            reason(AMOUNT, "not > 0 on purchase"),
        ),
    ]


def _text(table: Table) -> list[Expectation]:
    found: list[Expectation] = []
    for column in TEXT_COLUMNS.get(table, ()):
        size = ExpectColumnValueLengthsToBeBetween(
            column=column, max_value={"$PARAMETER": PARAM_MAX_TEXT_CHARS}
        )
        found.append(_row(size, reason(column, "oversized text")))
        broken = ExpectColumnValuesToNotMatchRegex(column=column, regex=BROKEN_TEXT_PATTERN)
        found.append(_row(broken, reason(column, "broken text")))
    return found


def row_suite(table: Table, parents: Collection[Table]) -> gx.ExpectationSuite:
    """Row rules of ``table``; reference checks only against ``parents`` that are present."""
    expectations = [
        *_required_and_keys(table),
        *_ranges(table),
        *_references(table, parents),
        *_timestamps(table),
        *_event_rules(table),
        *_text(table),
    ]
    return gx.ExpectationSuite(name=row_suite_name(table, parents), expectations=expectations)
