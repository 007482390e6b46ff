"""Ranking metrics, tie handling, AUC and coverage on hand-computed cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ray_jobs.evaluation import metrics as m


def _counts(scores: list[float], target: int, mask: list[bool] | None = None) -> m.RankCounts:
    array = np.asarray([scores], dtype=np.float64)
    mask_array = None if mask is None else np.asarray([mask])
    return m.rank_counts(array, np.asarray([target], dtype=np.int64), mask_array)


def test_rank_counts__five_items__known_rank() -> None:
    counts = _counts([0.9, 0.5, 0.7, 0.1, 0.3], target=2)  # 0.7 is second best
    assert (counts.higher[0], counts.ties[0], counts.mid_rank[0]) == (1, 0, 2.0)
    assert m.hit_rate(counts, 1)[0] == 0.0
    assert m.hit_rate(counts, 5)[0] == 1.0
    assert m.ndcg(counts, 10)[0] == pytest.approx(1 / math.log2(3))
    assert m.reciprocal_rank(counts)[0] == pytest.approx(0.5)
    assert m.target_auc(counts)[0] == pytest.approx(3 / 4)


def test_rank_counts__worst_item__zero_ndcg_below_cutoff() -> None:
    counts = _counts([0.9, 0.5, 0.7, 0.1, 0.3], target=3)
    assert counts.mid_rank[0] == 5.0
    assert m.ndcg(counts, 3)[0] == 0.0
    assert m.hit_rate(counts, 4)[0] == 0.0
    assert m.ndcg(counts, 5)[0] == pytest.approx(1 / math.log2(6))
    assert m.target_auc(counts)[0] == 0.0


def test_metrics__all_scores_tied__random_ranking_values() -> None:
    counts = _counts([1.0] * 5, target=4)
    assert counts.mid_rank[0] == 3.0
    assert m.hit_rate(counts, 1)[0] == pytest.approx(1 / 5)
    assert m.hit_rate(counts, 2)[0] == pytest.approx(2 / 5)
    assert m.hit_rate(counts, 5)[0] == pytest.approx(1.0)
    assert m.reciprocal_rank(counts)[0] == pytest.approx(sum(1 / p for p in range(1, 6)) / 5)
    expected = sum(1 / math.log2(p + 1) for p in range(1, 6)) / 5
    assert m.ndcg(counts, 10)[0] == pytest.approx(expected)
    assert m.target_auc(counts)[0] == pytest.approx(0.5)


def test_metrics__partial_ties__equal_the_average_over_every_tie_order() -> None:
    scores = [1.0, 0.5, 0.5, 0.5, 0.0, 0.5]
    target = 2
    counts = _counts(scores, target)
    tied = [i for i, s in enumerate(scores) if s == scores[target]]
    hr, nd, rr = [], [], []
    for order in itertools.permutations(tied):
        # Position of the target when ties are broken in this order.
        position = 1 + sum(s > scores[target] for s in scores) + order.index(target)
        hr.append(position <= 2)
        nd.append(1 / math.log2(position + 1) if position <= 3 else 0.0)
        rr.append(1 / position)
    assert m.hit_rate(counts, 2)[0] == pytest.approx(np.mean(hr))
    assert m.ndcg(counts, 3)[0] == pytest.approx(np.mean(nd))
    assert m.reciprocal_rank(counts)[0] == pytest.approx(np.mean(rr))


def test_rank_counts__mask__only_candidates_compete() -> None:
    counts = _counts([0.9, 0.5, 0.7, 0.1, 0.3], target=2, mask=[False, True, True, True, False])
    assert (counts.higher[0], counts.candidates[0]) == (0, 3)
    assert m.hit_rate(counts, 1)[0] == 1.0


def test_rank_counts__target_outside_mask__refused() -> None:
    with pytest.raises(ValueError, match="candidates"):
        _counts([0.9, 0.5, 0.7], target=0, mask=[False, True, True])


def test_rank_counts__nan_scores__refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        _counts([0.9, float("nan"), 0.7], target=0)


def test_binary_auc__perfect_reversed_constant() -> None:
    labels = np.array([0, 0, 1, 1, 0, 1], dtype=np.bool_)
    perfect = labels.astype(np.float64)
    assert m.binary_auc(perfect, labels) == 1.0
    assert m.binary_auc(-perfect, labels) == 0.0
    assert m.binary_auc(np.zeros(6), labels) == 0.5
    assert math.isnan(m.binary_auc(np.zeros(3), np.ones(3, dtype=np.bool_)))


def test_binary_auc__random_scorer__near_half_and_equal_to_pair_count() -> None:
    rng = np.random.default_rng(0)
    labels = rng.random(3000) < 0.3
    scores = rng.integers(0, 20, 3000).astype(np.float64)  # many ties
    auc = m.binary_auc(scores, labels)
    # The definition: P(positive scores above negative), ties counting half.
    pos, neg = scores[labels][:, None], scores[~labels][None, :]
    pairs = ((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size)
    assert auc == pytest.approx(pairs, abs=1e-12)
    assert abs(auc - 0.5) < 0.03


def test_top_k__ties__seeded_and_padded() -> None:
    scores = np.array([[1.0, 1.0, 1.0, 0.0], [3.0, 2.0, 1.0, 0.0]])
    mask = np.array([[True, True, True, True], [True, False, False, False]])
    first = m.top_k(scores, 2, mask, seed=3)
    assert np.array_equal(first, m.top_k(scores, 2, mask, seed=3))
    assert set(first[0]) <= {0, 1, 2}
    assert list(first[1]) == [0, -1]
    assert m.coverage(first, 4) == pytest.approx(len(set(first[0]) | {0}) / 4)


def _top_k_by_sorting(scores: np.ndarray, k: int, mask: np.ndarray | None, seed: int) -> np.ndarray:
    """The definition: sort each row by score (descending), then by a seeded permutation."""
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    k = min(k, scores.shape[1])
    jitter = np.random.default_rng(seed).permutation(scores.shape[1])
    order = np.lexsort((np.broadcast_to(jitter, scores.shape), -scores), axis=1)[:, :k]
    chosen = np.take_along_axis(scores, order, axis=1)
    return np.where(np.isneginf(chosen), -1, order)


def test_top_k__many_ties_and_masks__equals_sorting_whole_rows() -> None:
    rng = np.random.default_rng(1)
    for trial in range(200):
        rows, items = int(rng.integers(1, 20)), int(rng.integers(1, 60))
        levels = int(rng.integers(1, 6))  # few distinct scores: ties at the cut-off
        scores = rng.integers(0, levels, size=(rows, items)).astype(np.float64)
        mask = rng.random((rows, items)) < rng.random() if trial % 2 else None
        for k in (1, 3, 10, 100):
            for seed in (0, 5):
                got = m.top_k(scores, k, mask, seed)
                assert np.array_equal(got, _top_k_by_sorting(scores, k, mask, seed))


def test_coverage__popularity_lists__only_top_items() -> None:
    lists = np.tile(np.arange(10), (50, 1))
    assert m.coverage(lists, 1000) == pytest.approx(0.01)
