"""BPR-MF: matrix factorisation trained with the Bayesian personalised ranking loss (torch, CPU).

Each step samples training rows (user, watched item) and one uniformly random item per row as a
negative, and pushes the watched item's score above the negative's. The model is static: it
ignores time and repeats, which is why it trails REP on live streaming; it is here as the classic
collaborative-filtering reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm import tqdm

from livecart.core.arrays import FloatArray, IntArray
from livecart.model.interaction_log import Interactions


@dataclass(frozen=True)
class BPRConfig:
    """Size and schedule; the defaults train in seconds on the Twitch log on 2 CPU cores."""

    dim: int = 64
    epochs: int = 30
    batch_size: int = 4096
    learning_rate: float = 0.01
    weight_decay: float = 1e-5
    seed: int = 0
    progress: bool = True


class BPRMF:
    """Dot product of user and item embeddings plus an item bias."""

    name = "BPR-MF"

    def __init__(self, config: BPRConfig | None = None) -> None:
        self.config = config or BPRConfig()
        self._user: torch.Tensor | None = None
        self._item: torch.Tensor | None = None
        self._bias: torch.Tensor | None = None

    def fit(self, train: Interactions) -> None:
        cfg = self.config
        generator = torch.Generator().manual_seed(cfg.seed)
        users = torch.nn.Embedding(train.n_users, cfg.dim)
        items = torch.nn.Embedding(train.n_items, cfg.dim)
        bias = torch.nn.Embedding(train.n_items, 1)
        with torch.no_grad():
            users.weight.normal_(0.0, 0.1, generator=generator)
            items.weight.normal_(0.0, 0.1, generator=generator)
            bias.weight.zero_()
        params = [*users.parameters(), *items.parameters(), *bias.parameters()]
        optimizer = torch.optim.Adam(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        row_users = torch.as_tensor(train.users)
        row_items = torch.as_tensor(train.items)
        n = len(train)
        for _ in tqdm(range(cfg.epochs), desc="BPR-MF epochs", disable=not cfg.progress):
            order = torch.randperm(n, generator=generator)
            for start in range(0, n, cfg.batch_size):
                batch = order[start : start + cfg.batch_size]
                u, pos = row_users[batch], row_items[batch]
                neg = torch.randint(train.n_items, (batch.numel(),), generator=generator)
                eu = users(u)
                diff = (eu * (items(pos) - items(neg))).sum(-1) + (bias(pos) - bias(neg)).squeeze(
                    -1
                )
                loss = torch.nn.functional.softplus(-diff).mean()
                optimizer.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
        self._user = users.weight.detach()
        self._item = items.weight.detach()
        self._bias = bias.weight.detach().squeeze(-1)

    def score(self, users: IntArray, at_times: IntArray) -> FloatArray:
        if self._user is None or self._item is None or self._bias is None:
            raise RuntimeError("fit the model first")
        with torch.no_grad():
            scores = self._user[torch.as_tensor(users)] @ self._item.T + self._bias[None, :]
        result: FloatArray = scores.double().numpy()
        return result
