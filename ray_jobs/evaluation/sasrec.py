"""A small SASRec: causal self-attention over a user's most recent items (torch, CPU).

Kang & McAuley (ICDM 2018) predict the next item from the sequence so far. This version keeps the
architecture (item + position embeddings, pre-norm causal transformer blocks, dot product with the
item embeddings). On catalogues of up to :attr:`SASRecConfig.full_softmax_items` items it trains
with a full softmax over the catalogue: cheap on CPU there, and it learns in a few epochs. Past
that it trains as the paper does, one sampled negative per position with binary cross-entropy, so
its cost per step does not grow with the catalogue. Repeats are not masked out at scoring time,
since they dominate live streaming.

Sequences are left-padded to ``max_length`` but a batch runs only as long as its longest real
sequence: positions are counted from the right (the newest item always has the last position) and
no real item attends to padding, so a sequence's hidden states do not depend on the padding or on
the batch it is in. Training batches hold windows of similar length. On an e-commerce log, where
most histories are a few items long, this cuts SASRec's fit about fivefold.
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
        self.heads = cfg.heads
        with torch.no_grad():
            self.items.weight.normal_(0.0, cfg.init_std)
            self.items.weight[0].zero_()
            self.positions.weight.normal_(0.0, cfg.init_std)

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        """Hidden states of left-padded ``sequence`` ``[batch, length <= max_length]``."""
        length = sequence.shape[1]
        positions = torch.arange(
            self.positions.num_embeddings - length, self.positions.num_embeddings
        )
        hidden = self.dropout(self.items(sequence) * self.items.embedding_dim**0.5)
        hidden = hidden + self.positions(positions)[None]
        out: torch.Tensor = self.norm(
            self.blocks(hidden, mask=_attention_mask(sequence, self.heads))
        )
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


def _attention_mask(sequence: torch.Tensor, heads: int) -> torch.Tensor:
    """``[batch * heads, length, length]``, True where attention is barred: later positions
    (causal) and padding, except a padding position's own (so no row is empty)."""
    length = sequence.shape[1]
    later = torch.ones(length, length, dtype=torch.bool).triu(1)
    padding = (sequence == 0)[:, None, :] & ~torch.eye(length, dtype=torch.bool)[None]
    return (later[None] | padding).repeat_interleave(heads, dim=0)


def _trimmed(keep: torch.Tensor, *tensors: torch.Tensor) -> list[torch.Tensor]:
    """``tensors`` from the first column where ``keep`` holds in any row (padding is on the left,
    so every column after it is kept too)."""
    columns = keep.any(dim=0)
    first = int(columns.nonzero()[0]) if bool(columns.any()) else keep.shape[1] - 1
    return [t[:, first:] for t in tensors]


def _length_batches(lengths: IntArray, size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Batches of window indices of similar length, in a random order (random within a length)."""
    shuffled = torch.randperm(lengths.size, generator=generator).numpy()
    order = shuffled[np.argsort(lengths[shuffled], kind="stable")]
    batches = [torch.as_tensor(order[i : i + size]) for i in range(0, order.size, size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


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
            lengths = (inputs != 0).sum(dim=1).numpy()
            for _ in tqdm(range(cfg.epochs), desc="SASRec epochs", disable=not cfg.progress):
                for batch in _length_batches(lengths, cfg.batch_size, generator):
                    # A label at the last padding position (the window's first item) is kept.
                    sequence, label = _trimmed(
                        (inputs[batch] != 0) | (labels[batch] >= 0), inputs[batch], labels[batch]
                    )
                    hidden = model(sequence)
                    if sampled:
                        loss = _sampled_loss(model, hidden, label, train.n_items, generator)
                    else:
                        loss = nn.functional.cross_entropy(
                            model.logits(hidden).reshape(-1, train.n_items),
                            label.reshape(-1),
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
            padded = torch.as_tensor(sequences)
            (sequence,) = _trimmed(padded != 0, padded)
            hidden = self._model(sequence)[:, -1]
            scores = self._model.logits(hidden)
        result: FloatArray = scores.double().numpy()
        return result
