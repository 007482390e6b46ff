"""The fusion ranker: viewer, item, behaviour and interaction vectors fused by an MLP.

- viewer and interaction: numeric profile features (standardised with training statistics
  stored in the model), and the cosine between the viewer's interest embedding (mean text
  embedding of the recent products) and the candidate's text embedding;
- item: the candidate's text embedding projected to a small vector, its graph-smoothed vector
  (LightGCN over the co-interaction graph, a feature view) and its learned id embedding;
- behaviour: a SASRec-style causal self-attention encoder over the recent products
  (:mod:`livecart.model.behaviour`), joined by its dot product with the candidate;
- match: the text vector of what the viewer says they shop for against the candidate's text
  vector, both through one learned projection: their element-wise product (a low-rank bilinear
  match, which directions of the text space the viewer's words select).

Each part is optional (``text_dim``, ``graph_dim``, ``vocab_size`` 0 leave it out: the ablations,
and v2 artifacts that only had numeric and text inputs). Two sigmoid heads predict click and
purchase (multi-task, binary cross-entropy).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from livecart.core.feature_names import LAST_ITEMS
from livecart.model.behaviour import BehaviourEncoder


class FusionRanker(nn.Module):
    mean: torch.Tensor
    std: torch.Tensor
    interest_text: torch.Tensor

    def __init__(
        self,
        numeric_dim: int,
        text_dim: int = 0,
        hidden: int = 64,
        text_proj: int = 32,
        graph_dim: int = 0,
        vocab_size: int = 0,
        item_dim: int = 32,
        interest: bool = False,
        match_dim: int = 0,
    ):
        super().__init__()
        self.numeric_dim, self.text_dim, self.graph_dim = numeric_dim, text_dim, graph_dim
        self.register_buffer("mean", torch.zeros(numeric_dim))
        self.register_buffer("std", torch.ones(numeric_dim))
        self.text: nn.Module | None = (
            nn.Sequential(nn.Linear(text_dim, text_proj), nn.ReLU()) if text_dim else None
        )
        # ``interest``: the viewer's text interest (mean text vector of the recent products) meets
        # the candidate's text without the behaviour encoder: their cosine and their element-wise
        # product, projected (which attributes of the text the viewer seeks).
        self.interest = interest and bool(text_dim) and bool(vocab_size)
        behaviour = bool(vocab_size) and not self.interest
        self.behaviour = (
            BehaviourEncoder(vocab_size, item_dim, LAST_ITEMS, text_dim) if behaviour else None
        )
        self.register_buffer(
            "interest_text", torch.zeros(vocab_size if self.interest else 0, text_dim)
        )
        self.interest_proj = (
            nn.Sequential(nn.Linear(text_dim, text_proj), nn.ReLU()) if self.interest else None
        )
        self.graph = nn.Linear(graph_dim, item_dim) if graph_dim and behaviour else None
        # ``match_dim``: the viewer's own words (a text vector) meet the candidate's text through
        # one shared projection: which directions of the text space a viewer's words select.
        self.match = nn.Linear(text_dim, match_dim, bias=False) if match_dim and text_dim else None
        # Id embeddings memorise a small world quickly: the behaviour parts are dropped out hard.
        self.behaviour_dropout = nn.Dropout(0.5)
        width = numeric_dim + (text_proj if text_dim else 0) + graph_dim
        if behaviour:
            width += 3 * item_dim + 2 + (1 if text_dim else 0)
        if self.interest:
            width += 1 + text_proj
        if self.match is not None:
            width += match_dim
        self.body = nn.Sequential(
            nn.Linear(width, hidden),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
        )
        self.heads = nn.Linear(hidden, 2)  # [click, purchase] logits

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FusionRanker:
        """The ranker a registry config describes (training and scoring build it the same way)."""
        vocab = config.get("product_vocab") or []
        return cls(
            int(config["numeric_dim"]),
            int(config.get("text_dim", 0)),
            int(config["hidden"]),
            graph_dim=int(config.get("graph_dim", 0)),
            vocab_size=len(vocab) + 2 if vocab else 0,
            item_dim=int(config.get("item_dim", 32)),
            interest=bool(config.get("interest", False)),
            match_dim=int(config.get("match_dim", 0)),
        )

    def set_scale(self, mean: np.ndarray, std: np.ndarray) -> None:
        """The numeric inputs' mean and spread over the training rows (gathered part by part
        where the rows are streamed)."""
        self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype))
        self.std.copy_(torch.as_tensor(std, dtype=self.std.dtype) + 1e-6)

    def set_item_text(self, vectors: np.ndarray) -> None:
        """Text embeddings of the vocabulary (row per token id), saved with the model."""
        if self.behaviour is not None and self.text_dim:
            self.behaviour.item_text.copy_(torch.as_tensor(vectors))
        if self.interest:
            self.interest_text.copy_(torch.as_tensor(vectors))

    def forward(
        self,
        numeric: torch.Tensor,
        text: torch.Tensor | None = None,
        graph: torch.Tensor | None = None,
        history: torch.Tensor | None = None,
        candidate: torch.Tensor | None = None,
        viewer_text: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits ``(n, 2)`` (scoring without a behaviour encoder uses the same weights folded:
        :mod:`livecart.model.folded`)."""
        parts = [(numeric - self.mean) / self.std]
        if self.text is not None and text is not None:
            parts.append(self.text(text))
        if self.graph_dim and graph is not None:
            parts.append(graph)
        if self.behaviour is not None and history is not None and candidate is not None:
            behaviour = self.behaviour(history)
            item = self.behaviour.item_vectors(candidate, text if self.text_dim else None)
            if self.graph is not None and graph is not None:
                item = item + self.graph(graph)
            dot = (behaviour * item).sum(dim=1, keepdim=True) / self.behaviour.dim**0.5
            seen = (history != 0).any(dim=1, keepdim=True).to(dot.dtype)
            drop = self.behaviour_dropout
            parts += [drop(behaviour), drop(item), drop(behaviour * item), dot, seen]
            if self.text_dim and text is not None:
                interest = self.behaviour.interest(history)
                parts.append(nn.functional.cosine_similarity(interest, text, dim=1).unsqueeze(1))
        if self.interest_proj is not None and history is not None and text is not None:
            mask = (history != 0).unsqueeze(2).to(text.dtype)
            interest = (self.interest_text[history] * mask).sum(dim=1) / mask.sum(dim=1).clamp(
                min=1.0
            )
            parts.append(nn.functional.cosine_similarity(interest, text, dim=1).unsqueeze(1))
            parts.append(self.interest_proj(interest * text))
        if self.match is not None and text is not None:
            if viewer_text is None:
                viewer_text = torch.zeros_like(text)
            parts.append(self.match(viewer_text) * self.match(text))
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
