"""The comment probe separates praise, complaints and purchase-intent questions (real MiniLM)."""

from __future__ import annotations

import pytest

from livecart.core.settings import LivecartSettings
from livecart.model import registry
from livecart.model.comment_probe import PROBE
from livecart.model.comment_probe import run as train_probe
from livecart.simulation.generate import run as generate
from livecart.simulation.world.config import world_config
from validation.run import run as validate

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_comment_probe__beats_majority_class_on_later_comments(settings: LivecartSettings) -> None:
    generate(world_config("small", seed=2), settings, use_ray=False)
    validate(settings)
    result = train_probe(settings, limit=2_000)
    assert result.test >= 100
    assert result.accuracy > max(0.8, result.majority_baseline + 0.2), result
    record, state = registry.load(settings, PROBE)
    assert record.config["classes"] == ["negative", "positive", "intent"] and "weight" in state


def test_comment_signals__scored_per_room_bucket_and_served(
    settings: LivecartSettings, local_ray: None
) -> None:
    import pyarrow.parquet as pq

    from livecart.core import feature_names as f
    from livecart.features.feast_store import apply, feature_store
    from livecart.model.comment_signals import run as score_comments
    from livecart.model.comment_signals import signals_path
    from ray_jobs.features import run as build_features
    from ray_jobs.materialize import materialize

    generate(
        world_config("tiny", seed=2).model_copy(update={"viewers": 600}), settings, use_ray=False
    )
    validate(settings)
    build_features(settings)
    assert pq.read_table(signals_path(settings)).num_rows == 0  # placeholder before the probe
    train_probe(settings, limit=2_000)
    result = score_comments(settings)
    table = pq.read_table(signals_path(settings)).to_pandas()
    assert result.comments > 0 and len(table) == result.rows > 0
    assert table[f.COMMENTS_SCORED_5M].sum() == result.comments
    assert table[f.COMMENT_SENTIMENT_5M].between(-1, 1).all()
    assert table[f.PURCHASE_INTENT_5M].between(0, 1).all()
    apply(settings)
    materialize(settings, start=table["event_timestamp"].min().to_pydatetime())
    view = feature_store(settings).get_feature_view(f.FeatureTable.ROOM_COMMENT_SIGNALS.value)
    assert view.materialization_intervals  # registered, materialized (TTL 1 h: June rows expire)
