"""A registered room ranker (``served``) evaluated among other models as Ray tasks: the driver
loads it from the registry, its task scores it, and it measures what it measures in-process."""

from __future__ import annotations

import numpy as np
import pytest
import ray

from livecart.core.settings import LivecartSettings
from livecart.model import registry
from livecart.model.interaction_log import from_arrays
from livecart.model.room_ranker import ROOM_RANKER
from ray_jobs.evaluation.live_ranker import LiveRanker, LiveRankerConfig
from ray_jobs.evaluation.measure import EvaluationConfig
from ray_jobs.evaluation.on_ray import evaluate_models
from ray_jobs.evaluation.protocols import ProtocolName, leave_last_out

pytestmark = [pytest.mark.integration]


def test_served_among_models__as_ray_tasks__equals_in_process(
    settings: LivecartSettings, local_ray: None
) -> None:
    rng = np.random.default_rng(3)
    users = rng.integers(0, 30, 900)
    favourites = rng.integers(0, 20, (30, 2))
    items = np.where(
        rng.random(900) < 0.7, favourites[users, rng.integers(0, 2, 900)], rng.integers(0, 20, 900)
    )
    times = np.sort(rng.integers(0, 300, 900))
    split = leave_last_out(from_arrays([f"u{u}" for u in users], [f"i{i}" for i in items], times))
    fitted = LiveRanker(LiveRankerConfig(epochs=1, queries_per_user=3, progress=False))
    fitted.fit(split.train)
    record = registry.save(
        settings,
        ROOM_RANKER,
        fitted.scorer.state(),
        config=fitted.scorer.config(fitted.config.hidden),
        metadata={"holdout": "last", "train_rows": len(split.train), "signals": fitted.signals},
    )
    config = EvaluationConfig(
        settings=settings,
        models=(f"served@{record.version}", "pop"),
        protocols=(ProtocolName.FULL, ProtocolName.SAMPLED),
        progress=False,
    )
    on_ray = evaluate_models(split, config)
    here = evaluate_models(split, config.model_copy(update={"on_ray": False}))
    nodes = {node["NodeID"] for node in ray.nodes()}
    assert [r.model for r in on_ray] == [r.model for r in here]
    assert on_ray[0].model == f"served (v{record.version})" and on_ray[0].signals == fitted.signals
    for ours, theirs in zip(on_ray, here, strict=True):
        assert ours.node in nodes and theirs.node is None
        for name, value in theirs.metrics.items():
            assert ours.metrics[name] == pytest.approx(value, abs=1e-9), name
