"""Soak: mixed viewer/streamer reads and event pushes from several client threads, zero lost events.

Runs for ``LIVECART_SOAK_SECONDS`` (default 10) against the real Serve app over HTTP, then checks
that every accepted event is in the offline store exactly once and reflected online (the push-fed
counters equal what the stored events imply), that no request got a 5xx, and writes the figures to
``<home>/reports/reliability_soak.json``.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from typing import Any

import pytest

from livecart.core import contract as c
from tests.reliability.conftest import RetryingClient, World
from tests.reliability.support import offline_ids, online_mismatches, valid_event

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.reliability]

SOAK_SECONDS = float(os.environ.get("LIVECART_SOAK_SECONDS", "10"))
READERS, WRITERS = 2, 2
INVALID_SHARE = 0.1


class Ledger:
    """What the writers sent and what the server said about each event."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.valid: dict[str, dict[str, Any]] = {}
        self.invalid: set[str] = set()
        self.accepted: set[str] = set()
        self.quarantined: dict[str, str] = {}
        self.batches = 0
        self.problems: list[str] = []


def _invalid(event: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A copy of a valid event broken by one rule the gate enforces."""
    broken = dict(event)
    how = rng.randrange(4)
    if how == 0:
        broken[c.VIEWER_ID] = f"nobody-{uuid.uuid4().hex[:6]}"
    elif how == 1:
        broken.update(event_type=c.EventType.PURCHASE.value, amount=-3.0)
    elif how == 2:
        broken[c.EVENT_TIMESTAMP] = "2099-01-01T00:00:00+00:00"
    else:
        broken[c.EVENT_TYPE] = "teleport"
    return broken


def _writer(world: World, client: RetryingClient, ledger: Ledger, seed: int, until: float) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        batch, valid = [], []
        for _ in range(rng.randint(1, 8)):
            event = valid_event(
                rng, f"soak-{seed}-{uuid.uuid4().hex[:12]}", world.viewers, world.rooms
            )
            ok = rng.random() >= INVALID_SHARE
            batch.append(event if ok else _invalid(event, rng))
            valid.append(ok)
        answer = client.post("/v1/events", {"events": batch}, auth=True)
        with ledger.lock:
            ledger.batches += 1
            if answer.status_code != 200:
                ledger.problems.append(f"events {answer.status_code}: {answer.text[:200]}")
                continue
            body = answer.json()
            reasons = {q["index"]: q["reason"] for q in body["quarantined"]}
            for i, (event, ok) in enumerate(zip(batch, valid, strict=True)):
                eid = event[c.EVENT_ID]
                if ok:
                    ledger.valid[eid] = event
                else:
                    ledger.invalid.add(eid)
                if i in reasons:
                    ledger.quarantined[eid] = reasons[i]
                else:
                    ledger.accepted.add(eid)
            if body["accepted"] != len(batch) - len(reasons):
                ledger.problems.append(
                    f"accepted {body['accepted']} != {len(batch)} - {len(reasons)}"
                )
        time.sleep(0.05)


def _reader(world: World, client: RetryingClient, ledger: Ledger, seed: int, until: float) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        room, _, _ = rng.choice(world.rooms)
        pick = rng.random()
        if pick < 0.2:
            answer = client.post("/v1/recommend/streamer", {"room_id": room, "k": 3})
        else:
            viewer = rng.choice(world.viewers) if pick < 0.85 else f"new-{rng.randrange(10**6)}"
            body: dict[str, Any] = {
                "viewer_id": viewer,
                "k": rng.choice([5, 10]),
                "filters": {"live_only": rng.random() < 0.5},
            }
            if rng.random() < 0.3:
                body["room_id"] = room
            answer = client.post("/v1/recommend/viewer", body)
        if answer.status_code != 200:
            with ledger.lock:
                ledger.problems.append(f"read {answer.status_code}: {answer.text[:200]}")
        elif "products" in answer.json() and not answer.json()["products"]:
            with ledger.lock:
                ledger.problems.append(f"empty recommendations for {answer.json()['viewer_id']}")


def test_soak__mixed_load__zero_lost_events_zero_server_errors(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    client = RetryingClient(world.url, deadline_s=60.0)
    ledger = Ledger()
    began = time.monotonic()
    until = began + SOAK_SECONDS
    threads = [
        threading.Thread(target=_reader, args=(world, client, ledger, 100 + i, until))
        for i in range(READERS)
    ] + [
        threading.Thread(target=_writer, args=(world, client, ledger, 200 + i, until))
        for i in range(WRITERS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    duration = time.monotonic() - began
    client.close()

    stored = offline_ids(world.settings)
    found = {eid for eid in ledger.accepted if stored.get(eid, 0) >= 1}
    copies = {eid: stored[eid] for eid in found if stored[eid] != 1}
    touched = [ledger.valid[e] for e in ledger.accepted if e in ledger.valid]
    mismatches = online_mismatches(
        world.settings,
        [e[c.VIEWER_ID] for e in touched],
        [e[c.PRODUCT_ID] for e in touched if e.get(c.PRODUCT_ID)],
    )
    summary = {
        "duration_s": round(duration, 1),
        "requests": client.stats.requests,
        "events_pushed": len(ledger.accepted),
        "events_sent": len(ledger.valid) + len(ledger.invalid),
        "events_quarantined": len(ledger.quarantined),
        "events_found_offline": len(found),
        "online_mismatches": len(mismatches),
        "errors": client.stats.server_errors + len(client.stats.failed) + len(ledger.problems),
        "client": client.stats.as_dict(),
        "batches": ledger.batches,
    }
    report = world.settings.reports_dir / "reliability_soak.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(summary, indent=2))
    with capsys.disabled():
        print(
            f"\nsoak: {summary['duration_s']} s, {summary['requests']} requests, "
            f"{summary['events_pushed']} events pushed, "
            f"{summary['events_found_offline']} found offline, {summary['errors']} errors ({report})"
        )

    assert not ledger.problems, ledger.problems[:5]
    assert client.stats.server_errors == 0 and not client.stats.failed, client.stats.as_dict()
    assert ledger.accepted and ledger.batches >= 4 * WRITERS
    assert ledger.accepted == set(ledger.valid), "a valid event was not accepted"
    assert set(ledger.quarantined) == ledger.invalid, "an invalid event was accepted"
    assert found == ledger.accepted and not copies, (len(found), copies)
    assert not mismatches, mismatches[:10]
