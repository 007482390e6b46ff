"""The served world on Feast's own Redis online store, end to end (README, "Swapping the online
store"): the repo's ``feature_store.yaml`` names Redis, then apply -> materialize (Feast's) ->
serve -> events -> the viewer's recommendations change.

Debian's ``redis-server`` is started by the test on a free localhost port (``.ci/run`` installs
it); no part of Feast, Redis, Ray or Serve is mocked.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.settings import LivecartSettings
from livecart.features.feast_store import feature_store
from serving.catalog import load_catalog
from tests.served_world import TOKEN, home_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AUTH = {"authorization": f"Bearer {TOKEN}"}


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


def test_redis_reader__ranker_columns__equal_feasts_get_online_features(
    redis_world: LivecartSettings,
) -> None:
    """Serving's Redis read (Feast's keys and fields, into livecart's row states; by script or
    key by key) gives the very frames and ranker columns ``get_online_features`` gives, unknown
    keys and coded keys included."""
    import numpy as np

    from livecart.features.reader import FeastReader, RedisReader, frame_columns, reader_for
    from livecart.model.scoring import LoadedRanker
    from tests.feature_reads import candidate_entities, full_inputs, serving_plan

    settings = redis_world
    with home_env(settings):
        store = feature_store(settings)
        reader = reader_for(store)
        assert isinstance(reader, RedisReader)
        keyed = RedisReader(store, scripted=False)  # Feast's pipeline, key by key
        ranker = LoadedRanker.load(settings)
        catalog = load_catalog(settings)
        plan = serving_plan(store, ranker)
        products = [*catalog.popular[:60], "no-such-product"]
        names = [n for r in plan.views for n in r.features]

        checked = 0
        for viewer in [*sorted(catalog.follows or {})[:4], "no-such-viewer"]:
            entities, coded = candidate_entities(catalog, viewer, products)
            want = frame_columns(reader, plan, entities)
            # Frames (rows, a viewer's context, vectors): the same values as Feast's.
            theirs = FeastReader.frame(reader, plan, entities).to_pylist()
            assert reader.frame(plan, entities).to_pylist() == theirs, viewer
            assert keyed.frame(plan, entities).to_pylist() == theirs, viewer  # no script
            keys = set(plan.entity_columns)  # a coded unknown key reads as None: features only
            features = [{k: v for k, v in row.items() if k not in keys} for row in theirs]
            from_codes = reader.frame(plan, coded).to_pylist()
            assert [{k: v for k, v in r.items() if k not in keys} for r in from_codes] == features
            for got in (reader.columns(plan, entities), reader.columns(plan, coded)):
                for name in names:
                    expected = want.numbers(name)
                    if expected is not None:
                        np.testing.assert_array_equal(got.numbers(name), expected, err_msg=name)
                        checked += 1
                a, b = full_inputs(ranker, want), full_inputs(ranker, got)
                for part in ("numeric", "text", "graph", "history", "candidate"):
                    x, y = getattr(a, part), getattr(b, part)
                    assert (x is None) == (y is None), part
                    if x is not None:
                        np.testing.assert_array_equal(x, y, err_msg=f"{part} of {viewer}")
        assert checked > 20, "too few numeric columns compared"


def test_redis_reader__server_refuses_scripts__reads_key_by_key_same_frames(
    redis_world: LivecartSettings, redis_address: str
) -> None:
    """A Redis whose ACL forbids scripts (a managed Redis may): the reader falls back to Feast's
    pipeline, key by key, with the same frames as ``get_online_features``."""
    import redis

    from livecart.features.reader import FeastReader, RedisReader
    from livecart.model.scoring import LoadedRanker
    from tests.feature_reads import candidate_entities, serving_plan

    host, port = redis_address.split(":")
    admin = redis.Redis(host=host, port=int(port))
    settings = redis_world
    with home_env(settings):
        store = feature_store(settings)
        plan = serving_plan(store, LoadedRanker.load(settings))
        catalog = load_catalog(settings)
        viewer = sorted(catalog.follows or {})[0]
        entities, _ = candidate_entities(catalog, viewer, catalog.popular[:40])
        admin.execute_command("ACL", "SETUSER", "default", "-@scripting")
        try:
            reader = RedisReader(store)
            with pytest.raises(redis.exceptions.NoPermissionError):
                admin.eval("return 1", 0)
            theirs = FeastReader.frame(reader, plan, entities).to_pylist()
            for _ in range(2):  # refused, then remembered: key by key both times
                assert reader.frame(plan, entities).to_pylist() == theirs
        finally:
            admin.execute_command("ACL", "SETUSER", "default", "+@all")


def test_redis_reader__near_cache__product_rows_kept_for_their_ttl_then_read_again(
    redis_world: LivecartSettings,
) -> None:
    """A replica's near cache (``LIVECART_REDIS_NEAR_CACHE_S``) on real Redis: a product's live
    counter written to Redis shows only once its entry is older than the TTL; before and after,
    the frames are Feast's own for what the cache read."""
    import pandas as pd

    from livecart.features.reader import FeastReader, RedisReader
    from livecart.features.redis_near import NearCache
    from livecart.model.scoring import LoadedRanker
    from tests.feature_reads import candidate_entities, serving_plan

    live = f.FeatureTable.PRODUCT_LIVE_STATS.value
    clicks = f.PRODUCT_LIVE_COUNTS[1]
    settings = redis_world
    with home_env(settings):
        store = feature_store(settings)
        plan = serving_plan(store, LoadedRanker.load(settings))
        assert live in {read.view.name for read in plan.views}
        catalog = load_catalog(settings)
        viewer = sorted(catalog.follows or {})[0]
        product = str(catalog.popular[0])
        entities, _ = candidate_entities(catalog, viewer, catalog.popular[:30])
        now = [0.0]
        near = NearCache(1.0, clock=lambda: now[0])
        reader = RedisReader(store, near=near)

        def counter() -> Any:
            rows = reader.frame(plan, entities).to_pylist()
            return next(r[clicks] for r in rows if r[c.PRODUCT_ID] == product)

        before = counter()
        assert reader.frame(plan, entities).to_pylist() == (
            FeastReader.frame(reader, plan, entities).to_pylist()
        )
        kept = len([r for r in plan.views if near.keeps(r)])
        assert near.hits == kept > 0  # the second read: every view not keyed by the viewer
        # More candidates: the entries read only the keys they lack, and answer as Feast does.
        more, _ = candidate_entities(catalog, viewer, catalog.popular[10:50])
        assert reader.frame(plan, more).to_pylist() == (
            FeastReader.frame(reader, plan, more).to_pylist()
        )
        assert near.partial == kept
        assert reader.frame(plan, entities).to_pylist() == (
            FeastReader.frame(reader, plan, entities).to_pylist()
        )
        assert near.hits == 2 * kept  # the grown entries hold the first candidates too
        stamp = datetime.now(UTC)
        row = {c.PRODUCT_ID: product, c.EVENT_TIMESTAMP: stamp, c.CREATED_TIMESTAMP: stamp}
        row |= {name: 7_777 for name in f.PRODUCT_LIVE_COUNTS}
        store.write_to_online_store(live, pd.DataFrame([row]), allow_registry_cache=True)
        now[0] += 0.9
        assert counter() == before  # within the TTL: the kept row
        now[0] += 0.2
        assert counter() == 7_777  # past it: read again
        assert reader.frame(plan, entities).to_pylist() == (
            FeastReader.frame(reader, plan, entities).to_pylist()
        )
