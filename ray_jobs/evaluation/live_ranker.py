"""livecart's ranker for live streaming: learned repeat, recency and availability signals.

The features of :mod:`ray_jobs.evaluation.features` feed a small MLP that scores each
(query, item) pair; the scores of one query are trained jointly with a listwise softmax loss, the
one that matches "which streamer did the user pick among those on offer". Training queries are
earlier interactions of the same users, taken from the training split only: for a user's row
``j`` the history is rows ``0..j-1`` and the live context is the other users' training rows up to
that row's time. The held-out targets are never read while fitting.

A training query's candidates are the items the user watched before, the items live by the
others' window :attr:`LiveRankerConfig.candidate_window`, a few random items, and the target;
scoring ranks the whole catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from tqdm import tqdm

from ray_jobs.evaluation._types import FloatArray, IntArray
from ray_jobs.evaluation.base import history_before
from ray_jobs.evaluation.data import Interactions
from ray_jobs.evaluation.features import (
    FeatureConfig,
    History,
    ItemCooccurrence,
    LiveContext,
    query_features,
    user_features,
)


@dataclass(frozen=True)
class LiveRankerConfig:
    """What the ranker sees and how it trains; the defaults fit Twitch in well under a minute."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    queries_per_user: int = 8
    """Latest training rows per user used as training queries (each needs one earlier row)."""
    candidate_window: int = 6
    random_negatives: int = 32
    hard_negatives: int = 50
    """Per feature in ``hard_negative_features``, the top items join a query's candidates: at
    full ranking these are the items that can outrank the target, so training must see them."""
    hard_negative_features: tuple[str, ...] = (
        "cf_similarity",
        "log_popularity_before",
        "log_others_144_0",
    )
    hidden: tuple[int, ...] = (64, 32)
    epochs: int = 4
    batch_queries: int = 256
    learning_rate: float = 1e-3
    seed: int = 0
    progress: bool = True


@dataclass(frozen=True)
class _TrainingSet:
    """Per training query: candidate features ``[n_candidates, n_features]`` and target slot."""

    features: list[torch.Tensor]
    target: torch.Tensor


def _history(train: Interactions, user: int, rows: IntArray) -> History:
    """``user``'s history made of ``rows``; the user's other training items are hidden from the
    co-occurrence counts, so similarity is computed as it was at the query time."""
    hidden = np.zeros(train.n_items, dtype=np.bool_)
    hidden[train.items[train.user_rows(user)]] = True
    hidden[train.items[rows]] = False
    return History(train.items[rows], train.times[rows], hidden if hidden.any() else None)


