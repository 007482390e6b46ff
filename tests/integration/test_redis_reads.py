"""Serving's Redis reads that skip work give Feast's own answers, on a real ``redis-server``.

The state memo (:mod:`livecart.features.redis_memo`) hands back a state decoded before only for
the very same answer: after a viewer's row changes in Redis, the next read must show the change,
as ``get_online_features`` does. The read script is sent as ``EVALSHA`` without redis-py's
``SCRIPT EXISTS``; after ``SCRIPT FLUSH`` (or a restarted server) it is loaded again and reads
stay scripted (:mod:`livecart.features.redis_fetch`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.settings import LivecartSettings
from livecart.features.feast_store import feature_store
from livecart.online.plan import plan_service
from serving.catalog import load_catalog
from tests.served_world import home_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_redis_reader__state_memo__same_frames_and_columns_as_feast_and_a_changed_row_shows(
    redis_world: LivecartSettings,
) -> None:
    from livecart.features.reader import FeastReader, RedisReader, reader_for
    from livecart.model.scoring import LoadedRanker
    from serving.retrieve import VIEWER_CONTEXT_SERVICE
    from tests.feature_reads import candidate_entities, serving_plan

    settings = redis_world
    with home_env(settings):
        store = feature_store(settings)
        reader = reader_for(store)
        assert isinstance(reader, RedisReader) and reader.memo is not None
        memo = reader.memo
        plain = RedisReader(store)  # no memo: every answer decoded
        plan = serving_plan(store, LoadedRanker.load(settings))
        context = plan_service(store, VIEWER_CONTEXT_SERVICE)
        catalog = load_catalog(settings)
        viewers = [*sorted(catalog.follows or {})[:3], "no-such-viewer"]
        names = [n for r in plan.views for n in r.features]
        for _ in range(2):  # the second round: answers the memo has decoded before
            for viewer in viewers:
                entities, coded = candidate_entities(catalog, viewer, catalog.popular[:30])
                theirs = FeastReader.frame(reader, plan, entities).to_pylist()
                assert reader.frame(plan, entities).to_pylist() == theirs, viewer
                assert plain.frame(plan, entities).to_pylist() == theirs, viewer
                one = {c.VIEWER_ID: [viewer]}
                assert reader.frame(context, one).to_pylist() == (
                    FeastReader.frame(reader, context, one).to_pylist()
                )
                got, want = reader.columns(plan, coded), plain.columns(plan, coded)
                for name in names:
                    expected = want.numbers(name)
                    if expected is not None:
                        np.testing.assert_array_equal(got.numbers(name), expected, err_msg=name)
        assert memo.hits >= 4 * len(viewers), (memo.hits, memo.misses)

        # The viewer's behaviour row changes in Redis: the next read decodes the new answer.
        # (Not the first viewer: the end-to-end test sends that one's events to the same world.)
        viewer = viewers[1]
        behavior = f.FeatureTable.VIEWER_BEHAVIOR.value
        features = [field.name for field in store.get_feature_view(behavior).features]
        found = store.get_online_features(
            features=[f"{behavior}:{n}" for n in features], entity_rows=[{c.VIEWER_ID: viewer}]
        ).to_dict()
        row = {name: values[0] for name, values in found.items()}
        clicks = int(row[f.CLICKS_30M] or 0) + 7
        stamp = datetime.now(UTC)
        row |= {f.CLICKS_30M: clicks, c.EVENT_TIMESTAMP: stamp, c.CREATED_TIMESTAMP: stamp}
        store.write_to_online_store(behavior, pd.DataFrame([row]), allow_registry_cache=True)
        entities, _ = candidate_entities(catalog, viewer, catalog.popular[:30])
        for read in (context, plan):
            rows = reader.frame(read, entities if read is plan else {c.VIEWER_ID: [viewer]})
            assert rows.column(f.CLICKS_30M).to_pylist()[0] == clicks, read.name
        assert reader.frame(plan, entities).to_pylist() == (
            FeastReader.frame(reader, plan, entities).to_pylist()
        )


def test_redis_reader__script_flushed__loaded_again_reads_stay_scripted(
    redis_world: LivecartSettings, redis_address: str
) -> None:
    import redis

    from livecart.features import redis_fetch
    from livecart.features.reader import FeastReader, RedisReader
    from livecart.model.scoring import LoadedRanker
    from tests.feature_reads import candidate_entities, serving_plan

    host, port = redis_address.split(":")
    admin = redis.Redis(host=host, port=int(port))
    settings = redis_world
    with home_env(settings):
        store = feature_store(settings)
        reader = RedisReader(store)
        plan = serving_plan(store, LoadedRanker.load(settings))
        catalog = load_catalog(settings)
        viewer = sorted(catalog.follows or {})[0]
        entities, _ = candidate_entities(catalog, viewer, catalog.popular[:20])
        theirs = FeastReader.frame(reader, plan, entities).to_pylist()
        for _ in range(2):
            admin.script_flush()
            assert admin.script_exists(redis_fetch._SHA) == [False]
            assert reader.frame(plan, entities).to_pylist() == theirs
            assert admin.script_exists(redis_fetch._SHA) == [True]  # loaded again, by its SHA
        client = reader._online._get_client(store.config.online_store)
        assert id(client) not in redis_fetch._REFUSED  # still read by script, not key by key
