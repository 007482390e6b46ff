"""Pitch feedback and the console's room list, on a small in-memory events table (no Ray, no Feast).

The queries are the ones the ingest replica runs over its recent events (``LiveState.fetch``); here
they run over a DuckDB table of the same name and schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from livecart.core import contract as c
from serving.live_state import EVENTS
from serving.pitch_models import Pitch, PitchRequest
from serving.pitches import (
    BUCKETS,
    HORIZON,
    KEPT_PER_ROOM,
    PitchBook,
    feedback,
    pitch_record,
    plausible_range,
)
from serving.room_list import audience_sizes, room_list
from serving.schemas import AudienceSummary, PitchSuggestion, StreamerResponse

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ROOM, OTHER_ROOM, PRODUCT, OTHER_PRODUCT = "r1", "r2", "p1", "p2"


class Events:
    """A DuckDB table shaped like the ingest replica's recent events, and its ``fetch``."""

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.register("empty", c.SCHEMAS[c.Table.EVENTS].empty_table())
        self.con.execute(f"CREATE TABLE {EVENTS} AS SELECT * FROM empty")
        self.n = 0

    def add(self, kind: str, at: datetime, viewer: str = "v1", **where: str) -> None:
        self.n += 1
        row = {
            c.EVENT_ID: f"e{self.n}",
            c.EVENT_TYPE: kind,
            c.EVENT_TIMESTAMP: at,
            c.VIEWER_ID: viewer,
            c.ROOM_ID: where.get("room", ROOM),
            c.STREAMER_ID: "s1",
            c.PRODUCT_ID: where.get("product", PRODUCT if kind != "enter_room" else None),
        }
        self.con.register("batch", pa.Table.from_pylist([row], schema=c.SCHEMAS[c.Table.EVENTS]))
        self.con.execute(f"INSERT INTO {EVENTS} SELECT * FROM batch")
        self.con.unregister("batch")

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()


@pytest.fixture()
def events() -> Iterator[Events]:
    table = Events()
    yield table
    table.con.close()


def a_pitch(minutes: float = 5.0, expected: float | None = 2.0, **extra: Any) -> Pitch:
    fields: dict[str, Any] = {
        "pitch_id": "pitch-1",
        "room_id": ROOM,
        "streamer_id": "s1",
        "product_id": PRODUCT,
        "title": "a lamp",
        "category": "home",
        "price": 20.0,
        "pitched_at": T0,
        "minutes": minutes,
        "rank": 1,
        "viewers_present": 40,
        "expected_purchases": expected,
        "expected_low": expected,
        "expected_high": expected,
        "model_version": 1 if expected is not None else None,
    }
    return Pitch(**{**fields, **extra})


def test_feedback__room_product_events_after_the_pitch__counted_per_bucket_with_a_baseline(
    events: Events,
) -> None:
    s = timedelta(seconds=1)
    events.add("click", T0 - 60 * s)  # before: the baseline
    events.add("purchase", T0 - 400 * s)  # before the baseline window (5 min): not counted
    for at in (10, 20, 200):
        events.add("click", T0 + at * s)
    events.add("add_to_cart", T0 + 25 * s)
    events.add("add_to_cart", T0 + 201 * s)
    events.add("purchase", T0 + 30 * s)
    events.add("purchase", T0 + 300 * s)  # the window's end: not counted
    events.add("click", T0 + 12 * s, room=OTHER_ROOM)  # the product elsewhere
    events.add("click", T0 + 12 * s, product=OTHER_PRODUCT)  # another product here
    events.add("like", T0 + 12 * s)  # not a product outcome

    running = feedback(events.fetch, [a_pitch()], now=T0 + 100 * s)[0]
    assert (running.clicks, running.carts, running.purchases) == (2, 1, 1)  # up to now
    assert running.status == "running" and running.elapsed_s == 100.0
    assert running.before == {"clicks": 1, "carts": 0, "purchases": 0}
    assert running.timeline[-1].t_s == 100.0 and running.timeline[-1].clicks == 2

    done = feedback(events.fetch, [a_pitch()], now=T0 + 3600 * s)[0]
    assert (done.clicks, done.carts, done.purchases) == (3, 2, 1)
    assert done.status == "done" and done.elapsed_s == 300.0
    assert len(done.timeline) == BUCKETS + 1 and done.timeline[-1].t_s == 300.0
    steps = [(p.clicks, p.carts, p.purchases) for p in done.timeline]
    assert steps == sorted(steps) and steps[-1] == (3, 2, 1)  # cumulative
    at_30s = next(p for p in done.timeline if p.t_s == 30.0)  # bucket [15 s, 30 s)
    assert (at_30s.clicks, at_30s.carts, at_30s.purchases) == (2, 1, 0)
    assert done.verdict == "as expected" and done.plausible_purchases == plausible_range(2.0, 2.0)


