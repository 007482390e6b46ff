"""Property-based fuzzing (hypothesis) of ``POST /v1/events`` over HTTP (the request endpoints:
``test_fuzz_requests.py``; the hostile values: :mod:`tests.reliability.hostile`).

Events are drawn valid (known ids, a contract type, an aware timestamp not in the future, sane
amounts and text) and then, for some, broken by exactly one known mutation (hostile ones among
them: NaN and infinities, integers no float holds, lone surrogates, timestamps that leave years
1-9999 once converted to UTC), or made a copy of an earlier event's id. The oracle is this test's
own reading of the contract: the server must never answer 5xx, must accept exactly the valid,
first-seen events (and store them offline as sent, each exactly once), and must quarantine every
other one with a reason, accepted + quarantined == sent. Bodies are sent as Python's ``json``
writes them with ``allow_nan=True``: ``NaN`` literals and ``\\ud800`` escapes reach the server.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from livecart.core import contract as c
from tests.reliability.conftest import World
from tests.reliability.hostile import (
    EXTREME_TIMES,
    FUZZ,
    HOSTILE,
    HUGE_INTS,
    NON_FINITE,
    SURROGATES,
    TEXT,
    post,
)
from tests.reliability.support import HORIZON, offline_events, offline_ids
from validation.suites import BROKEN_TEXT_PATTERN

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.reliability]

REQUIRED = c.REQUIRED_COLUMNS[c.Table.EVENTS]
SCHEMA_FIELDS = c.SCHEMAS[c.Table.EVENTS].names
BROKEN = re.compile(BROKEN_TEXT_PATTERN)
MAX_TEXT = 2000  # the world's settings.max_text_chars (default)
SKEW = 300.0  # settings.max_future_skew_seconds (default)


@dataclass(frozen=True)
class Drawn:
    """One event as drawn: its JSON (event_id filled at send time), what must happen, and why."""

    body: dict[str, Any]
    valid: bool
    field: str | None = None  # the field a mutation broke (should appear in the reason)
    copy_of: int | None = None  # index of an earlier event in the batch whose id this reuses


def _world_events(world: World) -> st.SearchStrategy[dict[str, Any]]:
    rooms = world.rooms

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        room, streamer, products = draw(st.sampled_from(rooms))
        kind = draw(st.sampled_from(c.EVENT_TYPES))
        offset = draw(st.floats(min_value=-1800, max_value=60))
        zone = draw(st.sampled_from([0, 0, 330, -480]))
        at = (datetime.now(UTC) + timedelta(seconds=offset)).astimezone(
            timezone(timedelta(minutes=zone))
        )
        event: dict[str, Any] = {
            c.EVENT_TYPE: kind,
            c.EVENT_TIMESTAMP: at.isoformat(),
            c.VIEWER_ID: draw(st.sampled_from(world.viewers)),
            c.ROOM_ID: room,
            c.STREAMER_ID: streamer,
        }
        if kind in c.PRODUCT_EVENT_TYPES or draw(st.booleans()):
            event[c.PRODUCT_ID] = draw(st.sampled_from(products))
        if kind == c.EventType.PURCHASE:
            event[c.AMOUNT] = draw(st.floats(min_value=0.01, max_value=1e6))
        elif draw(st.booleans()):
            event[c.AMOUNT] = draw(st.one_of(st.floats(min_value=0, max_value=1e6), st.none()))
        if draw(st.booleans()):
            event[c.WATCH_SECONDS] = draw(st.one_of(st.integers(0, 10**6), st.floats(0, 1e5)))
        if draw(st.booleans()):
            event[c.GIFT_VALUE] = draw(st.floats(min_value=0, max_value=1e4))
        if kind == c.EventType.COMMENT or draw(st.booleans()):
            event[c.TEXT] = draw(TEXT)
        return event

    return build()


def _mutations(event: dict[str, Any]) -> st.SearchStrategy[tuple[dict[str, Any], str]]:
    """One rule broken, and the field named by the reason."""
    now = datetime.now(UTC)
    unknown = st.text(alphabet="xyz0123456789-", min_size=1, max_size=12).map(lambda s: f"zz-{s}")
    kind = event[c.EVENT_TYPE]

    def with_(field: str, value: Any) -> tuple[dict[str, Any], str]:
        return {**event, field: value}, field

    def without(field: str) -> tuple[dict[str, Any], str]:
        return {k: v for k, v in event.items() if k != field}, field

    options: list[st.SearchStrategy[tuple[dict[str, Any], str]]] = [
        st.sampled_from([f for f in REQUIRED if f != c.EVENT_ID]).map(without),
        st.sampled_from([f for f in REQUIRED if f != c.EVENT_ID]).map(lambda f: with_(f, None)),
        st.tuples(
            st.sampled_from([c.VIEWER_ID, c.ROOM_ID, c.STREAMER_ID, c.PRODUCT_ID]), unknown
        ).map(lambda fv: with_(*fv)),
        st.text(max_size=12)
        .filter(lambda t: t not in c.EVENT_TYPES)
        .map(lambda t: with_(c.EVENT_TYPE, t)),
        st.tuples(
            st.sampled_from([c.AMOUNT, c.GIFT_VALUE, c.WATCH_SECONDS]),
            st.floats(max_value=-0.001, min_value=-1e9),
        ).map(lambda fv: with_(*fv)),
        st.floats(min_value=SKEW + 120, max_value=3e9).map(
            lambda s: with_(c.EVENT_TIMESTAMP, _iso(now, s))
        ),
        st.sampled_from(
            [
                "1999-12-31T23:59:59+00:00",
                "0001-01-01T00:00:00+00:00",
                "9999-12-31T23:59:59+00:00",
                now.replace(tzinfo=None).isoformat(),  # naive
                "yesterday",
                "",
            ]
        ).map(lambda t: with_(c.EVENT_TIMESTAMP, t)),
        st.sampled_from([1_700_000_000, 1.5, True, [], {}]).map(
            lambda v: with_(c.EVENT_TIMESTAMP, v)
        ),
        st.integers(MAX_TEXT + 1, MAX_TEXT + 50).map(lambda n: with_(c.TEXT, "a" * n)),
        st.sampled_from(
            ["bad\x00byte", "bell\x07", "\ufffd?", "lone \ud800 surrogate", "del\x7f"]
        ).map(lambda t: with_(c.TEXT, t)),
        st.tuples(
            st.sampled_from([c.AMOUNT, c.GIFT_VALUE, c.WATCH_SECONDS]),
            st.sampled_from(["12", "lots", True, [1], {"v": 1}, math.nan, math.inf]),
        ).map(lambda fv: with_(*fv)),
        st.tuples(
            st.sampled_from([c.VIEWER_ID, c.ROOM_ID, c.STREAMER_ID, c.EVENT_TYPE, c.TEXT]),
            st.sampled_from([7, 2.5, False, ["a"], {"id": "x"}]),
        ).map(lambda fv: with_(*fv)),
        st.sampled_from(["surprise", "session", "x" * 20]).map(lambda k: with_(k, 1)),
        # Hostile values: each must quarantine its event, naming the field, never fail the batch.
        st.tuples(
            st.sampled_from([f for f in SCHEMA_FIELDS if f != c.EVENT_TIMESTAMP]), HOSTILE
        ).map(lambda fv: with_(*fv)),
        st.sampled_from([*NON_FINITE, *HUGE_INTS, *EXTREME_TIMES, *SURROGATES]).map(
            lambda t: with_(c.EVENT_TIMESTAMP, t)
        ),
        st.tuples(st.sampled_from(SURROGATES), HOSTILE).map(lambda kv: with_(*kv)),
    ]
    if kind in c.PRODUCT_EVENT_TYPES:
        options.append(st.just(without(c.PRODUCT_ID)))
    if kind == c.EventType.PURCHASE:
        options.append(st.sampled_from([None, 0.0, -1.0]).map(lambda v: with_(c.AMOUNT, v)))
    return st.one_of(options)


def _iso(now: datetime, seconds: float) -> str:
    try:
        return (now + timedelta(seconds=seconds)).isoformat()
    except OverflowError:
        return "9999-12-31T23:59:59+00:00"


def _batches(world: World) -> st.SearchStrategy[list[Drawn]]:
    @st.composite
    def build(draw: st.DrawFn) -> list[Drawn]:
        out: list[Drawn] = []
        for _ in range(draw(st.integers(1, 12))):
            event = draw(_world_events(world))
            roll = draw(st.integers(0, 9))
            firsts = [i for i, d in enumerate(out) if d.valid and d.copy_of is None]
            if roll < 5:
                out.append(Drawn(event, True))
            elif roll < 9 or not firsts:
                broken, field = draw(_mutations(event))
                out.append(Drawn(broken, False, field))
            else:
                out.append(Drawn(event, False, c.EVENT_ID, copy_of=draw(st.sampled_from(firsts))))
        return out

    return build()


def _send(world: World, drawn: list[Drawn]) -> tuple[list[dict[str, Any]], httpx.Response]:
    events: list[dict[str, Any]] = []
    for d in drawn:
        eid = events[d.copy_of][c.EVENT_ID] if d.copy_of is not None else f"fz-{uuid.uuid4().hex}"
        events.append({c.EVENT_ID: eid, **d.body})
    return events, post(world, "/v1/events", {"events": events}, auth=True)


def _contract_violations(
    row: dict[str, Any], known: dict[str, set[str]], at: datetime
) -> list[str]:
    """This test's own reading of the contract, applied to a row the server stored."""
    problems = [f"{k} null" for k in REQUIRED if row.get(k) is None]
    for column, ids in known.items():
        if row.get(column) is not None and row[column] not in ids:
            problems.append(f"{column} unknown")
    if row[c.EVENT_TYPE] not in c.EVENT_TYPES:
        problems.append("event_type")
    ts = row[c.EVENT_TIMESTAMP]
    if ts.tzinfo is None or ts > at + timedelta(seconds=SKEW) or ts.year < 2000:
        problems.append("event_timestamp")
    for column in (c.AMOUNT, c.GIFT_VALUE, c.WATCH_SECONDS):
        value = row.get(column)
        if value is not None and not (math.isfinite(value) and value >= 0):
            problems.append(column)
    if row[c.EVENT_TYPE] in c.PRODUCT_EVENT_TYPES and row.get(c.PRODUCT_ID) is None:
        problems.append("product_id")
    if row[c.EVENT_TYPE] == c.EventType.PURCHASE and not (row.get(c.AMOUNT) or 0) > 0:
        problems.append("amount on purchase")
    text = row.get(c.TEXT)
    if text is not None and (len(text) > MAX_TEXT or BROKEN.search(text)):
        problems.append("text")
    return problems


