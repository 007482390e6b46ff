"""Baselines, livecart's features and ranker on toy logs: correct counts, no target leakage."""

from __future__ import annotations

import numpy as np
import pytest

from livecart.model.interaction_log import Interactions, from_arrays
from livecart.model.room_signals import FeatureConfig, ItemCooccurrence, LiveContext
from ray_jobs.evaluation.baselines import ItemCF, Popularity, Repeat
from ray_jobs.evaluation.bpr import BPRMF, BPRConfig
from ray_jobs.evaluation.live_ranker import LiveRanker, LiveRankerConfig
from ray_jobs.evaluation.protocols import Split, leave_last_out
from ray_jobs.evaluation.sasrec import SASRec, SASRecConfig


def random_log(
    n_rows: int = 1500, n_users: int = 40, n_items: int = 30, seed: int = 0
) -> Interactions:
    """Users with a few favourite items watched repeatedly, over 400 time units."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n_rows)
    favourites = rng.integers(0, n_items, (n_users, 3))
    items = np.where(
        rng.random(n_rows) < 0.7,
        favourites[users, rng.integers(0, 3, n_rows)],
        rng.integers(0, n_items, n_rows),
    )
    times = np.sort(rng.integers(0, 400, n_rows))
    return from_arrays([f"u{u:02d}" for u in users], [f"i{i:02d}" for i in items], times)


@pytest.fixture(scope="module")
def split() -> Split:
    return leave_last_out(random_log())


def test_popularity__scores__training_counts(split: Split) -> None:
    model = Popularity()
    model.fit(split.train)
    scores = model.score(split.targets.users[:3], split.targets.times[:3])
    assert np.array_equal(scores[1], split.train.item_counts())


def test_repeat__history_first_then_popularity() -> None:
    data = from_arrays(
        ["u", "u", "u", "v", "v", "v", "u"],
        ["a", "a", "b", "c", "c", "c", "z"],
        [1, 2, 3, 4, 5, 6, 7],
    )
    split = leave_last_out(data)
    model = Repeat()
    model.fit(split.train)
    u = split.observed.user_ids.index("u")
    scores = model.score(np.array([u]), np.array([7]))[0]
    order = [split.observed.item_ids[i] for i in np.argsort(-scores)]
    assert order[:3] == ["a", "b", "c"]  # watched twice, once, then the popular one
    # Only history at or before the query time counts.
    early = model.score(np.array([u]), np.array([1]))[0]
    assert early[split.observed.item_ids.index("a")] < scores[split.observed.item_ids.index("a")]


def test_item_cf__co_watched_item__scores_above_unrelated() -> None:
    data = from_arrays(
        ["u", "u", "v", "v", "w", "w"], ["a", "b", "a", "b", "c", "a"], [1, 2, 3, 4, 5, 6]
    )
    model = ItemCF()
    model.fit(data)
    v = data.user_ids.index("v")
    ids = data.item_ids
    scores = model.score(np.array([v]), np.array([10]))[0]
    assert scores[ids.index("b")] > scores[ids.index("c")]


def test_live_context__own_rows_never_counted_and_current_unit_optional() -> None:
    log = from_arrays(["u", "v", "u", "w"], ["a", "b", "c", "c"], [5, 9, 10, 10])
    cfg = FeatureConfig(recent_windows=(0, 6), periodic_lags=())
    u = np.array([log.user_ids.index("u")])
    at = np.array([10])
    ids = log.item_ids
    now = LiveContext(log, cfg).features(u, at)[0]
    # Column 0: others in the current unit; column 1: others in [t-6, t].
    assert now[ids.index("c"), 0] == pytest.approx(np.log1p(1))  # w's row, not u's own
    assert now[ids.index("b"), 1] == pytest.approx(np.log1p(1))
    assert now[ids.index("a"), 1] == 0.0  # only u's own row
    strict_cfg = FeatureConfig(recent_windows=(0, 6), periodic_lags=(), include_current=False)
    strict = LiveContext(log, strict_cfg).features(u, at)[0]
    assert strict[ids.index("c"), 0] == 0.0
    assert strict[ids.index("c"), 1] == 0.0


def test_item_cooccurrence__hidden_rows__equal_recomputed_without_them() -> None:
    log = random_log(600, 25, 20, seed=3)
    user = 4
    mine = log.user_rows(user)
    cut = mine.size - 4
    history = np.zeros(log.n_items, dtype=np.bool_)
    history[log.items[mine[:cut]]] = True
    hidden = np.zeros(log.n_items, dtype=np.bool_)
    hidden[log.items[mine]] = True
    hidden &= ~history
    fast = ItemCooccurrence(log).similarity(history, hidden)
    keep = np.ones(len(log), dtype=np.bool_)
    keep[mine[cut:]] = False
    counts = ItemCooccurrence(log.subset(keep)).counts.toarray()
    norms = np.sqrt(np.maximum(np.diag(counts), 1.0))
    cosine = counts / norms[:, None] / norms[None, :]
    np.fill_diagonal(cosine, 0.0)
    assert np.allclose(fast, history @ cosine / history.sum())


def test_item_cooccurrence__streamers_past_the_log__zero_similarity_but_counted() -> None:
    log = random_log(600, 25, 20, seed=3)
    co = ItemCooccurrence(log)
    history = np.zeros(log.n_items, dtype=np.bool_)
    history[[1, 4, 7]] = True
    longer = np.concatenate([history, [True, False]])  # one unseen streamer in the history
    got = co.similarity(longer)
    assert got.shape == (log.n_items + 2,)
    assert np.allclose(got[: log.n_items], co.similarity(history) * 3 / 4)
    assert np.array_equal(got[log.n_items :], [0.0, 0.0])


def test_item_cf__sparse_similarity__equals_dense_cosine() -> None:
    log = random_log(600, 25, 20, seed=4)
    split = leave_last_out(log)
    model = ItemCF()
    model.fit(split.train)
    got = model.score(split.targets.users, split.targets.times)
    co = ItemCooccurrence(split.train).counts.toarray()
    norms = np.sqrt(np.diag(co))
    norms[norms == 0] = 1.0
    cosine = co / norms[:, None] / norms[None, :]
    from ray_jobs.evaluation.base import history_counts

    counts = history_counts(split.train, split.targets.users, split.targets.times)
    assert np.allclose(got, counts @ cosine)


def _quick_ranker() -> LiveRanker:
    return LiveRanker(
        LiveRankerConfig(
            epochs=1, queries_per_user=3, progress=False, hard_negatives=5, random_negatives=4
        )
    )


def test_live_ranker__changing_a_users_target__leaves_its_scores_unchanged(split: Split) -> None:
    model = _quick_ranker()
    model.fit(split.train)
    model.observe(split.observed)
    users, times = split.targets.users, split.targets.times
    before = model.score(users, times)
    # Move one user's target to another item: a leak would show in that user's scores.
    k = int(np.argmax(split.targets.history_length))
    items = split.observed.items.copy()
    items[split.targets.rows[k]] = (items[split.targets.rows[k]] + 1) % split.observed.n_items
    changed = Interactions(
        items=items,
        users=split.observed.users,
        times=split.observed.times,
        user_ids=split.observed.user_ids,
        item_ids=split.observed.item_ids,
    )
    model.observe(changed)
    after = model.score(users[k : k + 1], times[k : k + 1])
    # Equal up to float rounding: a batch of one and a batch of many take different BLAS paths
    # (last-bit differences seen on 2 cores); a leak moves scores by far more than this.
    np.testing.assert_allclose(before[k], after[0], rtol=1e-6, atol=1e-9)
    assert np.isfinite(before).all()


def test_live_ranker__same_seed__same_scores(split: Split) -> None:
    scores = []
    for _ in range(2):
        model = _quick_ranker()
        model.fit(split.train)
        scores.append(model.score(split.targets.users[:5], split.targets.times[:5]))
    assert np.array_equal(scores[0], scores[1])


@pytest.mark.parametrize(
    "model",
    [
        lambda: BPRMF(BPRConfig(dim=8, epochs=2, progress=False)),
        lambda: SASRec(SASRecConfig(dim=16, blocks=1, epochs=1, max_length=10, progress=False)),
        lambda: SASRec(
            SASRecConfig(
                dim=16, blocks=1, epochs=1, max_length=10, progress=False, full_softmax_items=5
            )
        ),
    ],
    ids=["bpr", "sasrec", "sasrec-sampled-negatives"],
)
def test_learned_baselines__tiny_fit__finite_seeded_scores(split: Split, model: object) -> None:
    results = []
    for _ in range(2):
        fresh = model()  # type: ignore[operator]
        fresh.fit(split.train)
        results.append(fresh.score(split.targets.users[:4], split.targets.times[:4]))
    assert results[0].shape == (4, split.observed.n_items)
    assert np.isfinite(results[0]).all()
    assert np.allclose(results[0], results[1])


def test_sasrec__batch_with_longer_histories__same_scores_as_alone(split: Split) -> None:
    """A batch runs as long as its longest history and no item attends to padding, so a user's
    scores do not depend on who else is in the batch (or on how much padding it holds)."""
    model = SASRec(SASRecConfig(dim=16, blocks=2, epochs=1, max_length=30, progress=False))
    model.fit(split.train)
    lengths = np.array(
        [split.train.user_rows(int(u)).size for u in split.targets.users], dtype=np.int64
    )
    short, long = int(np.argmin(lengths)), int(np.argmax(lengths))
    assert lengths[short] < lengths[long]
    users, times = split.targets.users, split.targets.times
    together = model.score(users[[short, long]], times[[short, long]])
    alone = model.score(users[[short]], times[[short]])
    assert np.allclose(together[0], alone[0], atol=1e-5)
