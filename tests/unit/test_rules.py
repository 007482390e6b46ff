"""Ranking rules and exploration: diversity caps, stock, and where explored items land."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.rules import RuleConfig, explore_exploit, fresh_ctr_posterior, select


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=300),
    k=st.integers(min_value=1, max_value=50),
    budget=st.sampled_from([0.0, 0.1, 0.2, 0.3, 0.5]),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_explore_exploit__permutation_explored_on_fixed_slots_rest_by_score(
    n: int, k: int, budget: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.random(n)
    alpha, beta = rng.random(n) * 5 + 0.1, rng.random(n) * 5 + 0.1
    order, explored = explore_exploit(scores, alpha, beta, budget, k, np.random.default_rng(1))
    assert sorted(order) == list(range(n))  # every candidate once
    by_score = list(np.argsort(-scores, kind="stable"))
    n_explore = round(budget * k)
    if n_explore == 0 or n <= k:
        assert order == by_score and explored == set()
        return
    assert len(explored) == n_explore
    assert not explored & set(by_score[: k - n_explore])  # never one the scores pick anyway
    slots = [i for i, item in enumerate(order) if item in explored]
    every = slots[0] + 1
    assert slots == [(j + 1) * every - 1 for j in range(n_explore)]  # evenly spread
    assert max(slots) < k  # explored items are inside the first k, so they are shown
    assert every == min(round(1 / budget), k // n_explore) or every == 1
    assert [i for i in order if i not in explored] == [i for i in by_score if i not in explored]


def test_select__caps_per_streamer_and_category_then_fills() -> None:
    order = list(range(8))
    streamers = ["s1", "s1", "s1", "s2", "s2", "s3", "s3", "s4"]
    categories = ["a", "a", "b", "a", "b", "a", "c", "a"]
    allowed = np.array([True, True, True, True, False, True, True, True])
    chosen = select(order, streamers, categories, allowed, 5, RuleConfig(2, 3))
    # 2 is s1's third item, 4 is out of stock, 5 and 7 would be a fourth "a" item: four diverse
    # picks, then the best remaining allowed one fills the list.
    assert chosen == [0, 1, 3, 6, 2]
    few = select(order, streamers, categories, allowed, 7, RuleConfig(1, 1))
    assert few == [0, 6, 1, 2, 3, 5, 7]  # too few diverse items: filled with the best allowed


def test_fresh_ctr_posterior__clicks_move_the_mean_and_never_exceed_impressions() -> None:
    prior = np.array([0.1, 0.1, 0.1])
    alpha, beta = fresh_ctr_posterior(
        prior, np.array([0.0, 50.0, 5.0]), np.array([0.0, 40.0, 9.0]), 20
    )
    mean = alpha / (alpha + beta)
    assert abs(mean[0] - 0.1) < 1e-3 and mean[1] > 0.5
    assert beta[2] > 0 and alpha[2] <= 0.1 * 20 + 5 + 1e-3  # 9 clicks on 5 impressions count as 5


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=200),
    k=st.integers(min_value=1, max_value=30),
    seed=st.integers(min_value=0, max_value=10_000),
    tied=st.booleans(),
)
def test_explore_exploit__explored_items_are_the_best_thompson_samples_outside_exploit(
    n: int, k: int, seed: int, tied: bool
) -> None:
    """Same picks as sorting every sample (stable); ``tied``: alpha = beta huge gives samples
    that differ only in their last digits."""
    rng = np.random.default_rng(seed)
    scores = rng.random(n)
    alpha = np.full(n, 1e9) if tied else rng.random(n) * 5 + 0.1
    beta = alpha.copy() if tied else rng.random(n) * 5 + 0.1
    budget = 0.5
    _, explored = explore_exploit(scores, alpha, beta, budget, k, np.random.default_rng(seed))
    n_explore = round(budget * k)
    if n_explore == 0 or n <= k:
        assert explored == set()
        return
    samples = np.random.default_rng(seed).beta(alpha, beta)
    exploit = np.argsort(-scores, kind="stable")[: k - n_explore]
    reference = [i for i in np.argsort(-samples, kind="stable") if i not in set(exploit)]
    assert explored == set(reference[:n_explore])
