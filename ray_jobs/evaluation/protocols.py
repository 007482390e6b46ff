"""Time-ordered evaluation protocols: leave-last-out targets and their candidate sets.

* :func:`leave_last_out` makes each user's last interaction (in time order, ties broken by the
  written order) the target and everything else the training split. Users with fewer than two
  interactions have no history to predict from and get no target (their rows stay in training).
* Full ranking is the default candidate set: every item in the log.
* :func:`live_now` restricts candidates to items that were live at the target time, approximated
  (the Twitch log has no stop times) by an interaction of *another* user starting in the window
  ``[t - W, t]`` (or ``[t - W, t)`` with ``include_current=False``). The target user's rows never
  count, so a target cannot make itself live. With ``include_target=True`` the target is added
  (the user was watching it, so it was live): this matches the README's reference figures.
* :func:`sampled_negatives` ranks the target against ``n`` items sampled uniformly from those the
  user never interacted with, as many published tables do; it inflates every metric and is
  reported only for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np

from livecart.core.arrays import BoolArray, IntArray
from livecart.model.interaction_log import Interactions

COLD_HISTORY_MAX = 5
"""A user whose history holds at most this many interactions counts as cold."""


class ProtocolName(StrEnum):
    """Candidate sets the runner knows."""

    FULL = "full"
    LIVE_NOW = "live_now"
    SAMPLED = "sampled"


@dataclass(frozen=True)
class Targets:
    """One held-out interaction per evaluated user, with the facts segments are cut by."""

    users: IntArray
    items: IntArray
    times: IntArray
    rows: IntArray
    """Row numbers of the targets in the full log (``Split.observed``)."""
    history_length: IntArray
    repeat: BoolArray
    """True where the target item is already in the user's history (a repeat watch)."""

    def __len__(self) -> int:
        return int(self.users.shape[0])

    @property
    def cold(self) -> BoolArray:
        """Users with at most :data:`COLD_HISTORY_MAX` history interactions."""
        result: BoolArray = self.history_length <= COLD_HISTORY_MAX
        return result


@dataclass(frozen=True)
class Split:
    """Training rows, held-out targets and the full log (the only source of live-now context)."""

    train: Interactions
    targets: Targets
    observed: Interactions


def leave_last_out(data: Interactions) -> Split:
    """Hold out each user's last interaction; earlier ones are that user's history."""
    n = len(data)
    last_row = np.full(data.n_users, -1, dtype=np.int64)
    # Rows are in time order, so the last assignment per user wins.
    last_row[data.users] = np.arange(n, dtype=np.int64)
    counts = data.user_counts()
    target_rows = np.sort(last_row[(counts >= 2) & (last_row >= 0)])
    is_target = np.zeros(n, dtype=np.bool_)
    is_target[target_rows] = True
    train = data.subset(~is_target)
    users = data.users[target_rows]
    items = data.items[target_rows]
    seen = np.unique(train.users * data.n_items + train.items)
    repeat = np.isin(users * data.n_items + items, seen)
    targets = Targets(
        users=users,
        items=items,
        times=data.times[target_rows],
        rows=target_rows,
        history_length=counts[users] - 1,
        repeat=repeat,
    )
    return Split(train=train, targets=targets, observed=data)


def _rows(split: Split, rows: IntArray | None) -> IntArray:
    return np.arange(len(split.targets), dtype=np.int64) if rows is None else rows


def live_now(
    split: Split,
    window: int = 6,
    include_current: bool = True,
    include_target: bool = True,
    rows: IntArray | None = None,
) -> BoolArray:
    """Candidate mask ``[len(rows), n_items]``: items another user interacted with in the window.

    ``rows`` picks targets (default: all). Only interactions at or before the target time are
    read, and never the target user's own, so the mask cannot leak the target.
    """
    if window < 0:
        raise ValueError(f"window must be >= 0, got {window}")
    picked = _rows(split, rows)
    log = split.observed
    mask = np.zeros((picked.shape[0], log.n_items), dtype=np.bool_)
    side: Literal["left", "right"] = "right" if include_current else "left"
    for out, target in enumerate(picked):
        time = split.targets.times[target]
        lo = int(np.searchsorted(log.times, time - window, side="left"))
        hi = int(np.searchsorted(log.times, time, side=side))
        others = log.users[lo:hi] != split.targets.users[target]
        mask[out, log.items[lo:hi][others]] = True
        if include_target:
            mask[out, split.targets.items[target]] = True
    return mask


def live_summary(
    split: Split, window: int = 6, include_current: bool = True, batch: int = 4096
) -> tuple[float, float]:
    """(share of targets live by the others-only proxy, median live-now candidates with the
    target added): how often the proxy is exact, and how many items live-now ranks."""
    live, sizes = [], []
    for start in range(0, len(split.targets), batch):
        rows = np.arange(start, min(start + batch, len(split.targets)), dtype=np.int64)
        mask = live_now(split, window, include_current, include_target=False, rows=rows)
        hit = mask[np.arange(rows.size), split.targets.items[rows]]
        live.append(hit)
        sizes.append(mask.sum(axis=1) + ~hit)
    if not live:
        return float("nan"), float("nan")
    return float(np.concatenate(live).mean()), float(np.median(np.concatenate(sizes)))


def sampled_negatives(
    split: Split, n_negatives: int = 100, seed: int = 0, rows: IntArray | None = None
) -> BoolArray:
    """Candidate mask: the target plus ``n_negatives`` items outside the user's history.

    Each target draws from its own generator seeded by ``(seed, target number)``, so the sample
    does not depend on how targets are batched. Fewer items remain than asked: all are used.
    """
    if n_negatives < 1:
        raise ValueError(f"n_negatives must be >= 1, got {n_negatives}")
    picked = _rows(split, rows)
    n_items = split.observed.n_items
    mask = np.zeros((picked.shape[0], n_items), dtype=np.bool_)
    for out, target in enumerate(picked):
        user = split.targets.users[target]
        excluded = np.zeros(n_items, dtype=np.bool_)
        excluded[split.train.items[split.train.user_rows(user)]] = True
        excluded[split.targets.items[target]] = True
        pool = np.flatnonzero(~excluded)
        rng = np.random.default_rng([seed, int(target)])
        take = min(n_negatives, pool.shape[0])
        mask[out, rng.choice(pool, size=take, replace=False)] = True
        mask[out, split.targets.items[target]] = True
    return mask


def candidate_mask(
    protocol: ProtocolName,
    split: Split,
    rows: IntArray,
    window: int = 6,
    include_current: bool = True,
    n_negatives: int = 100,
    seed: int = 0,
) -> BoolArray | None:
    """The candidate mask of ``protocol`` for the targets ``rows`` (None: all items)."""
    if protocol is ProtocolName.FULL:
        return None
    if protocol is ProtocolName.LIVE_NOW:
        return live_now(split, window, include_current, include_target=True, rows=rows)
    return sampled_negatives(split, n_negatives, seed, rows=rows)
