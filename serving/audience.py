"""A room's whole audience: pitch estimates over everyone present, and a summary that counts them.

Scoring every present viewer against every room product is exact and cheap for a small room; a
room of 100,000 viewers would be a million ranker rows per request. Up to :data:`EXACT_PAIRS`
viewer-product pairs, every viewer is scored; beyond, a uniform sample of viewers without
replacement (seeded by room and audience size, so a steady room gets a steady answer) stands for
the room: expected purchases are the sample mean times the audience size, with a 95 % band from
the sample's spread and the finite-population correction. ``livecart bench streamer`` measures the
estimate's top-5 agreement with exact scoring and its band's coverage.

The summary (segments, category interests) reads every present viewer's row in one columnar
read and counts with Arrow, never a prefix of the audience.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.online.plan import ServicePlan

EXACT_PAIRS = 4096
"""Viewer-product pairs scored per request: everyone up to this, a sample of this size beyond."""
Z95 = 1.959964
NEW_VIEWERS = "new viewers"


@dataclass(frozen=True)
class PitchEstimate:
    """Expected purchases per product over everyone present, and their 95 % band."""

    expected: np.ndarray
    low: np.ndarray
    high: np.ndarray
    scored: int  # viewers scored (all of them when exact)
    present: int

    @property
    def exact(self) -> bool:
        return self.scored >= self.present


def scored_viewers(
    room: str, audience: Sequence[str], products: int, budget: int = EXACT_PAIRS
) -> list[str]:
    """Everyone present while ``audience x products`` fits ``budget``; else a uniform sample."""
    take = max(2, budget // max(products, 1))
    if len(audience) <= take:
        return list(audience)
    seed = zlib.crc32(room.encode("utf-8", "surrogatepass")) ^ len(audience)
    picked = np.random.default_rng(seed).choice(len(audience), size=take, replace=False)
    return [audience[i] for i in np.sort(picked)]


def estimate(p_buy: np.ndarray, present: int) -> PitchEstimate:
    """From purchase probabilities of the scored viewers (rows) per product (columns)."""
    scored = p_buy.shape[0]
    if scored == 0 or present == 0:
        zero = np.zeros(p_buy.shape[1])
        return PitchEstimate(zero, zero, zero, 0, present)
    expected = p_buy.mean(axis=0) * present
    if scored >= present:
        return PitchEstimate(expected, expected, expected, scored, present)
    spread = p_buy.std(axis=0, ddof=1)
    correction = np.sqrt((present - scored) / max(present - 1, 1))
    half = Z95 * spread / np.sqrt(scored) * correction * present
    return PitchEstimate(
        expected, np.maximum(expected - half, 0.0), expected + half, scored, present
    )


@dataclass(frozen=True)
class AudienceCounts:
    """Everyone present, counted: viewers per segment and the summed category interest."""

    segments: dict[str, int]
    affinity: np.ndarray  # (categories,) summed interest shares


def count_audience(viewers: pa.Table) -> AudienceCounts:
    """Counts over a columnar read of the present viewers' rows (one row per viewer)."""
    segments: dict[str, int] = {}
    if viewers.num_rows and f.SEGMENT_NAME in viewers.column_names:
        names = pc.fill_null(viewers.column(f.SEGMENT_NAME).cast(pa.string()), NEW_VIEWERS)
        for item in pc.value_counts(names).to_pylist():
            segments[str(item["values"])] = int(item["counts"])
    elif viewers.num_rows:
        segments[NEW_VIEWERS] = viewers.num_rows
    width = len(c.CATEGORIES)
    affinity = np.zeros(width)
    if viewers.num_rows and f.VIEWER_CATEGORY_AFFINITY in viewers.column_names:
        shares = viewers.column(f.VIEWER_CATEGORY_AFFINITY).combine_chunks()
        whole = pc.equal(pc.list_value_length(shares), width)
        shares = shares.filter(pc.fill_null(whole, False))
        if len(shares):
            values = shares.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
            affinity = np.nansum(values.reshape(-1, width), axis=0)
    return AudienceCounts(segments, affinity)


def summary_plan(viewer_context: ServicePlan) -> ServicePlan:
    """Of the viewer context service, only the views and features the summary counts (a room's
    whole audience is read per request: the rest would be read for nothing)."""
    return viewer_context.only({f.SEGMENT_NAME, f.VIEWER_CATEGORY_AFFINITY}, "audience")


def top_interests(affinity: np.ndarray, k: int = 3) -> dict[str, float]:
    """The audience's ``k`` largest category interests, as shares of the total."""
    total = float(affinity.sum())
    if total <= 0:
        return {}
    return {
        c.CATEGORIES[int(i)]: round(float(affinity[i] / total), 3)
        for i in np.argsort(-affinity)[:k]
    }
