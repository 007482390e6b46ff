"""The fusion ranker: viewer, item, behaviour and interaction inputs fused by an MLP.

Numeric profile features are standardised with training statistics stored in the model; the
item's text embedding (optional, for the ablation) is projected to a small vector and joined in.
Two sigmoid heads predict click and purchase (multi-task, binary cross-entropy).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class FusionRanker(nn.Module):
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, numeric_dim: int, text_dim: int = 0, hidden: int = 64, text_proj: int = 32):
        super().__init__()
        self.numeric_dim, self.text_dim = numeric_dim, text_dim
        self.register_buffer("mean", torch.zeros(numeric_dim))
        self.register_buffer("std", torch.ones(numeric_dim))
        self.text: nn.Module | None = (
            nn.Sequential(nn.Linear(text_dim, text_proj), nn.ReLU()) if text_dim else None
        )
        width = numeric_dim + (text_proj if text_dim else 0)
        self.body = nn.Sequential(
            nn.Linear(width, hidden),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
        )
        self.heads = nn.Linear(hidden, 2)  # [click, purchase] logits

    def set_normalisation(self, numeric: np.ndarray) -> None:
        self.mean.copy_(torch.as_tensor(numeric.mean(axis=0)))
        self.std.copy_(torch.as_tensor(numeric.std(axis=0) + 1e-6))

    def forward(self, numeric: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        parts = [(numeric - self.mean) / self.std]
        if self.text is not None and text is not None:
            parts.append(self.text(text))
        out: torch.Tensor = self.heads(self.body(torch.cat(parts, dim=-1)))
        return out


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula (ties get average ranks); NaN without both classes."""
    labels = np.asarray(labels).astype(bool)
    positives, negatives = labels.sum(), (~labels).sum()
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = np.asarray(scores)[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))
