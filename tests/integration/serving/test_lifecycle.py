"""Model lifecycle under load, and recommendations that follow immediate feedback."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from livecart.core.settings import LivecartSettings
from livecart.model import registry
from serving.catalog import load_catalog
from tests.integration.serving.conftest import TOKEN, event, world_ids

pytestmark = [pytest.mark.integration, pytest.mark.slow]
AUTH = {"authorization": f"Bearer {TOKEN}"}


def _recommend(url: str, viewer: str, **extra: Any) -> dict[str, Any]:
    body = {"viewer_id": viewer, "k": 10, "filters": {"live_only": False}, **extra}
    answer = httpx.post(f"{url}/v1/recommend/viewer", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_reload__new_version_under_load__no_request_dropped_then_rollback(
    served_url: str, served_settings: LivecartSettings
) -> None:
    viewers = world_ids(served_settings)["viewers"]
    record, state = registry.load(served_settings, registry.DEFAULT_RANKER)
    second = registry.save(
        served_settings,
        record.name,
        state,
        record.config,
        {**record.metadata, "note": "reload test"},
    )
    seen: list[tuple[float, int, int | None]] = []
    stop = threading.Event()

    def load(offset: int) -> None:
        i = offset
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                body = {
                    "viewer_id": viewers[i % len(viewers)],
                    "k": 5,
                    "filters": {"live_only": False},
                }
                answer = client.post(f"{served_url}/v1/recommend/viewer", json=body)
                version = answer.json().get("model_version") if answer.status_code == 200 else None
                seen.append((time.monotonic(), answer.status_code, version))
                i += 1

    threads = [threading.Thread(target=load, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        answer = httpx.post(
            f"{served_url}/v1/models/reload",
            json={"version": second.version},
            headers=AUTH,
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        reloaded_at = time.monotonic()
        time.sleep(3.0)
        rolled = registry.rollback(served_settings, record.name)
        rolled_at = time.monotonic()
        time.sleep(3.0)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert rolled == record.version
    assert seen and all(status == 200 for _, status, _ in seen), Counter(s for _, s, _ in seen)
    settled = [v for at, _, v in seen if reloaded_at + 1.5 < at < rolled_at]
    after = [v for at, _, v in seen if at > rolled_at + 1.5]
    assert settled and set(settled) == {second.version}
    assert after and set(after) == {record.version}
    assert (
        httpx.post(f"{served_url}/v1/models/reload", json={"version": 99}, headers=AUTH).status_code
        == 422
    )
    assert httpx.post(f"{served_url}/v1/models/reload", json={}).status_code == 401


def test_feedback__click_burst_on_category__shifts_next_recommendations(
    served_url: str, served_settings: LivecartSettings
) -> None:
    ids = world_ids(served_settings)
    viewer = ids["viewers"][-1]
    catalog = load_catalog(served_settings)
    before = _recommend(served_url, viewer, explore=False)
    shown = Counter(p["category"] for p in before["products"])
    # Products a viewer can meet in a room: their streamer has one (not every streamer does).
    products = catalog.products[catalog.products["streamer_id"].isin(catalog.streamer_rooms)]
    categories = products["category"].value_counts()
    target = min(
        (cat for cat in categories.index if categories[cat] >= 4), key=lambda cat: shown.get(cat, 0)
    )
    picks = products[products["category"] == target].head(6)
    burst = []
    for n, (product, row) in enumerate(picks.iterrows()):
        streamer = str(row["streamer_id"])
        room = catalog.streamer_rooms[streamer][0]
        for k in range(4):
            burst.append(
                event(f"burst-{n}-{k}-i", "impression", viewer, room, streamer, product_id=product)
            )
            burst.append(
                event(f"burst-{n}-{k}-c", "click", viewer, room, streamer, product_id=product)
            )
    answer = httpx.post(f"{served_url}/v1/events", json={"events": burst}, headers=AUTH, timeout=60)
    assert answer.status_code == 200 and answer.json()["accepted"] == len(burst), answer.text
    time.sleep(1.0)
    after = _recommend(served_url, viewer, explore=False)
    shifted = Counter(p["category"] for p in after["products"])
    assert shifted[target] > shown.get(target, 0), (target, shown, shifted)
