"""A small SASRec: causal self-attention over a user's most recent items (torch, CPU).

Kang & McAuley (ICDM 2018) predict the next item from the sequence so far. This version keeps the
architecture (item + position embeddings, pre-norm causal transformer blocks, dot product with the
item embeddings). On catalogues of up to :attr:`SASRecConfig.full_softmax_items` items it trains
with a full softmax over the catalogue: cheap on CPU there, and it learns in a few epochs. Past
that it trains as the paper does, one sampled negative per position with binary cross-entropy, so
its cost per step does not grow with the catalogue. Repeats are not masked out at scoring time,
since they dominate live streaming.
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
class SASRecConfig:
    """Size and schedule; the defaults train in about a minute on Twitch with 2 CPU cores."""

    max_length: int = 50
    dim: int = 64
    heads: int = 2
    blocks: int = 2
    dropout: float = 0.1
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 3e-3
    init_std: float = 0.05
    """Std of the item and position embeddings at start. PyTorch's default (1.0) makes the first
    logits so large that training stalls far below REP; a small start trains in a few epochs."""
    full_softmax_items: int = 5000
    """Largest catalogue trained with the full softmax; larger ones use sampled negatives."""
    seed: int = 0
    progress: bool = True


class _Encoder(nn.Module):
    """Item sequence -> one hidden state per position (index 0 is padding)."""

    def __init__(self, n_items: int, cfg: SASRecConfig) -> None:
        super().__init__()
        self.items = nn.Embedding(n_items + 1, cfg.dim, padding_idx=0)
        self.positions = nn.Embedding(cfg.max_length, cfg.dim)
        layer = nn.TransformerEncoderLayer(
            cfg.dim, cfg.heads, 2 * cfg.dim, cfg.dropout, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, cfg.blocks, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.dim)
        self.dropout = nn.Dropout(cfg.dropout)
        with torch.no_grad():
            self.items.weight.normal_(0.0, cfg.init_std)
            self.items.weight[0].zero_()
            self.positions.weight.normal_(0.0, cfg.init_std)

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        length = sequence.shape[1]
        positions = torch.arange(length, device=sequence.device)
        hidden = self.dropout(self.items(sequence) * self.items.embedding_dim**0.5)
        hidden = hidden + self.positions(positions)[None]
        causal = nn.Transformer.generate_square_subsequent_mask(length)
        out: torch.Tensor = self.norm(self.blocks(hidden, mask=causal, is_causal=True))
        return out

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Scores over real items (1..n) for each hidden state."""
        result: torch.Tensor = hidden @ self.items.weight[1:].T
        return result


def _left_padded(items: IntArray, length: int) -> IntArray:
    """The last ``length`` items shifted by one (0 = padding), padded on the left."""
    out = np.zeros(length, dtype=np.int64)
    tail = items[-length:] + 1
    out[length - tail.size :] = tail
    return out


def _sampled_loss(
    model: _Encoder,
    hidden: torch.Tensor,
    labels: torch.Tensor,
    n_items: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Binary cross-entropy of each next item against one uniformly sampled negative (the paper's
    objective), over the positions that have a label."""
    valid = labels >= 0
    positive = model.items(labels.clamp_min(0) + 1)
    negative = model.items(torch.randint(1, n_items + 1, labels.shape, generator=generator))
    pos_logit = (hidden * positive).sum(-1)[valid]
    neg_logit = (hidden * negative).sum(-1)[valid]
    bce = nn.functional.binary_cross_entropy_with_logits
    return bce(pos_logit, torch.ones_like(pos_logit)) + bce(neg_logit, torch.zeros_like(neg_logit))


class SASRec:
    """Next-item prediction from the last ``max_length`` items of the user's history."""

    name = "SASRec"

    def __init__(self, config: SASRecConfig | None = None) -> None:
        self.config = config or SASRecConfig()
        self._model: _Encoder | None = None
        self._train: Interactions | None = None

    def _windows(self, train: Interactions) -> tuple[torch.Tensor, torch.Tensor]:
        """Training windows of ``max_length + 1`` items: inputs and next-item labels."""
        span = self.config.max_length + 1
        windows = []
        for user in range(train.n_users):
            items = train.items[train.user_rows(user)]
            if items.size < 2:
                continue
            # Non-overlapping windows from the end, so every transition is a label once.
            for end in range(items.size, 1, -(span - 1)):
                windows.append(_left_padded(items[max(0, end - span) : end], span))
        stacked = torch.as_tensor(np.stack(windows))
        return stacked[:, :-1], stacked[:, 1:] - 1  # labels: item index, -1 = padding

    def fit(self, train: Interactions) -> None:
        cfg = self.config
        # Initialisation and dropout draw from torch's global generator: fork it, so seeding here
        # neither depends on nor disturbs the caller's random state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            model = _Encoder(train.n_items, cfg)
            inputs, labels = self._windows(train)
            generator = torch.Generator().manual_seed(cfg.seed)
            optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
            model.train()
            sampled = train.n_items > cfg.full_softmax_items
            for _ in tqdm(range(cfg.epochs), desc="SASRec epochs", disable=not cfg.progress):
                order = torch.randperm(inputs.shape[0], generator=generator)
                for start in range(0, inputs.shape[0], cfg.batch_size):
                    batch = order[start : start + cfg.batch_size]
                    hidden = model(inputs[batch])
                    if sampled:
                        loss = _sampled_loss(model, hidden, labels[batch], train.n_items, generator)
                    else:
                        loss = nn.functional.cross_entropy(
                            model.logits(hidden).reshape(-1, train.n_items),
                            labels[batch].reshape(-1),
                            ignore_index=-1,
                        )
                    optimizer.zero_grad()
                    loss.backward()  # type: ignore[no-untyped-call]
                    optimizer.step()
        model.eval()
        self._model = model
        self._train = train

    def score(self, users: IntArray, at_times: IntArray) -> FloatArray:
        if self._model is None or self._train is None:
            raise RuntimeError("fit the model first")
        train, length = self._train, self.config.max_length
        sequences = np.stack(
            [
                _left_padded(train.items[history_before(train, int(u), int(t))], length)
                for u, t in zip(users, at_times, strict=True)
            ]
        )
        with torch.no_grad():
            hidden = self._model(torch.as_tensor(sequences))[:, -1]
            scores = self._model.logits(hidden)
        result: FloatArray = scores.double().numpy()
        return result
