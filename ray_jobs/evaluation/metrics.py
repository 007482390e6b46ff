"""Ranking metrics with honest tie handling, AUC and catalogue coverage.

Ties. Many baselines give equal scores to many items (POP gives every unwatched streamer of equal
count the same score; REP gives all never-watched streamers equal repeat counts). Ranking the
target first among its ties would reward such ties; ranking it last would punish them. Every metric
here is instead the **exact expectation under a uniformly random tie-break**: with ``h`` items
scoring strictly higher and ``e`` other items scoring equal, the target's position is uniform on
``h + 1 .. h + e + 1`` and each metric is averaged over those positions in closed form. This is what
an infinite number of seeded random tie-breaks would give, with no seed noise, and a constant scorer
gets exactly the random-ranking value (HR@K = K / n). The reported *rank* is the mid-rank
``1 + h + e / 2``. Top-K lists (for coverage) must be concrete, so they break ties with a seeded
random permutation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from livecart.core.arrays import BoolArray, FloatArray, IntArray


@dataclass(frozen=True)
class RankCounts:
    """Per target: items scoring strictly higher, other items tied, and candidates in all."""

    higher: IntArray
    ties: IntArray
    candidates: IntArray

    @property
    def mid_rank(self) -> FloatArray:
        """``1 + higher + ties / 2``: the expected position under a random tie-break."""
        result: FloatArray = 1.0 + self.higher + self.ties / 2.0
        return result


def rank_counts(scores: FloatArray, targets: IntArray, mask: BoolArray | None = None) -> RankCounts:
    """Compare each row's target score with the other candidates' (``mask``; None: all items)."""
    if scores.ndim != 2 or targets.shape != (scores.shape[0],):
        raise ValueError("scores must be [n_targets, n_items] and targets [n_targets]")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    rows = np.arange(scores.shape[0])
    if mask is not None:
        if not mask[rows, targets].all():
            raise ValueError("every target must be among its candidates")
        scores = np.where(mask, scores, -np.inf)
        candidates = mask.sum(axis=1).astype(np.int64)
    else:
        candidates = np.full(scores.shape[0], scores.shape[1], dtype=np.int64)
    target_score = scores[rows, targets][:, None]
    valid = np.ones_like(scores, dtype=np.bool_) if mask is None else mask
    higher = ((scores > target_score) & valid).sum(axis=1).astype(np.int64)
    ties = ((scores == target_score) & valid).sum(axis=1).astype(np.int64) - 1
    return RankCounts(higher=higher, ties=ties, candidates=candidates)


@lru_cache(maxsize=8)
def _prefix_sums(n: int) -> tuple[FloatArray, FloatArray]:
    """Prefix sums of ``1 / log2(p + 1)`` (discounted gain) and ``1 / p`` for p = 1..n."""
    positions = np.arange(1, n + 1, dtype=np.float64)
    gain = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(positions + 1.0))])
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / positions)])
    return gain, harmonic


def _window(counts: RankCounts, k: int | None) -> tuple[IntArray, IntArray, FloatArray]:
    lo = counts.higher
    hi = counts.higher + counts.ties + 1
    if k is not None:
        lo, hi = np.minimum(lo, k), np.minimum(hi, k)
    width = (counts.ties + 1).astype(np.float64)
    return lo, hi, width


def hit_rate(counts: RankCounts, k: int) -> FloatArray:
    """Expected HR@k per target: the chance the target lands in the top k."""
    lo, hi, width = _window(counts, k)
    result: FloatArray = (hi - lo) / width
    return result


def ndcg(counts: RankCounts, k: int) -> FloatArray:
    """Expected NDCG@k per target (one relevant item, so the ideal DCG is 1)."""
    gain, _ = _prefix_sums(int(max(k, 1)))
    lo, hi, width = _window(counts, k)
    result: FloatArray = (gain[hi] - gain[lo]) / width
    return result


def reciprocal_rank(counts: RankCounts) -> FloatArray:
    """Expected reciprocal rank per target over the full candidate list (MRR when averaged)."""
    _, harmonic = _prefix_sums(int(counts.candidates.max(initial=1)))
    lo, hi, width = _window(counts, None)
    result: FloatArray = (harmonic[hi] - harmonic[lo]) / width
    return result


def target_auc(counts: RankCounts) -> FloatArray:
    """Per target, the share of other candidates scored below it (ties count half)."""
    others = np.maximum(counts.candidates - 1, 1).astype(np.float64)
    result: FloatArray = (others - counts.higher - counts.ties / 2.0) / others
    return result


def binary_auc(scores: FloatArray, labels: BoolArray) -> float:
    """ROC AUC of a scorer of binary labels (Mann-Whitney U; tied scores count half).

    NaN when only one class is present, since the AUC is then undefined.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels, dtype=np.bool_).ravel()
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    ranks = np.empty(scores.size, dtype=np.float64)
    # Average rank within each run of equal scores.
    starts = np.flatnonzero(np.concatenate([[True], sorted_scores[1:] != sorted_scores[:-1]]))
    ends = np.concatenate([starts[1:], [scores.size]])
    average = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(average, ends - starts)
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def top_k(scores: FloatArray, k: int, mask: BoolArray | None = None, seed: int = 0) -> IntArray:
    """Top-``k`` item indices per row, ties broken by a seeded random permutation of the items.

    Rows with fewer than ``k`` candidates are padded with ``-1``. The order is that of sorting
    each row by score (descending), then by the permutation; only the ``k`` chosen items are
    sorted, so a row costs a partition of its items, not a sort.
    """
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    n = scores.shape[1]
    k = min(k, n)
    if k == 0:
        return np.empty((scores.shape[0], 0), dtype=np.int64)
    jitter = np.random.default_rng(seed).permutation(n)
    kth = np.partition(scores, n - k, axis=1)[:, n - k : n - k + 1]  # the k-th largest score
    above = scores > kth
    tied = scores == kth
    # Of the items tied with the k-th largest score, the row takes the `need` first in jitter
    # order: those whose jitter is at most the need-th smallest jitter among the tied.
    need = k - above.sum(axis=1)
    cut = np.full((scores.shape[0], 1), n, dtype=np.int64)  # rows taking every tied item
    split = np.flatnonzero(tied.sum(axis=1) > need)
    if split.size:
        tied_jitter = np.where(tied[split], jitter, n)
        smallest = np.sort(np.partition(tied_jitter, k - 1, axis=1)[:, :k], axis=1)
        cut[split] = np.take_along_axis(smallest, (need[split] - 1)[:, None], axis=1)
    chosen = np.nonzero(above | (tied & (jitter <= cut)))[1].reshape(scores.shape[0], k)
    picked = np.take_along_axis(scores, chosen, axis=1)
    order = np.lexsort((jitter[chosen], -picked), axis=1)
    ranked = np.take_along_axis(chosen, order, axis=1)
    result: IntArray = np.where(
        np.isneginf(np.take_along_axis(picked, order, axis=1)), -1, ranked
    ).astype(np.int64)
    return result


def coverage(lists: IntArray, n_items: int) -> float:
    """Share of the catalogue appearing in at least one top-K list (``-1`` padding ignored)."""
    shown = np.unique(lists[lists >= 0])
    return float(shown.size / n_items) if n_items else float("nan")