def test_feedback__several_pitches_of_a_room__one_query_each_its_own_window(
    events: Events,
) -> None:
    events.add("purchase", T0 + timedelta(seconds=90))
    events.add("purchase", T0 + timedelta(seconds=90), product=OTHER_PRODUCT)
    first = a_pitch(minutes=1.0)  # ends before the purchase
    second = a_pitch(pitch_id="pitch-2", product_id=OTHER_PRODUCT, minutes=2.0)
    answers = feedback(events.fetch, [first, second], now=T0 + timedelta(hours=1))
    assert [a.purchases for a in answers] == [0, 1]
    with pytest.raises(ValueError, match="one room"):
        feedback(events.fetch, [first, a_pitch(room_id=OTHER_ROOM)])


@pytest.mark.parametrize(
    ("expected", "purchases", "done", "verdict"),
    [
        (10.0, 2, True, "below expectation"),
        (10.0, 2, False, "running"),  # the window is still open
        (10.0, 25, False, "above expectation"),  # no need to wait
        (10.0, 9, True, "as expected"),
        (0.3, 0, True, "as expected"),
        (None, 3, True, "no model"),
    ],
)
def test_feedback__purchases_against_the_model__judged_with_poisson_noise(
    events: Events, expected: float | None, purchases: int, done: bool, verdict: str
) -> None:
    for i in range(purchases):
        events.add("purchase", T0 + timedelta(seconds=1 + i), viewer=f"v{i}")
    now = T0 + timedelta(minutes=10 if done else 2)
    answer = feedback(events.fetch, [a_pitch(expected=expected)], now=now)[0]
    assert answer.purchases == purchases and answer.verdict == verdict
    if expected is not None:
        low, high = answer.plausible_purchases or (-1, -1)
        assert low <= expected <= high


def streamer_response(degraded: bool = False) -> StreamerResponse:
    suggestions = [
        PitchSuggestion(
            product_id=p,
            title=p.upper(),
            category="home",
            price=10.0,
            score=s,
            expected_purchases=e,
            expected_low=lo,
            expected_high=hi,
            explanation="",
        )
        for p, s, e, lo, hi in (("p9", 0.2, 4.0, 3.0, 5.0), (PRODUCT, 0.1, 2.0, 1.5, 2.5))
    ]
    return StreamerResponse(
        room_id=ROOM,
        streamer_id="s1",
        suggestions=suggestions,
        audience=AudienceSummary(
            viewers_present=7,
            segments={},
            top_categories={},
            comment_sentiment=None,
            purchase_intent=None,
            recent_comments=0,
            likes_5m=0,
        ),
        model_version=None if degraded else 3,
        degraded=degraded,
        degraded_reasons=["no model"] if degraded else [],
    )


