"""The API's event gate in-process, on a fresh home (no catalogue: reference checks are skipped).

What ``POST /v1/events`` must hold below HTTP: an event refused at typing time is kept in
``quarantine/api_events`` with its reason and the payload as sent; a value that overflows on
conversion quarantines that event only; an id already in the offline store is a duplicate however
old it is; and everything the gate answers can be sent back as JSON.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from livecart.core import contract as c
from livecart.core.io import table_path, write_parquet_atomic
from livecart.core.settings import LivecartSettings
from serving.event_gate import EventGate
from serving.schemas import EventIn, EventsResponse

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def _event(event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        c.EVENT_ID: event_id,
        c.EVENT_TYPE: c.EventType.WATCH.value,
        c.EVENT_TIMESTAMP: (NOW - timedelta(minutes=5)).isoformat(),
        c.VIEWER_ID: "v1",
        c.ROOM_ID: "r1",
        c.STREAMER_ID: "s1",
        c.WATCH_SECONDS: 12,
        **extra,
    }


def _quarantined_rows(settings: LivecartSettings) -> list[dict[str, Any]]:
    files = sorted((settings.quarantine_dir / "api_events").glob("*.parquet"))
    return [row for path in files for row in pq.read_table(path).to_pylist()]


@pytest.fixture
def gate(settings: LivecartSettings) -> EventGate:
    """A gate over a home whose offline store holds one event from three days ago, beside a
    torn part (a copy cut short)."""
    old = {
        **{k: None for k in c.SCHEMAS[c.Table.EVENTS].names},
        **_event("stored-long-ago"),
        c.EVENT_TIMESTAMP: NOW - timedelta(days=3),
    }
    part = table_path(settings.clean_dir, c.Table.EVENTS) / "part-00000.parquet"
    write_parquet_atomic(pa.Table.from_pylist([old], schema=c.SCHEMAS[c.Table.EVENTS]), part)
    data = part.read_bytes()
    part.with_name("part-zzz-torn.parquet").write_bytes(data[: len(data) // 2])
    return EventGate(settings)


def test_event_gate__typing_rejects__kept_in_quarantine_with_reason_and_payload(
    gate: EventGate, settings: LivecartSettings
) -> None:
    sent = [
        _event("good-1"),
        _event("naive", **{c.EVENT_TIMESTAMP: NOW.replace(tzinfo=None).isoformat()}),
        _event("wrong-type", **{c.WATCH_SECONDS: "long"}),
        _event("too-long", **{c.TEXT: "x" * (settings.max_text_chars + 1)}),
        _event("unknown-field", surprise=1),
        _event("good-2"),
    ]
    admission = gate.admit([EventIn.model_validate(e) for e in sent])
    assert admission.accepted.column(c.EVENT_ID).to_pylist() == ["good-1", "good-2"]
    reasons = {q.index: q.reason for q in admission.quarantined}
    assert sorted(reasons) == [1, 2, 3, 4]
    kept = {row[c.EVENT_ID]: row for row in _quarantined_rows(settings)}
    assert set(kept) == {"naive", "wrong-type", "too-long", "unknown-field"}
    for index in reasons:
        row = kept[sent[index][c.EVENT_ID]]
        assert row[c.QUARANTINE_REASON] == reasons[index]
        assert json.loads(row["raw_event"]) == sent[index]  # the payload as sent, as text
    assert "naive" in kept["naive"][c.QUARANTINE_REASON]
    assert c.WATCH_SECONDS in kept["wrong-type"][c.QUARANTINE_REASON]
    assert c.TEXT in kept["too-long"][c.QUARANTINE_REASON]
    assert "surprise" in kept["unknown-field"][c.QUARANTINE_REASON]


UNCONVERTIBLE = [
    (c.EVENT_TIMESTAMP, "0001-01-01T00:00:00+05:00"),  # before year 1 in UTC
    (c.EVENT_TIMESTAMP, "9999-12-31T23:59:59-05:00"),  # after year 9999 in UTC
    (c.WATCH_SECONDS, 10**400),  # an integer no float can hold
    (c.AMOUNT, -(10**309)),
    (c.GIFT_VALUE, math.inf),
    (c.EVENT_ID, "lone \ud800 surrogate"),
    (c.VIEWER_ID, "\udfff"),
]


def test_event_gate__unconvertible_values__quarantine_their_events_only_and_answer_as_json(
    gate: EventGate, settings: LivecartSettings
) -> None:
    sent = [_event("ok-1")]
    sent += [{**_event(f"bad-{i}"), field: value} for i, (field, value) in enumerate(UNCONVERTIBLE)]
    sent += [_event("ok-2")]
    admission = gate.admit([EventIn.model_validate(e) for e in sent])
    assert admission.accepted.column(c.EVENT_ID).to_pylist() == ["ok-1", "ok-2"]
    reasons = [q.reason for q in admission.quarantined]
    assert [q.index for q in admission.quarantined] == list(range(1, len(UNCONVERTIBLE) + 1))
    assert all(field in why for (field, _), why in zip(UNCONVERTIBLE, reasons, strict=True))
    answer = EventsResponse(
        accepted=2,
        quarantined=admission.quarantined,
        pushed_views=[],
        offline_part=admission.offline_part,
        accepted_at=NOW,
        push_ms=0.0,
    )
    echoed = json.loads(answer.model_dump_json())  # the acknowledgement can be sent
    assert echoed["quarantined"][5]["event_id"] == "lone \\ud800 surrogate"  # escaped
    kept = _quarantined_rows(settings)
    assert [row[c.QUARANTINE_REASON] for row in kept] == reasons
    assert json.loads(kept[0]["raw_event"]) == sent[1]


def test_event_gate__id_stored_before_the_live_window__is_a_duplicate(
    gate: EventGate, caplog: pytest.LogCaptureFixture
) -> None:
    assert any("part-zzz-torn" in r.getMessage() for r in caplog.get_records("setup"))
    again = _event("stored-long-ago", **{c.EVENT_TIMESTAMP: (NOW - timedelta(days=3)).isoformat()})
    admission = gate.admit([EventIn.model_validate(e) for e in (_event("fresh"), again)])
    assert admission.accepted.column(c.EVENT_ID).to_pylist() == ["fresh"]
    (dup,) = admission.quarantined
    assert dup.index == 1 and "duplicate" in dup.reason
    # ... and what it admitted is a duplicate from now on, as before.
    assert not gate.admit([EventIn.model_validate(_event("fresh"))]).accepted.num_rows
