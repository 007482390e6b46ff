"""The online store unreadable or gone: serving degrades (popularity, `degraded`), never fails,
and events are still stored offline and pushed once the store is back."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import httpx
import pytest

from livecart.core import contract as c
from livecart.core.settings import LivecartSettings
from tests.reliability.conftest import World
from tests.reliability.faults import (
    OUTCOMES,
    eid,
    events,
    recovered,
    store_dir,
    viewer,
    wait_for,
)
from tests.reliability.support import (
    offline_ids,
    online_mismatches,
    valid_event,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.reliability]


# --- degradation: the online store unreadable or gone ---------------------------------------


@contextlib.contextmanager
def unreadable_manifest(settings: LivecartSettings) -> Iterator[None]:
    """Replace the online store's manifest with garbage (atomically), restore it afterwards."""
    manifest = store_dir(settings) / "MANIFEST.json"
    saved = manifest.read_bytes()
    tmp = manifest.with_name(".broken.tmp")
    tmp.write_bytes(b"{ not json")
    os.replace(tmp, manifest)
    try:
        yield
    finally:
        tmp.write_bytes(saved)
        os.replace(tmp, manifest)


def test_online_store_unreadable__popularity_fallback_degraded_then_normal(world: World) -> None:
    assert recovered(world)
    with unreadable_manifest(world.settings):
        answer = viewer(world)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["degraded"] and len(body["products"]) == 5
        assert any("feature store unavailable" in r for r in body["degraded_reasons"])
        assert {p["driver"] for p in body["products"]} == {"popularity"}
        ready = httpx.get(f"{world.url}/readyz", timeout=30)
        assert ready.status_code == 503 and "unreadable" in ready.json()["details"]["online_store"]
    wait_for(lambda: recovered(world), what="recommendations back to normal")
    assert httpx.get(f"{world.url}/readyz", timeout=30).status_code == 200
    OUTCOMES["online store unreadable"] = (
        f"200 with degraded=true, reasons {body['degraded_reasons']}, popularity drivers; "
        "/readyz 503; normal again after restore"
    )


def test_online_store_unreadable__streamer_assist_degrades_not_500(world: World) -> None:
    with unreadable_manifest(world.settings):
        answer = httpx.post(
            f"{world.url}/v1/recommend/streamer", json={"room_id": world.rooms[0][0]}, timeout=60
        )
    wait_for(lambda: recovered(world), what="recommendations back to normal")
    assert answer.status_code == 200, answer.text


def test_online_store_unreadable__events_still_stored_offline_and_pushed_after(
    world: World,
) -> None:
    rng = random.Random(3)
    viewer = world.viewers[3]
    batch = [valid_event(rng, eid("outage"), [viewer], world.rooms) for _ in range(3)]
    with unreadable_manifest(world.settings):
        answer = events(world, batch)
    assert answer.status_code == 200, answer.text  # accepted; only the push waits for the store
    assert answer.json()["accepted"] == 3
    assert all(offline_ids(world.settings).get(e[c.EVENT_ID]) == 1 for e in batch)
    after = [valid_event(rng, eid("after-outage"), [viewer], world.rooms)]
    assert events(world, after).json()["accepted"] == 1
    # The viewer's next push recomputes its rows from every stored event, the outage's included.
    assert not online_mismatches(world.settings, [viewer], [])
    OUTCOMES["events during online store outage"] = (
        f"200, accepted 3, pushed_views {answer.json()['pushed_views']}, stored offline; "
        "the viewer's next push made its online counters whole"
    )


def test_online_store_directory_gone__degraded_not_silent_cold_start(world: World) -> None:
    store = store_dir(world.settings)
    away = store.with_name("online.away")
    os.rename(store, away)
    try:
        body = viewer(world).json()
        assert body["degraded"], body
    finally:
        os.rename(away, store)
        wait_for(lambda: recovered(world), what="recommendations back to normal")


def test_online_store_unreadable__fallback_still_applies_price_filter(world: World) -> None:
    with unreadable_manifest(world.settings):
        body = viewer(world, filters={"live_only": False, "max_price": 1.0}).json()
    wait_for(lambda: recovered(world), what="recommendations back to normal")
    assert body["degraded"]
    assert all(p["price"] <= 1.0 for p in body["products"]), body["products"]


def test_online_store_manifest_moved_away__degraded_and_no_view_lost(world: World) -> None:
    """A lost manifest is corruption: answers degrade, /readyz says so, and the next event's
    push commits nothing (it would otherwise list only the views it touched and collect the
    others' files)."""
    assert recovered(world)
    store = store_dir(world.settings)
    manifest = store / "MANIFEST.json"
    files = {p.name for p in store.iterdir() if p.suffix in (".duckdb", ".arrow")}
    away = store.with_name("MANIFEST.away")
    os.replace(manifest, away)
    try:
        body = viewer(world).json()
        assert body["degraded"], body
        ready = httpx.get(f"{world.url}/readyz", timeout=30)
        assert ready.status_code == 503 and "MANIFEST.json" in ready.text, ready.text
        batch = [valid_event(random.Random(5), eid("lost-manifest"), [world.viewers[4]], world.rooms)]
        answer = events(world, batch)
        assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text
        assert offline_ids(world.settings).get(batch[0][c.EVENT_ID]) == 1
        assert not manifest.exists()
        assert files <= {p.name for p in store.iterdir()}
    finally:
        os.replace(away, manifest)
    wait_for(lambda: recovered(world), what="recommendations back to normal")
    OUTCOMES["online store manifest lost"] = (
        "200 degraded, /readyz 503 naming MANIFEST.json, event stored offline, nothing committed "
        "or collected; normal again once the manifest is back"
    )
