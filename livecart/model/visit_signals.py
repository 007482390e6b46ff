"""Room signals from feature rows: the form serving computes for a viewer's live candidates.

:class:`~livecart.model.room_signals.LiveContext` sweeps a whole log once for many queries (the
batch form training and evaluation need: thousands of queries over every streamer). A replica has
one query and a few hundred live candidates, and only feature rows: the viewer's latest visits
(``viewer_visits``) and each candidate's per-unit visit counts (``streamer_visits``), as the
online store holds them. This module computes the very same columns from those rows; a test
checks both forms are equal on a log whose rows were built by the feature SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from livecart.core.arrays import FloatArray, IntArray
from livecart.model.room_signals import (
    NEVER_GAP,
    FeatureConfig,
    History,
    ItemCooccurrence,
    user_features,
)


@dataclass(frozen=True)
class StreamerVisits:
    """A ``streamer_visits`` row: visits per unit (ascending units), all-time total up to the
    latest unit, and the unit before the latest (-1: none)."""

    units: IntArray
    counts: IntArray
    total: int
    previous_unit: int = -1


def context_columns(
    visits: Sequence[StreamerVisits | None],
    at_time: int,
    own_candidates: IntArray,
    own_times: IntArray,
    cfg: FeatureConfig,
) -> FloatArray:
    """``[len(visits), n_context_features]`` at ``at_time`` (in units) for the candidates whose
    rows are ``visits`` (None: never visited). ``own_candidates``/``own_times``: the viewer's own
    visits as candidate positions (-1: not a candidate) and units, taken out of the windows."""
    windows = cfg.windows()
    t, m = at_time, len(visits)
    rows = [
        v if v is not None else StreamerVisits(np.zeros(0, np.int64), np.zeros(0, np.int64), 0)
        for v in visits
    ]
    owner = np.repeat(np.arange(m), [r.units.size for r in rows])
    units = np.concatenate([r.units for r in rows]) if m else np.zeros(0, np.int64)
    counts = np.concatenate([r.counts for r in rows]).astype(np.float64) if m else np.zeros(0)
    mine = own_candidates >= 0
    out = np.zeros((m, len(windows) + 2), dtype=np.float64)
    for k, (old, new) in enumerate(windows):
        hi = t - new if (new > 0 or cfg.include_current) else t - 1
        inside = (units >= t - old) & (units <= hi)
        others = np.bincount(owner[inside], weights=counts[inside], minlength=m)
        own = mine & (own_times >= t - old) & (own_times <= hi)
        others -= np.bincount(own_candidates[own], minlength=m)
        out[:, k] = np.log1p(np.maximum(others, 0.0))
    total = np.array([r.total for r in rows], dtype=np.float64)
    current = units >= t
    before = total - np.bincount(owner[current], weights=counts[current], minlength=m)
    out[:, len(windows)] = np.log1p(np.maximum(before, 0.0))
    last = np.full(m, -1.0)
    np.maximum.at(last, owner[~current], units[~current].astype(np.float64))
    previous = np.array([r.previous_unit for r in rows], dtype=np.float64)
    last = np.where(last >= 0, last, previous)
    gap = np.where(last >= 0, np.minimum(t - last, NEVER_GAP), NEVER_GAP)
    if cfg.include_current and windows[0] == (0, 0):
        gap = np.where(out[:, 0] > 0, 0.0, gap)  # another viewer visited in this very unit
    out[:, len(windows) + 1] = np.log1p(gap)
    return out


def candidate_signals(
    history_ids: Sequence[str],
    history_units: IntArray,
    candidate_ids: Sequence[str],
    visits: Sequence[StreamerVisits | None],
    at_time: int,
    cfg: FeatureConfig,
    item_ids: Sequence[str],
    cooccurrence: ItemCooccurrence | None,
) -> FloatArray:
    """All room-signal columns ``[len(candidate_ids), n_features]`` for one viewer at a unit.

    ``item_ids``: the streamers the model knows (its co-occurrence is indexed by them); history
    and candidate streamers outside them count for repeat and recency but not for similarity."""
    index = {item: i for i, item in enumerate(item_ids)}
    extra = {
        s: len(index) + n
        for n, s in enumerate(
            dict.fromkeys(s for s in (*history_ids, *candidate_ids) if s not in index)
        )
    }
    index.update(extra)
    n_items = len(index)
    keep = history_units <= at_time
    items = np.array([index[s] for s in history_ids], dtype=np.int64)[keep]
    history = History(items, history_units[keep].astype(np.int64))
    rows = np.array([index[s] for s in candidate_ids], dtype=np.int64)
    own = user_features(history, at_time, n_items, cfg, cooccurrence, items=rows)
    position = {int(r): j for j, r in enumerate(rows)}
    own_candidates = np.array([position.get(int(i), -1) for i in items], dtype=np.int64)
    context = context_columns(visits, at_time, own_candidates, history.times, cfg)
    result: FloatArray = np.concatenate([own, context], axis=1)
    return result
