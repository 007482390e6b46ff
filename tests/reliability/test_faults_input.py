"""Faults in what clients send: clock skew, a quarantine flood, an unknown viewer."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pyarrow.parquet as pq
import pytest

from livecart.core import contract as c
from tests.reliability.conftest import World
from tests.reliability.faults import (
    OUTCOMES,
    eid,
    events,
    viewer,
)
from tests.reliability.support import (
    offline_ids,
    valid_event,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.reliability]


# --- clock skew, quarantine flood, cold start: nothing to restore ---------------------------


def test_clock_skew__future_quarantined_slightly_past_accepted(world: World) -> None:
    now = datetime.now(UTC)
    skew = world.settings.max_future_skew_seconds
    rng = random.Random(1)
    at = {
        "far-future": now + timedelta(seconds=skew + 120),
        "day-ahead": now + timedelta(days=1),
        "within-skew": now + timedelta(seconds=min(60.0, skew / 2)),
        "slightly-past": now - timedelta(minutes=10),
        "hours-past": now - timedelta(hours=3),
    }
    batch = [valid_event(rng, eid(name), world.viewers, world.rooms, t) for name, t in at.items()]
    batch.append(
        {
            **batch[3],
            c.EVENT_ID: eid("naive"),
            c.EVENT_TIMESTAMP: now.replace(tzinfo=None).isoformat(),
        }
    )
    answer = events(world, batch)
    assert answer.status_code == 200, answer.text
    reasons = {q["index"]: q["reason"] for q in answer.json()["quarantined"]}
    assert sorted(reasons) == [0, 1, 5] and answer.json()["accepted"] == 3
    assert "future timestamp" in reasons[0] and "future timestamp" in reasons[1]
    assert "naive" in reasons[5]
    stored = offline_ids(world.settings)
    assert all(stored.get(batch[i][c.EVENT_ID]) == 1 for i in (2, 3, 4))
    OUTCOMES["clock skew"] = (
        f"+{skew + 120:.0f} s and +1 day quarantined ({reasons[0]!r}); naive quarantined "
        f"({reasons[5]!r}); +{min(60.0, skew / 2):.0f} s, -10 min, -3 h accepted and stored"
    )


def test_quarantine_flood__all_bad_batch_quarantined_with_reasons_server_healthy(
    world: World,
) -> None:
    rng = random.Random(2)
    breakers = [
        lambda e: {**e, c.VIEWER_ID: eid("ghost")},
        lambda e: {**e, c.EVENT_TYPE: "teleport"},
        lambda e: {**e, c.EVENT_TYPE: "purchase", c.PRODUCT_ID: None},
        lambda e: {**e, c.AMOUNT: -1.0},
        lambda e: {**e, c.EVENT_TIMESTAMP: "2099-01-01T00:00:00+00:00"},
        lambda e: {**e, c.TEXT: "x" * (world.settings.max_text_chars + 1)},
        lambda e: {**e, c.WATCH_SECONDS: "long"},
        lambda e: {k: v for k, v in e.items() if k != c.ROOM_ID},
    ]
    size = 400
    batch = [
        breakers[i % len(breakers)](valid_event(rng, eid("flood"), world.viewers, world.rooms))
        for i in range(size)
    ]
    before = set((world.settings.quarantine_dir / "api_events").glob("*.parquet"))
    answer = events(world, batch)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == 0 and body["offline_part"] is None and body["pushed_views"] == []
    assert sorted(q["index"] for q in body["quarantined"]) == list(range(size))
    assert all(q["reason"].strip() for q in body["quarantined"])
    # Rows that reached the GX gate are kept, with their reason, in the quarantine store.
    new = set((world.settings.quarantine_dir / "api_events").glob("*.parquet")) - before
    kept = [r for p in new for r in pq.read_table(p).to_pylist()]
    assert kept and all(r[c.QUARANTINE_REASON] for r in kept)
    assert not {e[c.EVENT_ID] for e in batch} & set(offline_ids(world.settings))
    assert httpx.get(f"{world.url}/healthz").status_code == 200
    good = valid_event(rng, eid("after-flood"), world.viewers, world.rooms)
    assert events(world, [good]).json()["accepted"] == 1
    OUTCOMES["quarantine flood"] = (
        f"{size} bad events in one batch: 0 accepted, {size} quarantined with reasons "
        f"({len(kept)} GX-rejected rows kept in quarantine/api_events), /healthz ok, "
        "next good event accepted"
    )


def test_unknown_viewer__cold_start_not_failure(world: World) -> None:
    answer = viewer(world, f"never-seen-{uuid.uuid4().hex[:6]}", room_id=world.rooms[0][0])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["cold_start"] and not body["degraded"] and len(body["products"]) == 5
    OUTCOMES["unknown viewer"] = "200, cold_start=true, degraded=false, 5 products"