@pytest.fixture(scope="module")
def known_ids(world: World) -> dict[str, set[str]]:
    clean = world.settings.clean_dir
    return {
        c.VIEWER_ID: set(pq.read_table(clean / "viewers.parquet").column(c.VIEWER_ID).to_pylist()),
        c.ROOM_ID: set(pq.read_table(clean / "rooms.parquet").column(c.ROOM_ID).to_pylist()),
        c.STREAMER_ID: set(
            pq.read_table(clean / "streamers.parquet").column(c.STREAMER_ID).to_pylist()
        ),
        c.PRODUCT_ID: set(
            pq.read_table(clean / "products.parquet").column(c.PRODUCT_ID).to_pylist()
        ),
    }


def _valid(world: World, tag: str) -> dict[str, Any]:
    room, streamer, products = world.rooms[0]
    return {
        c.EVENT_ID: f"{tag}-{uuid.uuid4().hex[:12]}",
        c.EVENT_TYPE: c.EventType.CLICK.value,
        c.EVENT_TIMESTAMP: datetime.now(UTC).isoformat(),
        c.VIEWER_ID: world.viewers[0],
        c.ROOM_ID: room,
        c.STREAMER_ID: streamer,
        c.PRODUCT_ID: products[0],
    }


def test_hostile_events__bad_one_quarantined__valid_neighbour_stored_once(world: World) -> None:
    """Each cause of a 500 seen on /v1/events (a whole batch failed, on every retry, or failed
    after storing its valid events) as a bad event after a valid one, all in one batch."""
    oldest = offline_events(world.settings).sort_values(c.EVENT_TIMESTAMP).iloc[0]
    assert oldest[c.EVENT_TIMESTAMP] < datetime.now(UTC) - HORIZON  # before the live window
    old_id = str(oldest[c.EVENT_ID])
    hostile: list[tuple[str, Any]] = [
        *((c.EVENT_TIMESTAMP, t) for t in EXTREME_TIMES),
        *((c.WATCH_SECONDS, n) for n in (*HUGE_INTS, *NON_FINITE)),
        (c.AMOUNT, math.nan),
        (c.EVENT_ID, "\ud800"),
        (c.VIEWER_ID, "v\udfff"),
        (c.TEXT, "lone \udc00 low"),
        (c.EVENT_ID, old_id),
    ]
    batch: list[dict[str, Any]] = []
    for field, value in hostile:  # each bad event after a valid one
        batch += [_valid(world, "hostile-ok"), {**_valid(world, "hostile"), field: value}]
    answer = post(world, "/v1/events", {"events": batch}, auth=True)
    assert answer.status_code == 200, answer.text
    body = json.loads(answer.content)
    assert body["accepted"] == len(hostile), body
    refused = {q["index"]: q["reason"] for q in body["quarantined"]}
    assert sorted(refused) == list(range(1, len(batch), 2)), body
    for (field, value), index in zip(hostile, range(1, len(batch), 2), strict=True):
        assert field in refused[index], (field, value, refused[index])
    copies = offline_ids(world.settings)
    assert [copies.get(e[c.EVENT_ID]) for e in batch[::2]] == [1] * len(hostile)
    assert copies[old_id] == 1  # not stored a second time


