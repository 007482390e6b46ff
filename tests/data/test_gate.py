"""Row rules of the validation gate: each rule quarantines the rows breaking it, with a reason."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from livecart.core.contract import (
    AMOUNT,
    DESCRIPTION,
    END_TIMESTAMP,
    EVENT_ID,
    EVENT_TIMESTAMP,
    FOLLOWER_COUNT,
    GIFT_VALUE,
    PRICE,
    PRIMARY_KEYS,
    PRODUCT_EVENT_TYPES,
    PRODUCT_ID,
    QUARANTINE_REASON,
    QUARANTINE_SOURCE,
    RATING,
    REQUIRED_COLUMNS,
    ROOM_ID,
    SCHEMAS,
    SIGNUP_TIMESTAMP,
    START_TIMESTAMP,
    STOCK,
    TEXT,
    TITLE,
    WATCH_SECONDS,
    EventType,
    Table,
)
from livecart.core.errors import ContractError, GateBlocked
from livecart.core.settings import LivecartSettings
from tests.data.builders import (
    NOW,
    Row,
    event,
    product,
    room,
    room_product,
    streamer,
    table,
    valid_rows,
    viewer,
)
from tests.data.conftest import Gate
from validation.gate import GateResult, ReferenceSets, SeenKeys, enforce_threshold
from validation.suites import REFERENCES, TEXT_COLUMNS

pytestmark = pytest.mark.data

ROW_BUILDERS = {
    Table.VIEWERS: viewer,
    Table.STREAMERS: streamer,
    Table.ROOMS: lambda i, **kw: room(i, streamer_index=0, **kw),
    Table.PRODUCTS: product,
    Table.EVENTS: event,
}


def reasons(result: GateResult) -> list[str]:
    return [str(r) for r in result.quarantine.column(QUARANTINE_REASON).to_pylist()]


def only_reason(result: GateResult) -> str:
    """The reason of the single quarantined row (fails when zero or several rows failed)."""
    assert result.quarantined == 1, reasons(result)
    return reasons(result)[0]


def with_bad_row(source: Table, bad: Row) -> list[Row]:
    """The valid batch of ``source`` with ``bad`` appended (give it an unused key)."""
    return [*valid_rows(source), bad]


def test_gate__valid_batches__pass_every_row(gate: Gate) -> None:
    for source in Table:
        result = gate(source, valid_rows(source))
        assert (result.quarantined, result.good.num_rows) == (0, len(valid_rows(source))), source
        assert result.quarantine.column_names[-2:] == [QUARANTINE_REASON, QUARANTINE_SOURCE]


REQUIRED_CASES = [(s, c) for s in Table for c in REQUIRED_COLUMNS[s]]


@pytest.mark.parametrize(("source", "column"), REQUIRED_CASES, ids=lambda x: str(x))
def test_gate__null_required_column__quarantined_as_not_null(
    gate: Gate, source: Table, column: str
) -> None:
    rows = valid_rows(source)
    rows[-1] = {**rows[-1], column: None}
    assert only_reason(gate(source, rows)) == f"{column}: not null"


def test_gate__duplicate_event_ids__keeps_first_quarantines_rest(gate: Gate) -> None:
    rows = [event(1, text="first"), event(1, text="second"), event(2), event(1, text="third")]
    result = gate(Table.EVENTS, rows)
    assert result.good.column(TEXT).to_pylist() == ["first", None]
    assert result.quarantine.column(TEXT).to_pylist() == ["second", "third"]
    assert reasons(result) == ["event_id: duplicate"] * 2


@pytest.mark.parametrize("source", [Table.VIEWERS, Table.STREAMERS, Table.ROOMS, Table.PRODUCTS])
def test_gate__duplicate_catalog_key__keeps_first(gate: Gate, source: Table) -> None:
    rows = valid_rows(source)
    result = gate(source, [*rows, dict(rows[0])])
    assert result.good.num_rows == len(rows)
    assert only_reason(result) == f"{PRIMARY_KEYS[source][0]}: duplicate"


def test_gate__duplicate_room_product_pair__keeps_first(gate: Gate) -> None:
    rows = [room_product(0, 0), room_product(0, 1), room_product(0, 0), room_product(1, 0)]
    result = gate(Table.ROOM_PRODUCTS, rows)
    assert result.good.num_rows == 3
    assert only_reason(result) == f"{ROOM_ID}, {PRODUCT_ID}: duplicate"


def test_gate__event_id_seen_in_earlier_batch__quarantined_as_duplicate(gate: Gate) -> None:
    seen = SeenKeys()
    first = gate(Table.EVENTS, [event(1), event(2)], seen=seen)
    second = gate(Table.EVENTS, [event(2), event(3)], seen=seen)
    assert first.quarantined == 0
    assert second.good.column(EVENT_ID).to_pylist() == ["e3"]
    assert only_reason(second) == "event_id: duplicate"


def test_gate__quarantined_event_sent_again_corrected__accepted_not_a_duplicate(
    gate: Gate,
) -> None:
    seen = SeenKeys()
    first = gate(Table.EVENTS, [event(1), event(2, viewer_id="nobody")], seen=seen)
    second = gate(Table.EVENTS, [event(2)], seen=seen)
    assert first.good.column(EVENT_ID).to_pylist() == ["e1"]
    assert second.quarantined == 0 and second.good.column(EVENT_ID).to_pylist() == ["e2"]


RANGE_CASES = [
    (Table.PRODUCTS, PRICE, -1.0, "price: not > 0"),
    (Table.PRODUCTS, PRICE, 0.0, "price: not > 0"),
    (Table.PRODUCTS, RATING, 5.5, "rating: outside [0, 5]"),
    (Table.PRODUCTS, RATING, -0.1, "rating: outside [0, 5]"),
    (Table.PRODUCTS, STOCK, -1, "stock: negative"),
    (Table.STREAMERS, FOLLOWER_COUNT, -3, "follower_count: negative"),
    (Table.EVENTS, AMOUNT, -2.0, "amount: negative"),
    (Table.EVENTS, GIFT_VALUE, -2.0, "gift_value: negative"),
    (Table.EVENTS, WATCH_SECONDS, -2.0, "watch_seconds: negative"),
]


@pytest.mark.parametrize(("source", "column", "value", "expected"), RANGE_CASES)
def test_gate__value_out_of_range__quarantined_with_rule(
    gate: Gate, source: Table, column: str, value: float, expected: str
) -> None:
    bad = ROW_BUILDERS[source](99, **{column: value})
    assert only_reason(gate(source, with_bad_row(source, bad))) == expected


@pytest.mark.parametrize(
    ("source", "column", "value"),
    [(Table.PRODUCTS, RATING, 0.0), (Table.PRODUCTS, RATING, 5.0), (Table.PRODUCTS, STOCK, 0)],
)
def test_gate__value_on_range_boundary__passes(
    gate: Gate, source: Table, column: str, value: float
) -> None:
    assert gate(source, [ROW_BUILDERS[source](9, **{column: value})]).quarantined == 0


REFERENCE_CASES = [(s, c, p) for s, refs in REFERENCES.items() for c, p in refs]


@pytest.mark.parametrize(("source", "column", "parent"), REFERENCE_CASES, ids=lambda x: str(x))
def test_gate__unknown_foreign_key__quarantined_as_unknown_id(
    gate: Gate, source: Table, column: str, parent: Table
) -> None:
    rows = valid_rows(source)
    bad = {**rows[-1], column: "ghost"}
    if source is Table.EVENTS:
        bad = {**event(99, EventType.CLICK), column: "ghost"}
    result = gate(source, [*rows[:-1], bad])
    assert only_reason(result) == f"{column}: unknown id (not in clean {parent.value})"


def test_gate__absent_parent__skips_its_reference_check(
    gate: Gate, references: ReferenceSets
) -> None:
    without_products = ReferenceSets(
        {t: ids for t, ids in references.ids.items() if t is not Table.PRODUCTS}
    )
    rows = [event(1, EventType.CLICK, product_id="not-in-any-catalog")]
    assert gate(Table.EVENTS, rows, references=without_products).quarantined == 0
    assert gate(Table.EVENTS, rows).quarantined == 1


def test_gate__null_optional_product_id__not_a_reference_failure(gate: Gate) -> None:
    assert gate(Table.EVENTS, [event(1, EventType.IMPRESSION, product_id=None)]).quarantined == 0


TIMESTAMP_CASES = [
    (Table.EVENTS, EVENT_TIMESTAMP),
    (Table.VIEWERS, SIGNUP_TIMESTAMP),
    (Table.ROOMS, START_TIMESTAMP),
]


@pytest.mark.parametrize(("source", "column"), TIMESTAMP_CASES)
def test_gate__timestamp_after_now_plus_skew__quarantined_as_future(
    gate: Gate, settings: LivecartSettings, source: Table, column: str
) -> None:
    late = NOW + timedelta(seconds=settings.max_future_skew_seconds + 1)
    bad = ROW_BUILDERS[source](9, **{column: late})
    if source is Table.ROOMS:
        bad[END_TIMESTAMP] = late + timedelta(hours=1)
    assert only_reason(gate(source, [bad])) == f"{column}: future timestamp"


def test_gate__timestamp_within_skew__passes(gate: Gate, settings: LivecartSettings) -> None:
    almost = NOW + timedelta(seconds=settings.max_future_skew_seconds - 1)
    assert gate(Table.EVENTS, [event(1, event_timestamp=almost)]).quarantined == 0


@pytest.mark.parametrize(("source", "column"), [*TIMESTAMP_CASES, (Table.ROOMS, END_TIMESTAMP)])
def test_gate__timestamp_before_2000__quarantined(gate: Gate, source: Table, column: str) -> None:
    early = datetime(1999, 12, 31, 23, 59, tzinfo=NOW.tzinfo)
    bad = ROW_BUILDERS[source](9, **{column: early})
    if source is Table.ROOMS:  # keep the room's end after its start
        bad[START_TIMESTAMP] = min(bad[START_TIMESTAMP], early)
    assert f"{column}: before 2000-01-01" in only_reason(gate(source, [bad])).split("; ")


def test_gate__room_ending_before_start__quarantined(gate: Gate) -> None:
    bad = room(0)
    bad[END_TIMESTAMP] = bad[START_TIMESTAMP] - timedelta(minutes=1)
    assert only_reason(gate(Table.ROOMS, [bad, room(1)])) == "end_timestamp: before start_timestamp"


def test_gate__unknown_event_type__quarantined(gate: Gate) -> None:
    bad = event(9, event_type="teleport")
    assert only_reason(gate(Table.EVENTS, [event(1), bad])) == "event_type: unknown event type"


@pytest.mark.parametrize("kind", PRODUCT_EVENT_TYPES)
def test_gate__product_event_without_product__quarantined(gate: Gate, kind: str) -> None:
    bad = event(9, EventType(kind), product_id=None)
    expected = "product_id: null on click/add_to_cart/purchase event"
    assert only_reason(gate(Table.EVENTS, [event(1), bad])) == expected


@pytest.mark.parametrize(
    ("amount", "expected"),
    [(None, "amount: null on purchase"), (0.0, "amount: not > 0 on purchase")],
)
def test_gate__purchase_without_positive_amount__quarantined(
    gate: Gate, amount: float | None, expected: str
) -> None:
    bad = event(9, EventType.PURCHASE, amount=amount)
    assert only_reason(gate(Table.EVENTS, [event(1), bad])) == expected


def test_gate__negative_purchase_amount__gets_both_reasons_joined(gate: Gate) -> None:
    bad = event(9, EventType.PURCHASE, amount=-5.0)
    assert only_reason(gate(Table.EVENTS, [bad])) == "amount: negative; amount: not > 0 on purchase"


TEXT_CASES = [(s, c) for s, columns in TEXT_COLUMNS.items() for c in columns]


@pytest.mark.parametrize(("source", "column"), TEXT_CASES)
def test_gate__text_longer_than_limit__quarantined_as_oversized(
    gate: Gate, settings: LivecartSettings, source: Table, column: str
) -> None:
    fits = ROW_BUILDERS[source](8, **{column: "x" * settings.max_text_chars})
    bad = ROW_BUILDERS[source](9, **{column: "x" * (settings.max_text_chars + 1)})
    result = gate(source, [fits, bad])
    assert only_reason(result) == f"{column}: oversized text"


@pytest.mark.parametrize("broken", ["caf\ufffd", "bell\x07", "nul\x00", "esc\x1b[0m", "del\x7f"])
@pytest.mark.parametrize(("source", "column"), TEXT_CASES)
def test_gate__text_with_replacement_or_control_char__quarantined_as_broken(
    gate: Gate, source: Table, column: str, broken: str
) -> None:
    bad = ROW_BUILDERS[source](9, **{column: broken})
    assert only_reason(gate(source, [bad])) == f"{column}: broken text"


def test_gate__text_with_tab_and_newline__passes(gate: Gate) -> None:
    rows = [product(0, **{DESCRIPTION: "a\tb\nc", TITLE: "ok"}), event(1, text="line\nnext\t!")]
    assert gate(Table.PRODUCTS, rows[:1]).quarantined == 0
    assert gate(Table.EVENTS, rows[1:]).quarantined == 0


def test_gate__several_broken_rules__reasons_joined_in_suite_order(gate: Gate) -> None:
    bad = event(1, viewer_id=None, event_type="teleport", text="x\x01")
    expected = "viewer_id: not null; event_type: unknown event type; text: broken text"
    assert only_reason(gate(Table.EVENTS, [bad])) == expected


def mixed_events() -> list[Row]:
    return [
        event(0),
        event(1, viewer_id=None),
        event(2, EventType.PURCHASE, amount=None),
        event(0, text="copy"),
        event(3, EventType.COMMENT),
        event(4, room_id="ghost"),
        event(5, EventType.GIFT),
    ]


def test_gate__mixed_batch__good_plus_quarantine_equals_input(gate: Gate) -> None:
    source = table(Table.EVENTS, mixed_events())
    result = gate(Table.EVENTS, mixed_events())
    assert (result.good.num_rows, result.quarantined) == (3, 4)
    back = result.quarantine.drop_columns([QUARANTINE_REASON, QUARANTINE_SOURCE])
    assert back.schema.equals(SCHEMAS[Table.EVENTS])
    rebuilt = pa.concat_tables([result.good, back]).to_pylist()
    original = source.to_pylist()
    assert sorted(map(repr, rebuilt)) == sorted(map(repr, original))


def test_gate__quarantine__names_its_source_table(gate: Gate) -> None:
    result = gate(Table.EVENTS, mixed_events())
    assert set(result.quarantine.column(QUARANTINE_SOURCE).to_pylist()) == {"events"}
    assert result.reason_counts == {
        "viewer_id: not null": 1,
        "event_id: duplicate": 1,
        "room_id: unknown id (not in clean rooms)": 1,
        "amount: null on purchase": 1,
    }


def test_gate__empty_batch__passes_with_empty_outputs(gate: Gate) -> None:
    result = gate(Table.EVENTS, [])
    assert (result.total, result.quarantined, result.fraction) == (0, 0, 0.0)


def test_gate__frame_not_conformed__raises_contract_error(
    settings: LivecartSettings, references: ReferenceSets
) -> None:
    from validation.gate import validate_frame

    frame = table(Table.EVENTS, [event(1)]).drop_columns([TEXT])
    with pytest.raises(ContractError, match="conform"):
        validate_frame(Table.EVENTS, frame, references, settings, NOW)


def test_gate__purchase_share_above_half__table_check_fails_without_quarantine(gate: Gate) -> None:
    rows = [event(i, EventType.PURCHASE) for i in range(3)] + [event(9)]
    result = gate(Table.EVENTS, rows)
    share = [c for c in result.table_checks if c.check.startswith("purchase share")]
    assert [c.success for c in share] == [False]
    assert result.quarantined == 0


def test_gate__mean_rating_below_one__table_check_fails_without_quarantine(gate: Gate) -> None:
    result = gate(Table.PRODUCTS, [product(i, **{RATING: 0.5}) for i in range(3)])
    mean = [c for c in result.table_checks if c.check.startswith(f"mean {RATING}")]
    assert [(c.success, c.observed) for c in mean] == [(False, "0.5")]
    assert result.quarantined == 0


def test_gate__healthy_batch__table_checks_pass(gate: Gate) -> None:
    for source in Table:
        failed = [c.check for c in gate(source, valid_rows(source)).table_checks if not c.success]
        assert failed == [], source


def test_enforce_threshold__share_above_limit__raises_naming_table_rule_and_file(
    gate: Gate, tmp_path: Path
) -> None:
    result = gate(Table.EVENTS, mixed_events())
    where = tmp_path / "quarantine" / "events.parquet"
    with pytest.raises(GateBlocked) as blocked:
        enforce_threshold(result, 0.5, where)
    message = str(blocked.value)
    for part in ("events", "4 of 7", "57.1%", "50.0%", "viewer_id: not null", str(where)):
        assert part in message


def test_enforce_threshold__share_at_limit__passes(gate: Gate, tmp_path: Path) -> None:
    result = gate(Table.EVENTS, mixed_events())
    enforce_threshold(result, 4 / 7, tmp_path)
