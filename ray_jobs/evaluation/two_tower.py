"""Two-tower retrieval: a viewer tower over recent history and an item tower, in-batch negatives.

The viewer vector is an MLP over the user's id embedding plus the mean embedding of their last
``history`` items *before* the query time; the item vector is an MLP over the item embedding.
Training maximises the softmax score of each training row's item against the other items of the
same batch (in-batch negatives, with a log-popularity correction so popular items are not over-
penalised). Scoring is one matrix product, which is what makes it a candidate generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from livecart.core.arrays import FloatArray, IntArray
from livecart.model.interaction_log import Interactions
from ray_jobs.evaluation.base import history_before


@dataclass(frozen=True)
class TwoTowerConfig:
    dim: int = 48
    history: int = 20
    epochs: int = 8
    batch_size: int = 1024
    learning_rate: float = 3e-3
    temperature: float = 0.1
    seed: int = 0
    progress: bool = True


class _Towers(nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int) -> None:
        super().__init__()
        self.user = nn.Embedding(n_users, dim)
        self.item = nn.Embedding(n_items + 1, dim, padding_idx=n_items)  # last row pads histories
        self.user_mlp = nn.Sequential(nn.Linear(2 * dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.item_mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.pad = n_items

    def users(self, user: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        mask = (history != self.pad).unsqueeze(-1).float()
        mean = (self.item(history) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        out: torch.Tensor = nn.functional.normalize(
            self.user_mlp(torch.cat([self.user(user), mean], -1)), dim=-1
        )
        return out

    def items(self, item: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = nn.functional.normalize(self.item_mlp(self.item(item)), dim=-1)
        return out


class TwoTower:
    """The evaluated two-tower model (implements the Recommender protocol)."""

    name = "two-tower"

    def __init__(self, config: TwoTowerConfig | None = None) -> None:
        self.config = config or TwoTowerConfig()
        self._model: _Towers | None = None
        self._train: Interactions | None = None

    def _histories(
        self, train: Interactions, users: IntArray, times: IntArray, strict: bool
    ) -> np.ndarray:
        """[n, history] item ids before each (user, time), padded with n_items."""
        width = self.config.history
        out = np.full((len(users), width), train.n_items, dtype=np.int64)
        for i, (user, at) in enumerate(zip(users, times, strict=True)):
            rows = history_before(train, int(user), int(at) - (1 if strict else 0))
            recent = train.items[rows][-width:]
            if len(recent):
                out[i, -len(recent) :] = recent
        return out

    def fit(self, train: Interactions) -> None:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        model = _Towers(train.n_users, train.n_items, cfg.dim)
        histories = torch.as_tensor(self._histories(train, train.users, train.times, strict=True))
        users, items = torch.as_tensor(train.users), torch.as_tensor(train.items)
        counts = np.bincount(train.items, minlength=train.n_items).astype(np.float64) + 1.0
        log_pop = torch.as_tensor(np.log(counts / counts.sum()), dtype=torch.float32)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
        generator = torch.Generator().manual_seed(cfg.seed)
        for _ in tqdm(range(cfg.epochs), desc="two-tower epochs", disable=not cfg.progress):
            order = torch.randperm(len(train), generator=generator)
            for start in range(0, len(order), cfg.batch_size):
                batch = order[start : start + cfg.batch_size]
                u = model.users(users[batch], histories[batch])
                v = model.items(items[batch])
                logits = u @ v.T / cfg.temperature - log_pop[items[batch]][None, :]
                same = items[batch][:, None] == items[batch][None, :]
                logits = logits.masked_fill(same & ~torch.eye(len(batch), dtype=torch.bool), -1e9)
                loss = nn.functional.cross_entropy(logits, torch.arange(len(batch)))
                optimizer.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
        model.eval()
        self._model, self._train = model, train

    def score(self, users: IntArray, at_times: IntArray) -> FloatArray:
        if self._model is None or self._train is None:
            raise RuntimeError("fit the two-tower model before scoring")
        histories = torch.as_tensor(self._histories(self._train, users, at_times, strict=False))
        with torch.inference_mode():
            u = self._model.users(torch.as_tensor(users), histories)
            v = self._model.items(torch.arange(self._train.n_items))
            scores: FloatArray = (u @ v.T).double().numpy()
        return scores