def test_hostile_requests__non_finite_huge_surrogate_or_non_ascii_token__4xx_not_500(
    world: World,
) -> None:
    bodies: list[tuple[str, Any, bool]] = [
        ("/v1/events", {"events": math.nan}, False),  # no token: 422 before the token check
        ("/v1/events", {"events": math.inf}, True),
        ("/v1/events", {"events": [_valid(world, "x")], "extra": "\udc00"}, True),
        ("/v1/recommend/viewer", {"viewer_id": "\ud800", "k": 3}, False),
        ("/v1/recommend/viewer", {"viewer_id": "a", "k": math.inf}, False),
        ("/v1/recommend/viewer", {"viewer_id": "a", "filters": {"max_price": math.inf}}, False),
        ("/v1/recommend/viewer", {"viewer_id": "a", "k": 10**400}, False),
        ("/v1/recommend/streamer", {"room_id": "\ud800"}, False),
        ("/v1/recommend/streamer", {"room_id": world.rooms[0][0], "k": math.nan}, False),
        ("/v1/models/reload", {"version": math.nan}, False),
        ("/v1/models/reload", {"version": math.inf}, True),
    ]
    for path, body, auth in bodies:
        answer = post(world, path, body, auth=auth)
        assert answer.status_code == 422, (path, body, answer.status_code, answer.text)
        assert json.loads(answer.content)["detail"]
    for token in ("Bearer é".encode(), "Bearer \u20ac".encode(), b"Bearer \xff"):
        answer = httpx.post(
            f"{world.url}/v1/events",
            json={"events": [_valid(world, "token")]},
            headers={"authorization": token},  # type: ignore[dict-item]
            timeout=60.0,
        )
        assert answer.status_code == 401, (token, answer.text)


