"""The console's room list, pitch feedback and `livecart simulate`, over HTTP on the served world."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from livecart.core.settings import LivecartSettings
from livecart.simulation.realtime import SimulateConfig
from livecart.simulation.realtime import run as simulate
from serving.pitches import pitch_log
from tests.integration.serving.conftest import TOKEN, event, world_ids

pytestmark = [pytest.mark.integration, pytest.mark.slow]
AUTH = {"authorization": f"Bearer {TOKEN}"}


def post_events(url: str, batch: list[dict[str, Any]]) -> None:
    answer = httpx.post(f"{url}/v1/events", json={"events": batch}, headers=AUTH, timeout=30.0)
    assert answer.status_code == 200 and answer.json()["accepted"] == len(batch), answer.text


def test_console_rooms__live_first_by_viewers_present__every_room_listed(
    served_url: str, served_settings: LivecartSettings
) -> None:
    ids = world_ids(served_settings)
    (busy, busy_streamer, _), (quiet, quiet_streamer, _) = ids["rooms"][0], ids["rooms"][1]
    viewers = ids["viewers"]
    post_events(
        served_url,
        [
            event(f"rooms-busy-{i}", "enter_room", v, busy, busy_streamer)
            for i, v in enumerate(viewers[:4])
        ]
        + [event("rooms-quiet-0", "enter_room", viewers[4], quiet, quiet_streamer)],
    )
    answer = httpx.get(f"{served_url}/v1/console/rooms", timeout=30.0)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    rooms = body["rooms"]
    assert body["total"] == len(rooms) == len(ids["rooms"])
    live = [r for r in rooms if r["live"]]
    assert rooms[: len(live)] == live and body["live"] == len(live) >= 2  # live ones first
    present = [r["viewers_present"] for r in live]
    assert present == sorted(present, reverse=True)
    by_id = {r["room_id"]: r for r in rooms}
    assert by_id[busy]["viewers_present"] >= 4 and by_id[quiet]["viewers_present"] >= 1
    assert by_id[busy]["title"] and by_id[busy]["streamer_id"] == busy_streamer
    limited = httpx.get(f"{served_url}/v1/console/rooms?limit=1", timeout=30.0).json()
    assert [r["room_id"] for r in limited["rooms"]] == [rooms[0]["room_id"]]


def test_pitch__recorded_with_the_models_expectation__feedback_from_the_rooms_events(
    served_url: str, served_settings: LivecartSettings
) -> None:
    ids = world_ids(served_settings)
    room, streamer, _ = ids["rooms"][2]
    viewers = ids["viewers"][5:9]
    post_events(
        served_url,
        [event(f"pitch-enter-{i}", "enter_room", v, room, streamer) for i, v in enumerate(viewers)],
    )
    top = httpx.post(
        f"{served_url}/v1/recommend/streamer", json={"room_id": room, "k": 3}, timeout=30.0
    ).json()["suggestions"]
    product = top[1]["product_id"]
    url = f"{served_url}/v1/console/room/{room}/pitch"
    body = {"product_id": product, "minutes": 2, "source": "console"}
    assert httpx.post(url, json=body, timeout=30.0).status_code == 401  # a write: the token
    refused = httpx.post(url, json={"product_id": "no-such-product"}, headers=AUTH, timeout=30.0)
    assert refused.status_code == 422 and "no-such-product" in refused.json()["detail"]
    unknown = f"{served_url}/v1/console/room/no-room/pitch"
    assert httpx.post(unknown, json=body, headers=AUTH, timeout=30.0).status_code == 404

    answer = httpx.post(url, json=body, headers=AUTH, timeout=30.0)
    assert answer.status_code == 200, answer.text
    pitched = answer.json()
    pitch = pitched["pitch"]
    assert pitch["product_id"] == product and pitch["rank"] == 2 and pitch["source"] == "console"
    assert pitch["viewers_present"] >= len(viewers) and pitch["model_version"] is not None
    assert pitch["expected_purchases"] == pytest.approx(top[1]["expected_purchases"], abs=0.05)
    assert (pitched["clicks"], pitched["purchases"], pitched["status"]) == (0, 0, "running")
    assert pitch["pitch_id"] in pitch_log(served_settings).read_text(encoding="utf-8")

    kinds = ("click", "click", "add_to_cart", "purchase")
    post_events(
        served_url,
        [
            event(f"pitch-{k}-{i}", k, viewers[i], room, streamer, product_id=product)
            | ({"amount": top[1]["price"]} if k == "purchase" else {})
            for i, k in enumerate(kinds)
        ]
        + [
            event(
                "pitch-other", "click", viewers[0], room, streamer, product_id=top[0]["product_id"]
            )
        ],
    )
    listed = httpx.get(f"{served_url}/v1/console/room/{room}/pitches", timeout=30.0).json()
    latest = listed[0]
    assert latest["pitch"]["pitch_id"] == pitch["pitch_id"]
    assert (latest["clicks"], latest["carts"], latest["purchases"]) == (2, 1, 1)
    assert latest["timeline"][-1]["purchases"] == 1 and latest["status"] == "running"
    assert latest["verdict"] in ("running", "above expectation")
    snapshot = httpx.get(f"{served_url}/v1/console/room/{room}", timeout=30.0).json()
    assert snapshot["pitches"][0]["pitch"]["pitch_id"] == pitch["pitch_id"]
    assert snapshot["pitches"][0]["purchases"] == 1


def test_simulate__a_short_live_session__events_accepted_pitches_recorded_and_answered(
    served_url: str, served_settings: LivecartSettings
) -> None:
    config = SimulateConfig(
        seconds=4, rate=40, rooms=2, pitch_every_s=1.5, pitch_minutes=1, answer_spread_s=0.5,
        feed_every_s=1, tick_s=0.5,
    )  # fmt: skip
    report = simulate(served_settings, served_url, config)
    assert report["oracle"] and len(report["rooms"]) == 2 and report["failed_ticks"] == 0
    assert report["events_accepted"] == report["events_sent"] >= 40  # nothing quarantined
    assert report["feed_requests"] >= 2 * 2
    assert len(report["pitches"]) >= 2  # both rooms pitched
    # the model's expectation, or why there was none (a loaded machine may degrade the assist)
    assert all(
        p["expected_purchases"] is not None or p["degraded_reasons"] for p in report["pitches"]
    )
    assert all(p["viewers_present"] >= 1 for p in report["pitches"])  # the sample viewers at least
    for room, link in report["console"].items():
        assert link.startswith(f"{served_url}/console?room_id={room}&viewer_id=")
