"""The served world on Feast's own Redis online store, end to end (README, "Swapping the online
store"): the repo's ``feature_store.yaml`` names Redis, then apply -> materialize (Feast's) ->
serve -> events -> the viewer's recommendations change.

Debian's ``redis-server`` is started by the test on a free localhost port (``.ci/run`` installs
it); no part of Feast, Redis, Ray or Serve is mocked.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from livecart.bench.redis_server import local_redis, redis_server_path
from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.settings import FEATURE_REPO_DIR, LivecartSettings
from livecart.features.feast_store import apply, feature_store
from ray_jobs.materialize import materialize
from serving.catalog import load_catalog
from tests.served_world import TOKEN, copy_served_home, home_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def redis_address() -> Iterator[str]:
    """A throwaway ``redis-server`` on a free localhost port, no persistence."""
    if redis_server_path() is None:
        pytest.skip("redis-server is not installed (.ci/run installs Debian's redis-server)")
    with local_redis() as address:
        yield address


def redis_repo(target: Path, address: str) -> Path:
    """The project's Feast repo with the online store swapped for Redis, as README shows."""
    shutil.copytree(FEATURE_REPO_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    yaml = target / "feature_store.yaml"
    text = yaml.read_text(encoding="utf-8")
    start = text.index("online_store:")
    end = text.index("entity_key_serialization_version")
    online = f'online_store:\n  type: redis\n  connection_string: "{address}"\n'
    yaml.write_text(text[:start] + online + text[end:], encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def redis_world(
    served_template: LivecartSettings,
    redis_address: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LivecartSettings]:
    """A copy of the served world whose online store is Redis: applied and materialized."""
    root = tmp_path_factory.mktemp("redis-world")
    copied = copy_served_home(served_template, root)
    settings = copied.model_copy(
        update={"feature_repo": redis_repo(root / "feature_repo", redis_address)}
    )
    with home_env(settings):
        apply(settings)
        # The world's events are months old: every view's whole window, not "now minus TTL".
        materialize(settings, start=datetime.now(UTC) - timedelta(days=400))
        yield settings


def _recommend(url: str, viewer: str) -> dict[str, Any]:
    body = {"viewer_id": viewer, "k": 10, "explore": False}
    answer = httpx.post(f"{url}/v1/recommend/viewer", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _clicks(settings: LivecartSettings, viewer: str) -> int:
    name = f"{f.FeatureTable.VIEWER_BEHAVIOR.value}:{f.CLICKS_30M}"
    values = (
        feature_store(settings)
        .get_online_features(features=[name], entity_rows=[{c.VIEWER_ID: viewer}])
        .to_dict()
    )
    return int(values[f.CLICKS_30M][0] or 0)


def test_redis__apply_materialize_serve_events__features_pushed_and_feed_changes(
    redis_world: LivecartSettings, local_ray: None
) -> None:
    from serving.runner import start, stop

    settings = redis_world
    store = feature_store(settings)
    assert store.config.online_store.type == "redis"
    catalog = load_catalog(settings)
    viewer = sorted(catalog.follows or {"v0000": []})[0]
    url = start(settings)
    try:
        assert httpx.get(f"{url}/readyz", timeout=30).status_code == 200
        before = _recommend(url, viewer)
        assert before["products"] and not before["degraded"], before.get("degraded_reasons")
        shown = Counter(p["category"] for p in before["products"])
        products = catalog.products[catalog.products["streamer_id"].isin(catalog.streamer_rooms)]
        counts = products["category"].value_counts()
        target = min(
            (cat for cat in counts.index if counts[cat] >= 4), key=lambda cat: shown.get(cat, 0)
        )
        clicks_before = _clicks(settings, viewer)
        burst = []
        for n, (product, row) in enumerate(
            products[products["category"] == target].head(6).iterrows()
        ):
            streamer = str(row["streamer_id"])
            room = catalog.streamer_rooms[streamer][0]
            for k in range(4):
                for kind in ("impression", "click"):
                    burst.append(
                        {
                            c.EVENT_ID: f"redis-{n}-{k}-{kind}",
                            c.EVENT_TYPE: kind,
                            c.EVENT_TIMESTAMP: datetime.now(UTC).isoformat(),
                            c.VIEWER_ID: viewer,
                            c.ROOM_ID: room,
                            c.STREAMER_ID: streamer,
                            c.PRODUCT_ID: str(product),
                        }
                    )
        answer = httpx.post(f"{url}/v1/events", json={"events": burst}, headers=AUTH, timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == len(burst)
        assert f.FeatureTable.VIEWER_BEHAVIOR.value in answer.json()["pushed_views"]
        # Pushed into Redis: the viewer's counters there moved by the burst's clicks.
        assert _clicks(settings, viewer) == clicks_before + len(burst) // 2
        deadline = time.monotonic() + 10
        while True:
            after = _recommend(url, viewer)
            shifted = Counter(p["category"] for p in after["products"])
            if shifted[target] > shown.get(target, 0) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert shifted[target] > shown.get(target, 0), (target, shown, shifted)
        assert not after["degraded"], after.get("degraded_reasons")
    finally:
        stop(settings)
