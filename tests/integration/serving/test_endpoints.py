"""Each endpoint over real HTTP on a real local Ray Serve app (no mocks)."""

from __future__ import annotations

import concurrent.futures as cf
from typing import Any

import httpx
import pytest
from feast import FeatureStore

from livecart.core import feature_names as f
from livecart.core.settings import LivecartSettings
from tests.integration.serving.conftest import TOKEN, event, world_ids

pytestmark = [pytest.mark.integration, pytest.mark.slow]
AUTH = {"authorization": f"Bearer {TOKEN}"}


def post(url: str, path: str, body: dict[str, Any], **kw: Any) -> httpx.Response:
    return httpx.post(f"{url}{path}", json=body, timeout=30.0, **kw)


def test_viewer__known_viewer__ranked_products_with_explanations(
    served_url: str, served_settings: LivecartSettings
) -> None:
    viewer = world_ids(served_settings)["viewers"][0]
    answer = post(
        served_url,
        "/v1/recommend/viewer",
        {"viewer_id": viewer, "k": 5, "filters": {"live_only": False}},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["products"]) == 5 and body["model_version"] == 1
    assert not body["degraded"] and not body["cold_start"]
    scores = [p["score"] for p in body["products"]]
    assert all(0 <= s <= 1 for s in scores)
    assert all(p["explanation"] and p["driver"] for p in body["products"])
    assert len({p["product_id"] for p in body["products"]}) == 5


def test_viewer__unknown_viewer__cold_start_not_failure(served_url: str) -> None:
    answer = post(
        served_url,
        "/v1/recommend/viewer",
        {"viewer_id": "never-seen", "k": 4, "filters": {"live_only": False}},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["cold_start"] and len(body["products"]) == 4 and body["model_version"] is None


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"viewer_id": "v1", "k": 10_000}, "less than or equal"),
        ({"viewer_id": "v1", "k": 51}, "max_k"),
        ({"k": 3}, "viewer_id"),
        ({"viewer_id": "v1", "surprise": 1}, "surprise"),
        ({"viewer_id": "x" * 500}, "viewer_id"),
    ],
)
def test_viewer__invalid_request__422_with_message(
    served_url: str, body: dict[str, Any], needle: str
) -> None:
    answer = post(served_url, "/v1/recommend/viewer", body)
    assert answer.status_code == 422 and needle in answer.text


def test_events__without_token__401(served_url: str) -> None:
    answer = post(served_url, "/v1/events", {"events": [{"event_id": "x"}]})
    assert answer.status_code == 401