def test_pitch_record__takes_the_products_rank_and_expectation_at_pitch_time() -> None:
    record = pitch_record(streamer_response(), PitchRequest(product_id=PRODUCT, source="console"))
    assert (record.rank, record.viewers_present, record.model_version) == (2, 7, 3)
    assert (record.expected_purchases, record.expected_low, record.expected_high) == (2.0, 1.5, 2.5)
    assert record.source == "console" and record.pitch_id.startswith("pitch-")
    degraded = pitch_record(streamer_response(degraded=True), PitchRequest(product_id=PRODUCT))
    assert degraded.expected_purchases is None and degraded.degraded_reasons == ["no model"]
    with pytest.raises(LookupError, match=r"'p404'.*room 'r1'"):
        pitch_record(streamer_response(), PitchRequest(product_id="p404"))


def test_pitch_book__acknowledged_pitches_survive_a_restart__a_torn_line_is_skipped(
    tmp_path: Path, events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "live" / "pitches.jsonl"
    book = PitchBook(path, events.fetch, now=T0)
    old = a_pitch(pitch_id="pitch-old", pitched_at=T0 - HORIZON - timedelta(minutes=1))
    book.record(old)
    for i in range(3):
        answer = book.record(a_pitch(pitch_id=f"pitch-{i}", pitched_at=T0 + timedelta(minutes=i)))
        assert answer.pitch.pitch_id == f"pitch-{i}" and answer.purchases == 0
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(a_pitch(pitch_id="torn").model_dump(mode="json"))[:40])  # a crash
    again = PitchBook(path, events.fetch, now=T0 + timedelta(minutes=5))
    assert [p.pitch_id for p in again.latest(ROOM, 10)] == ["pitch-2", "pitch-1", "pitch-0"]
    assert [f.pitch.pitch_id for f in again.feedback(ROOM, 2)] == ["pitch-2", "pitch-1"]
    assert again.latest(OTHER_ROOM, 10) == []
    assert f"{path} line 5" in caplog.text


def test_pitch_book__keeps_a_bounded_number_per_room(tmp_path: Path, events: Events) -> None:
    book = PitchBook(tmp_path / "pitches.jsonl", events.fetch)
    for i in range(KEPT_PER_ROOM + 3):
        book._keep(a_pitch(pitch_id=f"pitch-{i}"))
    kept = book.latest(ROOM, 10_000)
    assert len(kept) == KEPT_PER_ROOM and kept[0].pitch_id == f"pitch-{KEPT_PER_ROOM + 2}"


def test_room_list__live_rooms_first_by_viewers_present__offline_rooms_after(
    events: Events,
) -> None:
    now = T0
    recent = now - timedelta(minutes=1)
    for viewer, room in (("a", "r2"), ("b", "r2"), ("c", "r3"), ("d", "r3"), ("e", "r3")):
        events.add("enter_room", recent, viewer=viewer, room=room)
    events.add("enter_room", recent + timedelta(seconds=5), viewer="e", room="r2")  # e moved
    events.add("like", recent, viewer="f", room="r1")  # r1: live, seen, nobody entered
    events.add("enter_room", now - timedelta(hours=2), viewer="g", room="r4")  # long ago
    sizes = audience_sizes(events.fetch, window_minutes=30, now=now)
    assert sizes == {"r2": (3, 3), "r3": (2, 3), "r1": (0, 1)}

    rooms = pd.DataFrame(
        {c.STREAMER_ID: ["s1", "s2", "s3", "s4", "s5"], c.TITLE: ["t1", None, "t3", "t4", "t5"]},
        index=pd.Index(["r1", "r2", "r3", "r4", "r5"], name=c.ROOM_ID),
    )
    listed = room_list(rooms, sizes)
    assert [r.room_id for r in listed.rooms] == ["r2", "r3", "r1", "r4", "r5"]
    assert [r.live for r in listed.rooms] == [True, True, True, False, False]
    assert (listed.rooms[0].viewers_present, listed.rooms[0].title) == (3, None)
    assert (listed.live, listed.total) == (3, 5)
    assert [r.room_id for r in room_list(rooms, sizes, limit=2).rooms] == ["r2", "r3"]
