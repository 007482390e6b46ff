"""The room ranker's registry form: what evaluation's ``served`` row loads scores as it was fitted."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from livecart.core.errors import StageError
from livecart.core.settings import LivecartSettings
from livecart.model import registry
from livecart.model.interaction_log import from_arrays
from livecart.model.room_ranker import ROOM_RANKER
from ray_jobs.evaluation.live_ranker import LiveRanker, LiveRankerConfig, ServedRanker
from ray_jobs.evaluation.protocols import Split, leave_last_out


@pytest.fixture(scope="module")
def split() -> Split:
    rng = np.random.default_rng(3)
    users = rng.integers(0, 30, 900)
    favourites = rng.integers(0, 20, (30, 2))
    items = np.where(
        rng.random(900) < 0.7, favourites[users, rng.integers(0, 2, 900)], rng.integers(0, 20, 900)
    )
    times = np.sort(rng.integers(0, 300, 900))
    return leave_last_out(from_arrays([f"u{u}" for u in users], [f"i{i}" for i in items], times))


def _fitted(split: Split) -> LiveRanker:
    model = LiveRanker(
        LiveRankerConfig(
            epochs=1, queries_per_user=3, hard_negatives=5, random_negatives=4, progress=False
        )
    )
    model.fit(split.train)
    model.observe(split.observed)
    return model


def _register(settings: LivecartSettings, model: LiveRanker, rows: int, holdout: str) -> int:
    scorer = model.scorer
    record = registry.save(
        settings,
        ROOM_RANKER,
        scorer.state(),
        config=scorer.config(model.config.hidden),
        metadata={"holdout": holdout, "train_rows": rows},
    )
    return record.version


def test_served_ranker__registered_version__scores_equal_the_fitted_model(
    settings: LivecartSettings, split: Split
) -> None:
    fitted = _fitted(split)
    version = _register(settings, fitted, len(split.train), "last")
    served = ServedRanker(settings, version)
    served.fit(split.train)
    served.observe(split.observed)
    users, times = split.targets.users, split.targets.times
    np.testing.assert_allclose(served.score(users, times), fitted.score(users, times), rtol=1e-6)
    assert served.name == f"served (v{version})"


@pytest.mark.parametrize(("holdout", "extra_rows"), [("none", 0), ("last", 1)])
def test_served_ranker__saw_held_out_rows__refuses_with_the_fix(
    settings: LivecartSettings, split: Split, holdout: str, extra_rows: int
) -> None:
    version = _register(settings, _fitted(split), len(split.train) + extra_rows, holdout)
    with pytest.raises(StageError, match="livecart train --ranker rooms"):
        ServedRanker(settings, version).fit(split.train)


def test_training_queries__budget__latest_query_of_every_user_first(split: Split) -> None:
    from livecart.model.room_queries import QueryConfig, training_queries

    full = training_queries(split.train, QueryConfig(queries_per_user=4, hard_negatives=3))
    capped = training_queries(
        split.train, QueryConfig(queries_per_user=4, hard_negatives=3, max_queries=30)
    )
    assert len(full) > 30 and len(capped) == 30
    assert capped.offsets[-1] == capped.features.shape[0]


def test_room_ranker__signal_constant_in_training__reported_and_never_read(split: Split) -> None:
    from livecart.model.room_queries import QueryConfig, signal_spread, training_queries
    from livecart.model.room_ranker import fit_in_process
    from livecart.model.room_signals import FeatureConfig

    cfg = FeatureConfig()
    data = training_queries(split.train, QueryConfig(features=cfg, hard_negatives=3))
    live_now = cfg.names().index("log_others_0_0")
    before = signal_spread(data, cfg)
    assert "log_others_1011_1005" in before["constant"]  # 300 units: no last week to look at
    data.features[:, live_now] = 0.0  # a log where nobody else is ever watching at that moment
    signals = signal_spread(data, cfg)
    assert signals["constant"] == ["log_others_0_0", *before["constant"]]
    assert len(signals["informative"]) == len(before["informative"]) - 1
    net = fit_in_process(data, len(cfg.names()), epochs=1)
    rows = torch.as_tensor(data.features[:50])
    lit = rows.clone()
    lit[:, live_now] = 3.0  # at scoring time the signal appears: the net must not read it
    with torch.no_grad():
        assert torch.equal(net(rows), net(lit))
        assert torch.isfinite(net(lit)).all()
    report_model = _fitted(split)
    assert (
        report_model.signals is not None and "cf_similarity" in report_model.signals["informative"]
    )
