"""The explain stage: which profile drove each recommendation, by occlusion on the real model.

For each shown product the ranker scores the row again with one profile's inputs blanked (numeric
features set to their training mean, vectors to zero, the recent-product history emptied):
behavior, interaction, text, popularity. The profile whose removal costs the most score drove it.
All blanked copies of the top-k rows go through the model in one forward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from livecart.core import feature_names as f
from livecart.model.build_inputs import (
    CATEGORY_MATCH,
    DECLARED_MATCH,
    PAD,
)
from livecart.model.input_arrays import RankerInputs, TableRows, concat_inputs
from serving.schemas import Driver

NUMERIC_GROUPS: dict[Driver, frozenset[str]] = {
    Driver.BEHAVIOR: frozenset(
        {
            *f.BEHAVIOR_EVENT_COUNTS,
            f.CLICKS_30M,
            f.CARTS_1440M,
            f.PURCHASES_1440M,
            CATEGORY_MATCH,
            DECLARED_MATCH,
        }
    ),
    Driver.INTERACTION: frozenset(
        {
            *f.VS_TOTALS,
            f.VS_FOLLOWS,
            f.COMMENT_SENTIMENT_5M,
            f.PURCHASE_INTENT_5M,
            f.COMMENTS_SCORED_5M,
        }
    ),
    Driver.TEXT: frozenset(),
    Driver.POPULARITY: frozenset(
        {
            *f.PRODUCT_FUNNEL,
            f.GRAPH_DEGREE,
        }
    ),
}

PHRASES: dict[Driver, str] = {
    Driver.BEHAVIOR: "matches what you did recently ({category})",
    Driver.INTERACTION: "from a streamer you engage with",
    Driver.TEXT: "similar to products you looked at",
    Driver.POPULARITY: "popular with shoppers right now",
    Driver.EXPLORATION: "trending in a live room (new for you)",
    Driver.AUDIENCE: "fits the audience in the room",
}


def occlude(
    inputs: RankerInputs, driver: Driver, features: Sequence[str], mean: np.ndarray
) -> RankerInputs:
    """``inputs`` with ``driver``'s profile blanked."""
    columns = [j for j, name in enumerate(features) if name in NUMERIC_GROUPS[driver]]
    numeric = inputs.numeric.copy()
    if columns:
        numeric[:, columns] = mean[columns]
    blanked = replace(inputs, numeric=numeric)
    if driver is Driver.TEXT:
        blanked = replace(
            blanked,
            text=None
            if inputs.text is None
            else inputs.text.blank()
            if isinstance(inputs.text, TableRows)
            else np.zeros_like(inputs.text),
            graph=None if inputs.graph is None else np.zeros_like(inputs.graph),
        )
    if driver is Driver.BEHAVIOR:
        blanked = replace(blanked, history=np.full_like(inputs.history, PAD))
    return blanked


def drivers(
    inputs: RankerInputs,
    features: Sequence[str],
    mean: np.ndarray,
    score: Callable[[RankerInputs], np.ndarray],
) -> list[tuple[Driver, float]]:
    """(driver, score drop) per row of ``inputs`` (the shown products), one forward pass."""
    n = len(inputs)
    if n == 0:
        return []
    groups = list(NUMERIC_GROUPS)
    batch = concat_inputs([inputs] + [occlude(inputs, d, features, mean) for d in groups])
    scores = score(batch).reshape(len(groups) + 1, n)
    drops = scores[0][None, :] - scores[1:]
    best = drops.argmax(axis=0)
    out: list[tuple[Driver, float]] = []
    for row, g in enumerate(best):
        drop = float(drops[g, row])
        out.append((groups[g], drop) if drop > 0 else (Driver.POPULARITY, 0.0))
    return out


def explanation(driver: Driver, category: str, sources: list[str]) -> str:
    text = PHRASES[driver].format(category=category)
    return f"{text}; found via {', '.join(sorted(set(sources)))}"
