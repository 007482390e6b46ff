"""The room list a replica serves is the registered room ranker's order, as the evaluation
computes it: same model version, same scoring code, features from the online store's visit rows
versus the evaluation's sweep over the offline log, for the same viewer, time and live rooms."""

from __future__ import annotations

import time
from typing import Any

import httpx
import numpy as np
import pytest

from livecart.core import feature_names as f
from livecart.core.settings import LivecartSettings
from livecart.model import registry
from livecart.model.interaction_log import load_interactions
from livecart.model.room_ranker import ROOM_RANKER, RoomScorer
from livecart.model.room_signals import History, LiveContext
from tests.integration.serving.conftest import TOKEN, event, world_ids

pytestmark = [pytest.mark.integration, pytest.mark.slow]
AUTH = {"authorization": f"Bearer {TOKEN}"}


def _recommend(url: str, viewer: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{url}/v1/recommend/viewer", json={"viewer_id": viewer, "k": 50}, timeout=30.0
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _evaluation_scores(
    settings: LivecartSettings, viewer: str, streamers: list[str], unit: int
) -> np.ndarray:
    """The evaluation's scores: the served version through RoomScorer.score on the offline log."""
    record, state = registry.load(
        settings, ROOM_RANKER, registry.serving_version(settings, ROOM_RANKER)
    )
    scorer = RoomScorer.from_registry(record.config, state)
    log = load_interactions(settings.clean_dir, ("enter_room",))
    assert log.item_ids == scorer.item_ids  # the same streamers, the same co-occurrence index
    user = log.user_ids.index(viewer)
    mine = log.user_rows(user)
    mine = mine[log.times[mine] <= unit]
    history = History(log.items[mine], log.times[mine])
    scores = scorer.score(
        [history],
        np.array([user]),
        np.array([unit]),
        LiveContext(log, scorer.features),
    )[0]
    return scores[[log.item_ids.index(s) for s in streamers]]


def test_viewer_rooms__served_order__equals_the_evaluations_order(
    served_url: str, served_settings: LivecartSettings
) -> None:
    ids = world_ids(served_settings)
    viewer, others = ids["viewers"][0], ids["viewers"][1:4]
    live = ids["rooms"][:5]
    events = [
        event(f"rr-{n}-{i}", "enter_room", other, room, streamer)
        for i, (room, streamer, _) in enumerate(live)
        for n, other in enumerate(others[: 1 + i % 3])
    ]
    events.append(event("rr-own", "enter_room", viewer, live[0][0], live[0][1]))
    answer = httpx.post(f"{served_url}/v1/events", json={"events": events}, headers=AUTH)
    assert answer.status_code == 200 and answer.json()["accepted"] == len(events), answer.text
    assert {f.FeatureTable.VIEWER_VISITS.value, f.FeatureTable.STREAMER_VISITS.value} <= set(
        answer.json()["pushed_views"]
    )
    wanted = {room for room, _, _ in live}
    deadline = time.monotonic() + 20
    while True:
        before = int(time.time() // f.VISIT_UNIT_SECONDS)
        body = _recommend(served_url, viewer)
        after = int(time.time() // f.VISIT_UNIT_SECONDS)
        rooms = body["rooms"]
        if wanted <= {r["room_id"] for r in rooms} or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert wanted <= {r["room_id"] for r in rooms}, rooms
    assert all("room ranker" in r["explanation"] for r in rooms)
    served = [r["room_id"] for r in rooms]
    streamers = [r["streamer_id"] for r in rooms]
    scores = np.array([r["score"] for r in rooms])
    matches = []
    for unit in {before, after}:  # the request's own unit (it may straddle a boundary)
        expected = _evaluation_scores(served_settings, viewer, streamers, unit)
        order = [served[i] for i in np.argsort(-expected, kind="stable")]
        matches.append(order == served and np.allclose(expected, scores, atol=2e-6))
    assert any(matches), (served, scores)
