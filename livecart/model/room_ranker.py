"""The room ranker: repeat, recency, availability and similarity signals scored by a small MLP.

It ranks streamers (a room is a streamer's live session) for a viewer at a time. Its inputs are
the room signals of :mod:`livecart.model.room_signals`; the scores of one query are trained
jointly with a listwise softmax loss ("which streamer did the viewer pick among those on offer").
This one module holds the network, its training step and its scoring: ``livecart train --ranker
rooms`` trains it on Ray Train, ``livecart evaluate`` measures it (the ``livecart`` row fits it
in-process, the ``served`` row loads the registered version) and serving ranks live rooms with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Final

import numpy as np
import torch
from scipy import sparse
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from livecart.core.arrays import FloatArray, IntArray
from livecart.model.room_queries import CONSTANT_STD, TrainingQueries, constant_columns
from livecart.model.room_signals import (
    FeatureConfig,
    History,
    ItemCooccurrence,
    LiveContext,
    user_features,
)

ROOM_RANKER: Final = "room_ranker"
"""The registered name of the room ranker."""
DEFAULT_HIDDEN: Final = (64, 32)
SCORE_ROWS: Final = 131_072
"""Feature rows per forward pass when scoring whole catalogues (about 14 MB of float32)."""


class RoomRankerNet(nn.Module):
    """An MLP over standardised room signals; one logit per (query, streamer)."""

    mean: torch.Tensor
    scale: torch.Tensor

    def __init__(self, n_features: int, hidden: Sequence[int] = DEFAULT_HIDDEN) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(n_features))
        layers: list[nn.Module] = []
        width = n_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def set_normalisation(self, features: np.ndarray) -> None:
        """Standardise by the training rows; a feature constant over them (a signal the data
        does not have) gets an infinite scale, so the net never reads it, whatever its value
        when scoring."""
        values = torch.as_tensor(features, dtype=torch.float32)
        constant = torch.as_tensor(constant_columns(features))
        self.mean.copy_(values.mean(0))
        self.scale.copy_(torch.where(constant, torch.inf, values.std(0).clamp_min(CONSTANT_STD)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.mlp((features - self.mean) / self.scale)
        return logits.squeeze(-1)


def listwise_loss(
    net: nn.Module, data: TrainingQueries, batch: Sequence[int], device: torch.device
) -> torch.Tensor:
    """Softmax cross-entropy of each query's target among its candidates (padded batch)."""
    rows = [torch.as_tensor(data.query(q)) for q in batch]
    padded = pad_sequence(rows, batch_first=True).to(device)
    lengths = torch.tensor([r.shape[0] for r in rows], device=device)
    valid = torch.arange(padded.shape[1], device=device)[None, :] < lengths[:, None]
    logits = net(padded).masked_fill(~valid, float("-inf"))
    target = torch.as_tensor(data.targets[list(batch)], device=device)
    return nn.functional.cross_entropy(logits, target)


def train_epoch(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: TrainingQueries,
    queries: IntArray,
    batch_queries: int,
    device: torch.device,
) -> float:
    """One pass over ``queries`` (already shuffled); the mean loss."""
    losses = []
    for start in range(0, queries.size, batch_queries):
        loss = listwise_loss(net, data, queries[start : start + batch_queries].tolist(), device)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses)) if losses else float("nan")


def fit_in_process(
    data: TrainingQueries,
    n_features: int,
    hidden: Sequence[int] = DEFAULT_HIDDEN,
    epochs: int = 4,
    batch_queries: int = 256,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> RoomRankerNet:
    """Train a net on one process (what each Ray Train worker does on its shard)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = RoomRankerNet(n_features, hidden)
    net.set_normalisation(data.features)
    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        train_epoch(
            net, optimizer, data, rng.permutation(len(data)), batch_queries, torch.device("cpu")
        )
    net.eval()
    return net


class RoomScorer:
    """A trained net with what its features need: the feature config, the co-occurrence of its
    training log and the item ids it knows. Evaluation and serving score through this class."""

    def __init__(
        self,
        net: RoomRankerNet,
        features: FeatureConfig,
        item_ids: Sequence[str],
        cooccurrence: ItemCooccurrence | None,
    ) -> None:
        self.net = net.eval()
        self.features = features
        self.item_ids = tuple(item_ids)
        self.cooccurrence = cooccurrence

    def score_features(self, values: np.ndarray) -> FloatArray:
        """Scores of feature rows ``[..., n_features]`` (the same code for every caller)."""
        with torch.no_grad():
            scores = self.net(torch.as_tensor(values, dtype=torch.float32))
        result: FloatArray = scores.double().numpy()
        return result

    def score(
        self,
        histories: Sequence[History],
        users: IntArray,
        at_times: IntArray,
        context: LiveContext,
    ) -> FloatArray:
        """``[len(users), n_items]`` scores of every item for the queries (user, time).

        Queries go through the net a few at a time (about :data:`SCORE_ROWS` feature rows), so
        memory stays bounded by the catalogue, not by the batch: 256 queries over 25,000 items
        would be 1.1 GB, and one query per call leaves the net's matrix products small."""
        n_items = context.log.n_items
        out = np.empty((len(users), n_items), dtype=np.float64)
        per_call = max(1, SCORE_ROWS // max(n_items, 1))
        pending: list[tuple[int, np.ndarray]] = []

        def flush() -> None:
            scores = self.score_features(np.concatenate([f for _, f in pending]))
            for j, (q, _) in enumerate(pending):
                out[q] = scores[j * n_items : (j + 1) * n_items]
            pending.clear()

        for q, live in context.sweep(users, at_times):
            own = user_features(
                histories[q], int(at_times[q]), n_items, self.features, self.cooccurrence
            )
            pending.append((q, np.concatenate([own, live], axis=1, dtype=np.float32)))
            if len(pending) == per_call:
                flush()
        if pending:
            flush()
        return out

    # -- registry form -------------------------------------------------------------------------

    def config(self, hidden: Sequence[int]) -> dict[str, Any]:
        return {
            "features": {
                k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.features).items()
            },
            "hidden": list(hidden),
            "n_features": len(self.features.names()),
            "item_ids": list(self.item_ids),
        }

    def state(self) -> dict[str, torch.Tensor]:
        state = {f"net.{k}": v for k, v in self.net.state_dict().items()}
        if self.cooccurrence is not None:
            counts = self.cooccurrence.counts.tocoo()
            state["cooccurrence.rows"] = torch.as_tensor(counts.row, dtype=torch.int64)
            state["cooccurrence.cols"] = torch.as_tensor(counts.col, dtype=torch.int64)
            state["cooccurrence.values"] = torch.as_tensor(counts.data, dtype=torch.float32)
        return state

    @classmethod
    def from_registry(cls, config: dict[str, Any], state: dict[str, torch.Tensor]) -> RoomScorer:
        raw: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in config["features"].items()
        }
        features = FeatureConfig(**raw)
        net = RoomRankerNet(int(config["n_features"]), tuple(config["hidden"]))
        net.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("net.")})
        items = list(config["item_ids"])
        cooccurrence = None
        if "cooccurrence.values" in state:
            n = len(items)
            counts = sparse.coo_matrix(
                (
                    state["cooccurrence.values"].double().numpy(),
                    (state["cooccurrence.rows"].numpy(), state["cooccurrence.cols"].numpy()),
                ),
                shape=(n, n),
            )
            cooccurrence = ItemCooccurrence.from_counts(counts)
        return cls(net, features, items, cooccurrence)
