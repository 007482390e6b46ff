"""The explain stage: which profile drove each recommendation, by occlusion on the real model.

For each shown product the ranker scores the row again with one profile's columns blanked
(as if unknown: behavior, interaction, text, popularity); the profile whose removal costs the
most score drove it. Blanking is done on the feature frame, so it holds for any model version
that reads these columns.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from livecart import feature_names as f
from serving.schemas import Driver

GROUPS: dict[Driver, tuple[str, ...]] = {
    Driver.BEHAVIOR: (
        *f.BEHAVIOR_EVENT_COUNTS,
        f.CLICKS_30M,
        f.CARTS_1440M,
        f.PURCHASES_1440M,
        f.LAST_PRODUCTS,
        f.LAST_ROOMS,
        f.VIEWER_CATEGORY_AFFINITY,
    ),
    Driver.INTERACTION: (
        f.VS_ENTERS,
        f.VS_WATCH_MINUTES,
        f.VS_LIKES,
        f.VS_COMMENTS,
        f.VS_GIFT_VALUE,
        f.VS_PURCHASES,
        f.VS_FOLLOWS,
    ),
    Driver.TEXT: (f.TEXT_EMBEDDING,),
    Driver.POPULARITY: (
        f.PRODUCT_IMPRESSIONS,
        f.PRODUCT_CLICKS,
        f.PRODUCT_CARTS,
        f.PRODUCT_PURCHASES,
        f.PRODUCT_CTR,
        f.PRODUCT_CONVERSION,
        f.PRODUCT_GMV,
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


def drivers(
    frame: pd.DataFrame, base: np.ndarray, score: Callable[[pd.DataFrame], np.ndarray]
) -> list[tuple[Driver, float]]:
    """(driver, score drop) per row of ``frame`` given its ``base`` scores (one batched call)."""
    groups = [(d, [col for col in cols if col in frame.columns]) for d, cols in GROUPS.items()]
    groups = [(d, cols) for d, cols in groups if cols]
    if frame.empty or not groups:
        return [(Driver.POPULARITY, 0.0)] * len(frame)
    blanked = []
    for _, cols in groups:
        copy = frame.copy()
        for col in cols:
            copy[col] = None
        blanked.append(copy)
    scores = score(pd.concat(blanked, ignore_index=True)).reshape(len(groups), len(frame))
    drops = base[None, :] - scores
    best = drops.argmax(axis=0)
    out: list[tuple[Driver, float]] = []
    for row, g in enumerate(best):
        drop = float(drops[g, row])
        out.append((groups[g][0], drop) if drop > 0 else (Driver.POPULARITY, 0.0))
    return out


def explanation(driver: Driver, category: str, sources: list[str]) -> str:
    text = PHRASES[driver].format(category=category)
    return f"{text}; found via {', '.join(sorted(set(sources)))}"
