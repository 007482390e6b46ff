"""Business rules and exploration after ranking: what may be shown, and in which order.

Rules: in stock, not just purchased, at most ``max_per_streamer`` / ``max_per_category`` items per
list (diversity, a greedy pass in score order). Exploration: a share of the slots
(``exploration_budget``) goes to Thompson samples over each candidate's fresh click-through, with
the model's click estimate as the prior (``exploration_prior_strength`` pseudo-impressions) and
the last 30 minutes of impressions and clicks (``product_live_stats``, pushed by the event
endpoint) as evidence, so a product that is clicking now rises and one that is ignored sinks.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from livecart.core import feature_names as f


@dataclass(frozen=True)
class RuleConfig:
    max_per_streamer: int = 2
    max_per_category: int = 4


def fresh_ctr_posterior(
    p_click: np.ndarray, impressions: np.ndarray, clicks: np.ndarray, strength: float
) -> tuple[np.ndarray, np.ndarray]:
    """Beta(alpha, beta) per candidate: model prior plus the fresh counts."""
    clicks = np.minimum(clicks, impressions)
    alpha = p_click * strength + clicks + 1e-3
    beta = (1.0 - p_click) * strength + (impressions - clicks) + 1e-3
    return alpha, beta


def blend_scores(posterior_ctr: np.ndarray, p_purchase: np.ndarray) -> np.ndarray:
    """The exploitation score: engagement now and the chance to buy, equally weighted."""
    return 0.5 * posterior_ctr + 0.5 * p_purchase


def select(
    order: list[int],
    streamers: Sequence[Hashable],
    categories: Sequence[Hashable],
    allowed: np.ndarray,
    k: int,
    rules: RuleConfig,
) -> list[int]:
    """Greedy diverse pick of ``k`` indices from ``order`` (best first)."""
    per_streamer: dict[Hashable, int] = {}
    per_category: dict[Hashable, int] = {}
    chosen: list[int] = []
    for i in order:
        if not allowed[i]:
            continue
        if per_streamer.get(streamers[i], 0) >= rules.max_per_streamer:
            continue
        if per_category.get(categories[i], 0) >= rules.max_per_category:
            continue
        chosen.append(i)
        per_streamer[streamers[i]] = per_streamer.get(streamers[i], 0) + 1
        per_category[categories[i]] = per_category.get(categories[i], 0) + 1
        if len(chosen) == k:
            return chosen
    # Too few diverse items: fill with the best remaining allowed ones.
    for i in order:
        if allowed[i] and i not in chosen:
            chosen.append(i)
            if len(chosen) == k:
                break
    return chosen


def explore_exploit(
    scores: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray,
    budget: float,
    k: int,
    rng: np.random.Generator,
) -> tuple[list[int], set[int]]:
    """An order of candidates: exploit slots by score, ``budget`` share by Thompson samples.

    Returns (order, explored): the order interleaves one Thompson pick every ``1/budget`` slots so
    the explored items sit inside the first ``k``, not after them.
    """
    exploit = np.argsort(-scores, kind="stable")
    n_explore = round(budget * k)
    n = len(scores)
    if n_explore == 0 or n <= k:
        return exploit.tolist(), set()
    # The explored items are the best samples outside the first k - n_explore exploit slots:
    # among the k best samples, in the order a stable sort would give them.
    samples = -rng.beta(alpha, beta)
    best = np.argpartition(samples, k - 1)[:k]
    sampled = best[np.lexsort((best, samples[best]))]
    exploited = np.zeros(n, dtype=bool)
    exploited[exploit[: k - n_explore]] = True
    explored = sampled[~exploited[sampled]][:n_explore]
    # Every ``every``-th slot (1-based) holds the next explored item, all within the first k;
    # the rest keep score order.
    every = max(1, min(round(1 / budget), k // n_explore))
    slots = (np.arange(len(explored)) + 1) * every - 1
    order = np.empty(n, dtype=np.int64)
    taken = np.zeros(n, dtype=bool)
    taken[slots] = True
    order[slots] = explored
    is_explored = np.zeros(n, dtype=bool)
    is_explored[explored] = True
    order[~taken] = exploit[~is_explored[exploit]]
    return order.tolist(), set(explored.tolist())


LIVE_IMPRESSIONS, LIVE_CLICKS = f.PRODUCT_IMPRESSIONS_30M, f.PRODUCT_CLICKS_30M