def test_events__mixed_batch__bad_quarantined_good_pushed_and_stored(
    served_url: str, served_settings: LivecartSettings
) -> None:
    ids = world_ids(served_settings)
    viewer = ids["viewers"][1]
    room, streamer, products = ids["rooms"][0]
    good = [
        event("mix-1", "enter_room", viewer, room, streamer),
        event("mix-2", "impression", viewer, room, streamer, product_id=products[0]),
        event("mix-3", "click", viewer, room, streamer, product_id=products[0]),
    ]
    bad = [
        {
            **event("mix-4", "purchase", viewer, room, streamer, product_id=products[0]),
            "amount": -5.0,
        },
        {
            **event("mix-5", "click", viewer, room, streamer),
            "event_timestamp": "2026-01-01T00:00:00",
        },
        event("mix-6", "click", "no-such-viewer", room, streamer),
        {**event("mix-7", "comment", viewer, room, streamer), "text": "x" * 5000},
        {**event("mix-8", "like", viewer, room, streamer), "watch_seconds": "lots"},
        event("mix-1", "like", viewer, room, streamer),  # duplicate id
        {
            **event("mix-9", "click", viewer, room, streamer),
            "event_timestamp": "2099-01-01T00:00:00+00:00",
        },
    ]
    answer = post(served_url, "/v1/events", {"events": good + bad}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == 3
    reasons = {q["index"]: q["reason"] for q in body["quarantined"]}
    assert sorted(reasons) == list(range(3, 10))
    assert "amount" in reasons[3] and "naive" in reasons[4] and "viewer_id" in reasons[5]
    assert "limit" in reasons[6] and "watch_seconds" in reasons[7]
    assert "duplicate" in reasons[8].lower() and "future" in reasons[9].lower()
    assert set(body["pushed_views"]) >= {
        f.FeatureTable.VIEWER_BEHAVIOR.value,
        f.FeatureTable.ROOM_LIVE_STATS.value,
    }
    stages = body["stages_ms"]  # where the batch's time went (bench serve's freshness breakdown)
    assert set(stages) == {"typing", "validate", "append", "recompute", "push"}
    assert all(ms >= 0 for ms in stages.values()) and stages["validate"] > 0
    # Stored offline (nothing lost) and fresh online.
    import pyarrow.parquet as pq

    stored = pq.read_table(body["offline_part"]).column("event_id").to_pylist()
    assert stored == ["mix-1", "mix-2", "mix-3"]
    store = FeatureStore(repo_path=str(served_settings.feature_repo))
    online = store.get_online_features(
        features=[f"viewer_behavior:{f.CLICKS_30M}", f"product_live_stats:{f.PRODUCT_CLICKS_30M}"],
        entity_rows=[{"viewer_id": viewer, "product_id": products[0]}],
    ).to_dict()
    assert online[f.CLICKS_30M][0] >= 1 and online[f.PRODUCT_CLICKS_30M][0] >= 1


def test_streamer__audience_present__pitches_room_products(
    served_url: str, served_settings: LivecartSettings
) -> None:
    ids = world_ids(served_settings)
    room, streamer, products = ids["rooms"][1]
    viewers = ids["viewers"][2:8]
    batch = [event(f"aud-{i}", "enter_room", v, room, streamer) for i, v in enumerate(viewers)]
    assert post(served_url, "/v1/events", {"events": batch}, headers=AUTH).status_code == 200
    answer = post(served_url, "/v1/recommend/streamer", {"room_id": room, "k": 3})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["audience"]["viewers_present"] == len(viewers)
    assert {s["product_id"] for s in body["suggestions"]} <= set(products)
    assert len(body["suggestions"]) == min(3, len(products))
    assert (
        body["suggestions"][0]["expected_purchases"]
        >= body["suggestions"][-1]["expected_purchases"]
    )
    assert post(served_url, "/v1/recommend/streamer", {"room_id": "no-room"}).status_code == 404


def test_health_ready_metrics(served_url: str) -> None:
    assert httpx.get(f"{served_url}/healthz").json()["status"] == "ok"
    ready = httpx.get(f"{served_url}/readyz")
    assert ready.status_code == 200 and ready.json()["details"]["online_store"] == "ok"
    text = httpx.get(f"{served_url}/metrics").text
    assert "livecart_requests_total" in text and "livecart_request_seconds_bucket" in text
    assert httpx.get(f"{served_url}/openapi.json").json()["paths"]["/v1/recommend/viewer"]


def test_batching__concurrent_requests__ranked_together(
    served_url: str, served_settings: LivecartSettings
) -> None:
    viewers = world_ids(served_settings)["viewers"]
    body = lambda v: {"viewer_id": v, "k": 5, "filters": {"live_only": False}}  # noqa: E731
    with cf.ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(lambda v: post(served_url, "/v1/recommend/viewer", body(v)), viewers * 3)
        )
    assert all(a.status_code == 200 for a in answers)
    assert not [a.json()["degraded_reasons"] for a in answers if a.json()["degraded"]]
    metrics = httpx.get(f"{served_url}/metrics").text
    single = next(
        line
        for line in metrics.splitlines()
        if line.startswith('livecart_rank_batch_size_bucket{le="1.0"}')
    )
    total = next(
        line for line in metrics.splitlines() if line.startswith("livecart_rank_batch_size_count")
    )
    assert float(total.split()[-1]) > float(
        single.split()[-1]
    )  # some batch held more than one request


def test_events__comments__live_comment_signals_pushed(
    served_url: str, served_settings: LivecartSettings
) -> None:
    ids = world_ids(served_settings)
    room, streamer, _ = ids["rooms"][2]
    viewers = ids["viewers"][:3]
    texts = ["love this, buying two", "where is the link to buy", "this looks great"]
    batch = [
        event(f"talk-{i}", "comment", v, room, streamer, text=t)
        for i, (v, t) in enumerate(zip(viewers, texts, strict=True))
    ]
    answer = post(served_url, "/v1/events", {"events": batch}, headers=AUTH)
    assert answer.status_code == 200 and answer.json()["accepted"] == 3, answer.text
    assert f.FeatureTable.ROOM_COMMENT_SIGNALS.value in answer.json()["pushed_views"]
    store = FeatureStore(repo_path=str(served_settings.feature_repo))
    online = store.get_online_features(
        features=[
            f"room_comment_signals:{f.COMMENTS_SCORED_5M}",
            f"room_comment_signals:{f.COMMENT_SENTIMENT_5M}",
            f"streamer_comment_signals:{f.COMMENTS_SCORED_5M}",
        ],
        entity_rows=[{"room_id": room, "streamer_id": streamer}],
        full_feature_names=True,
    ).to_dict()
    assert online[f"room_comment_signals__{f.COMMENTS_SCORED_5M}"][0] >= 3
    assert online[f"streamer_comment_signals__{f.COMMENTS_SCORED_5M}"][0] >= 3
    assert -1.0 <= online[f"room_comment_signals__{f.COMMENT_SENTIMENT_5M}"][0] <= 1.0