def test_fuzz_events__never_500_never_accepts_invalid_never_drops_valid(
    world: World, known_ids: dict[str, set[str]]
) -> None:
    accepted: list[str] = []

    @FUZZ
    @given(drawn=_batches(world))
    def check(drawn: list[Drawn]) -> None:
        events, answer = _send(world, drawn)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        reasons = {q["index"]: q["reason"] for q in body["quarantined"]}
        assert body["accepted"] + len(body["quarantined"]) == len(events)
        expected_bad = {i for i, d in enumerate(drawn) if not d.valid}
        assert set(reasons) == expected_bad, (
            f"quarantined {sorted(reasons)} but invalid {sorted(expected_bad)}: "
            f"{[(i, events[i], reasons.get(i)) for i in set(reasons) ^ expected_bad]}"
        )
        for i in expected_bad:
            assert reasons[i].strip(), f"event {i} quarantined without a reason"
            field = drawn[i].field
            assert field is None or field in reasons[i] or "unknown fields" in reasons[i], (
                field,
                reasons[i],
            )
        good = [events[i] for i in range(len(events)) if i not in expected_bad]
        if not good:
            assert body["offline_part"] is None
            return
        stored = pq.read_table(body["offline_part"]).to_pylist()
        assert [r[c.EVENT_ID] for r in stored] == [e[c.EVENT_ID] for e in good]
        accepted.extend(e[c.EVENT_ID] for e in good)
        at = datetime.fromisoformat(body["accepted_at"])
        for row in stored:
            assert not _contract_violations(row, known_ids, at), row

    check()
    copies = offline_ids(world.settings)
    assert accepted and all(copies.get(i) == 1 for i in accepted), "an event stored twice"
