"""Room signals read for a few items equal the whole-catalogue rows, and batched scoring equals
one query at a time: the shortcuts training and scoring take at e-commerce size change nothing."""

from __future__ import annotations

import numpy as np
import pytest

from livecart.model import room_ranker
from livecart.model.interaction_log import Interactions, from_arrays
from livecart.model.room_queries import QueryConfig, history_of, training_queries
from livecart.model.room_ranker import RoomRankerNet, RoomScorer
from livecart.model.room_signals import (
    FeatureConfig,
    ItemCooccurrence,
    LiveContext,
    user_features,
)


@pytest.fixture(scope="module")
def log() -> Interactions:
    rng = np.random.default_rng(5)
    n_rows, n_users, n_items = 2500, 60, 120
    users = rng.integers(0, n_users, n_rows)
    favourites = rng.integers(0, n_items, (n_users, 3))
    items = np.where(
        rng.random(n_rows) < 0.6,
        favourites[users, rng.integers(0, 3, n_rows)],
        rng.integers(0, n_items, n_rows),
    )
    times = np.sort(rng.integers(0, 2000, n_rows))
    return from_arrays([f"u{u}" for u in users], [f"i{i}" for i in items], times)


@pytest.mark.parametrize("include_current", [True, False])
def test_features_of_some_items__equal_the_whole_catalogue_rows(
    log: Interactions, include_current: bool
) -> None:
    cfg = FeatureConfig(include_current=include_current)
    cooccurrence = ItemCooccurrence(log)
    rng = np.random.default_rng(0)
    picks = rng.choice(len(log), 20, replace=False)
    users, times = log.users[picks], log.times[picks]
    for q, context in LiveContext(log, cfg).at_queries(users, times):
        items = np.sort(rng.choice(log.n_items, 15, replace=False))
        whole = context.rows()
        assert np.array_equal(context.rows(items), whole[items])
        mine = log.user_rows(int(users[q]))
        history = history_of(log, int(users[q]), mine[log.times[mine] < times[q]])
        full = user_features(history, int(times[q]), log.n_items, cfg, cooccurrence)
        some = user_features(history, int(times[q]), log.n_items, cfg, cooccurrence, items=items)
        assert np.array_equal(some, full[items])


def test_training_queries__candidate_rows__equal_the_whole_catalogue_features(
    log: Interactions,
) -> None:
    cfg = QueryConfig(queries_per_user=1, hard_negatives=10, random_negatives=5, seed=1)
    data = training_queries(log, cfg)
    # One query per user with two rows or more: that user's last row, in user order.
    rows = [log.user_rows(u)[-1] for u in range(log.n_users) if log.user_rows(u).size > 1]
    assert len(data) == len(rows)
    users, times = log.users[rows], log.times[rows]
    cooccurrence = ItemCooccurrence(log)
    for q, context in LiveContext(log, cfg.features).sweep(users, times):
        mine = log.user_rows(int(users[q]))
        history = history_of(log, int(users[q]), mine[:-1])
        own = user_features(history, int(times[q]), log.n_items, cfg.features, cooccurrence)
        whole = np.concatenate([own, context], axis=1).astype(np.float32)
        candidates = data.query(q)
        assert np.array_equal(candidates[data.targets[q]], whole[log.items[rows[q]]])
        assert all((whole == row).all(axis=1).any() for row in candidates)


def test_scoring__several_queries_per_pass__equals_one_at_a_time(
    log: Interactions, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = FeatureConfig()
    net = RoomRankerNet(len(cfg.names()))
    scorer = RoomScorer(net, cfg, log.item_ids, ItemCooccurrence(log))
    users, times = log.users[-9:], log.times[-9:]
    histories = []
    for u, t in zip(users, times, strict=True):
        mine = log.user_rows(int(u))
        histories.append(history_of(log, int(u), mine[log.times[mine] < t]))
    context = LiveContext(log, cfg)
    batched = scorer.score(histories, users, times, context)
    monkeypatch.setattr(room_ranker, "SCORE_ROWS", 1)
    alone = scorer.score(histories, users, times, context)
    assert np.allclose(batched, alone, atol=1e-6)
    assert not np.allclose(batched[0], batched[1])