def _mlp(n_features: int, hidden: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = n_features
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


class LiveRanker:
    """Repeat + recency + availability features, combined by a listwise-trained MLP."""

    def __init__(self, config: LiveRankerConfig | None = None, name: str | None = None) -> None:
        self.config = config or LiveRankerConfig()
        strict = "" if self.config.features.include_current else "-strict"
        self.name = name or f"livecart{strict}"
        self._train: Interactions | None = None
        self._log: Interactions | None = None
        self._net: nn.Sequential | None = None
        self._mean: torch.Tensor | None = None
        self._scale: torch.Tensor | None = None
        self._cooccurrence: ItemCooccurrence | None = None

    def _live_column(self) -> int:
        """The context column whose positive values make an item a training candidate."""
        cfg = self.config
        try:
            return cfg.features.windows().index((cfg.candidate_window, 0))
        except ValueError:
            raise ValueError(
                f"candidate_window {cfg.candidate_window} must be one of recent_windows"
            ) from None

    def _training_set(self, train: Interactions) -> _TrainingSet:
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, 7])
        users, rows = [], []
        for user in range(train.n_users):
            mine = train.user_rows(user)
            for j in range(max(1, mine.size - cfg.queries_per_user), mine.size):
                users.append(user)
                rows.append(mine[j])
        query_users = np.asarray(users, dtype=np.int64)
        query_rows = np.asarray(rows, dtype=np.int64)
        context = LiveContext(train, cfg.features)
        cooccurrence = ItemCooccurrence(train) if cfg.features.collaborative else None
        live_column = self._live_column()
        names = cfg.features.names()
        hard_columns = [names.index(n) for n in cfg.hard_negative_features if n in names]
        top = min(cfg.hard_negatives, train.n_items - 1)
        features: list[torch.Tensor | None] = [None] * query_users.size
        targets = np.zeros(query_users.size, dtype=np.int64)
        sweep = context.sweep(query_users, train.times[query_rows])
        for query, live in tqdm(
            sweep, total=query_users.size, desc="livecart features", disable=not cfg.progress
        ):
            user, row = int(query_users[query]), int(query_rows[query])
            mine = train.user_rows(user)
            history = _history(train, user, mine[: int(np.flatnonzero(mine == row)[0])])
            own = user_features(
                history, int(train.times[row]), train.n_items, cfg.features, cooccurrence
            )
            target = int(train.items[row])
            values = np.concatenate([own, live], axis=1)
            hard = (
                [np.argpartition(-values[:, c], top)[:top] for c in hard_columns] if top > 0 else []
            )
            pool = np.concatenate(
                [
                    history.items,
                    np.flatnonzero(live[:, live_column] > 0),
                    *hard,
                    rng.integers(0, train.n_items, cfg.random_negatives),
                    [target],
                ]
            )
            candidates = np.unique(pool)
            features[query] = torch.as_tensor(values[candidates], dtype=torch.float32)
            targets[query] = int(np.searchsorted(candidates, target))
        if any(f is None for f in features):
            raise RuntimeError("the live-context sweep skipped a training query")
        return _TrainingSet([f for f in features if f is not None], torch.as_tensor(targets))

    def fit(self, train: Interactions) -> None:
        cfg = self.config
        data = self._training_set(train)
        if not data.features:
            raise ValueError("livecart needs users with at least two training interactions")
        stacked = torch.cat(data.features)
        self._mean = stacked.mean(0)
        self._scale = stacked.std(0).clamp_min(1e-6)
        generator = torch.Generator().manual_seed(cfg.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            net = _mlp(stacked.shape[1], cfg.hidden)
        optimizer = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
        n = len(data.features)
        for _ in tqdm(range(cfg.epochs), desc="livecart epochs", disable=not cfg.progress):
            order = torch.randperm(n, generator=generator).tolist()
            for start in range(0, n, cfg.batch_queries):
                batch = order[start : start + cfg.batch_queries]
                rows = [(data.features[q] - self._mean) / self._scale for q in batch]
                padded = pad_sequence(rows, batch_first=True)
                lengths = torch.tensor([r.shape[0] for r in rows])
                valid = torch.arange(padded.shape[1])[None, :] < lengths[:, None]
                logits = net(padded).squeeze(-1).masked_fill(~valid, float("-inf"))
                loss = nn.functional.cross_entropy(logits, data.target[batch])
                optimizer.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
        net.eval()
        self._net = net
        self._cooccurrence = ItemCooccurrence(train) if cfg.features.collaborative else None
        self._train = train

    def observe(self, log: Interactions) -> None:
        self._log = log

    def score(self, users: IntArray, at_times: IntArray) -> FloatArray:
        if self._net is None or self._train is None or self._mean is None or self._scale is None:
            raise RuntimeError("fit the model first")
        train = self._train
        log = self._log if self._log is not None else train
        histories = [
            _history(train, int(user), history_before(train, int(user), int(t)))
            for user, t in zip(users, at_times, strict=True)
        ]
        context = LiveContext(log, self.config.features)
        values = query_features(histories, users, at_times, context, self._cooccurrence)
        with torch.no_grad():
            x = (torch.as_tensor(values, dtype=torch.float32) - self._mean) / self._scale
            scores = self._net(x).squeeze(-1)
        result: FloatArray = scores.double().numpy()
        return result
