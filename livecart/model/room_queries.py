"""Training queries of the room ranker: "which streamer did the viewer pick among those on offer".

Training queries are earlier interactions of the same users, taken from the training log only:
for a user's row ``j`` the history is rows ``0..j-1`` and the live context is the other users'
rows of the training log up to that row's time. Held-out rows are never read.

A query's candidates are the items the user watched before, the items live in the window
:attr:`QueryConfig.candidate_window`, the top items of a few features (the items that can outrank
the target at full ranking, so training must see them), a few random items, and the target.
The result is flat arrays (features stacked, one offset per query), cheap to ship to Ray Train
workers and to shard by query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
from tqdm import tqdm

from livecart.core.arrays import FloatArray, IntArray
from livecart.model.interaction_log import Interactions
from livecart.model.room_signals import (
    ContextAt,
    FeatureConfig,
    History,
    ItemCooccurrence,
    LiveContext,
    user_features,
)

CONSTANT_STD: Final = 1e-6
"""A feature whose values over the training candidates all lie within this carries no signal."""


@dataclass(frozen=True)
class QueryConfig:
    """How many training queries, and which candidates each one holds."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    queries_per_user: int = 8
    """Latest training rows per user used as training queries (each needs one earlier row)."""
    max_queries: int = 60_000
    """At most this many queries (each user's latest first, then the next latest, ...): the
    queries' candidate features take about 13 kB each."""
    candidate_window: int = 6
    random_negatives: int = 32
    popular_negatives: int = 32
    """Negatives drawn in proportion to training popularity. Hard negatives are the very top of
    popularity and similarity, uniform ones mostly the long tail; without these in between, on
    a large catalogue the model learns "popular means wrong" and full ranking collapses."""
    hard_negatives: int = 50
    hard_negative_features: tuple[str, ...] = (
        "cf_similarity",
        "log_popularity_before",
        "log_others_144_0",
    )
    seed: int = 0


@dataclass(frozen=True)
class TrainingQueries:
    """Candidates' features stacked ``[n_rows, n_features]``; query ``q`` owns rows
    ``offsets[q]:offsets[q+1]`` and its target is row ``offsets[q] + targets[q]``."""

    features: np.ndarray
    offsets: IntArray
    targets: IntArray

    def __len__(self) -> int:
        return int(self.targets.size)

    def query(self, q: int) -> np.ndarray:
        return self.features[self.offsets[q] : self.offsets[q + 1]]


def history_of(log: Interactions, user: int, rows: IntArray) -> History:
    """``user``'s history made of ``rows``; the user's other rows of ``log`` are hidden from the
    co-occurrence counts, so similarity is computed as it was at the query time."""
    hidden = np.zeros(log.n_items, dtype=np.bool_)
    hidden[log.items[log.user_rows(user)]] = True
    hidden[log.items[rows]] = False
    return History(log.items[rows], log.times[rows], hidden if hidden.any() else None)


def _live_column(cfg: QueryConfig) -> int:
    try:
        return cfg.features.windows().index((cfg.candidate_window, 0))
    except ValueError:
        raise ValueError(
            f"candidate_window {cfg.candidate_window} must be one of recent_windows"
        ) from None


def _hard_plan(cfg: QueryConfig) -> list[tuple[str, int]]:
    """How each of :attr:`QueryConfig.hard_negative_features` is read over the whole catalogue,
    in order: ``("similarity", -1)``, ``("popularity", -1)`` or ``("window", k)``. Features the
    config does not compute are left out; one that cannot pick candidates is an error."""
    features = cfg.features
    context = features.context_names()
    n_windows = len(features.windows())
    plan: list[tuple[str, int]] = []
    for name in cfg.hard_negative_features:
        if name == "cf_similarity" and features.collaborative:
            plan.append(("similarity", -1))
        elif name in context and context.index(name) < n_windows:
            plan.append(("window", context.index(name)))
        elif name in context and context.index(name) == n_windows:
            plan.append(("popularity", -1))
        elif name in features.names():
            raise ValueError(
                f"{name} cannot pick hard negatives (a window, popularity or cf_similarity can)"
            )
    return plan


def _hard_columns(
    plan: list[tuple[str, int]], live: ContextAt, similarity: FloatArray | None
) -> list[FloatArray]:
    """The whole-catalogue columns of ``plan`` for one query."""
    columns = []
    for kind, k in plan:
        if kind == "similarity" and similarity is not None:
            columns.append(similarity)
        elif kind == "popularity":
            columns.append(live.popularity())
        elif kind == "window":
            columns.append(live.window(k))
    return columns


def training_queries(
    train: Interactions, cfg: QueryConfig, progress: bool = False
) -> TrainingQueries:
    """The training queries of ``train`` (see the module docstring)."""
    rng = np.random.default_rng([cfg.seed, 7])
    users, rows, recency = [], [], []
    for user in range(train.n_users):
        mine = train.user_rows(user)
        for j in range(max(1, mine.size - cfg.queries_per_user), mine.size):
            users.append(user)
            rows.append(mine[j])
            recency.append(mine.size - 1 - j)
    keep = np.sort(np.argsort(np.asarray(recency), kind="stable")[: cfg.max_queries])
    query_users = np.asarray(users, dtype=np.int64)[keep]
    query_rows = np.asarray(rows, dtype=np.int64)[keep]
    if query_users.size == 0:
        raise ValueError("the room ranker needs users with at least two training interactions")
    context = LiveContext(train, cfg.features)
    cooccurrence = ItemCooccurrence(train) if cfg.features.collaborative else None
    live_column = _live_column(cfg)
    plan = _hard_plan(cfg)
    top = min(cfg.hard_negatives, train.n_items - 1)
    popularity = train.item_counts().astype(np.float64) + 1.0
    popularity /= popularity.sum()
    parts: list[FloatArray | None] = [None] * query_users.size
    targets = np.zeros(query_users.size, dtype=np.int64)
    queries = context.at_queries(query_users, train.times[query_rows])
    for query, live in tqdm(
        queries, total=query_users.size, desc="room ranker queries", disable=not progress
    ):
        user, row = int(query_users[query]), int(query_rows[query])
        mine = train.user_rows(user)
        history = history_of(train, user, mine[: int(np.flatnonzero(mine == row)[0])])
        at_time = int(train.times[row])
        similarity = (
            cooccurrence.similarity(
                np.bincount(history.items, minlength=train.n_items) > 0, history.hidden
            )
            if cooccurrence is not None
            else None
        )
        target = int(train.items[row])
        hard = (
            [
                np.argpartition(-column, top)[:top]
                for column in _hard_columns(plan, live, similarity)
            ]
            if top > 0
            else []
        )
        pool = np.concatenate(
            [
                history.items,
                np.flatnonzero(live.window(live_column) > 0),
                *hard,
                rng.integers(0, train.n_items, cfg.random_negatives),
                rng.choice(train.n_items, cfg.popular_negatives, p=popularity),
                [target],
            ]
        )
        # Features only for the candidates: the whole catalogue is read only for picking them.
        candidates = np.unique(pool)
        own = user_features(
            history, at_time, train.n_items, cfg.features, items=candidates, similarity=similarity
        )
        parts[query] = np.concatenate([own, live.rows(candidates)], axis=1).astype(np.float32)
        targets[query] = int(np.searchsorted(candidates, target))
    if any(p is None for p in parts):
        raise RuntimeError("the live-context sweep skipped a training query")
    sizes = np.array([0 if p is None else p.shape[0] for p in parts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    # Moved into one array query by query, each part freed once copied: the rows are held once,
    # not twice as a concatenation would (1.5 GB at e-commerce size).
    features = np.empty((int(offsets[-1]), len(cfg.features.names())), dtype=np.float32)
    for q in range(len(parts)):
        features[offsets[q] : offsets[q + 1]] = parts[q]
        parts[q] = None
    return TrainingQueries(features, offsets, targets)


def constant_columns(features: np.ndarray) -> np.ndarray:
    """Per feature column, whether every row holds the same value (within :data:`CONSTANT_STD`).

    Read as each column's range, which needs no copy of the rows (a spread in float64 would
    double the training queries' memory, gigabytes at e-commerce size)."""
    if features.shape[0] == 0:
        return np.ones(features.shape[1], dtype=np.bool_)
    spread = features.max(axis=0).astype(np.float64) - features.min(axis=0)
    result: np.ndarray = spread <= CONSTANT_STD
    return result


def signal_spread(data: TrainingQueries, cfg: FeatureConfig) -> dict[str, list[str]]:
    """Which signals the training data let the ranker learn from: ``informative`` features vary
    over the training candidates, ``constant`` ones do not (a log without concurrent viewers, say,
    has no live-now signal) and are never read (:meth:`RoomRankerNet.set_normalisation`)."""
    constant = constant_columns(data.features)
    names = cfg.names()
    return {
        "informative": [n for n, flat in zip(names, constant, strict=True) if not flat],
        "constant": [n for n, flat in zip(names, constant, strict=True) if flat],
    }
