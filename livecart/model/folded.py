"""A fusion ranker without a behaviour encoder, folded into numpy arrays for CPU scoring.

Serving scores ~500 rows per request on a CPU share. Through torch, a forward pass is a dozen
small operators (standardise, project the text, concatenate, three linear layers, sigmoid), each
with its own dispatch, and the 500 x 115 concatenation. :class:`FoldedRanker` computes the same
function from the same weights with fewer, larger steps:

- the standardisation ``(x - mean) / std`` is folded into the first layer's weights and bias;
- the first layer is split by input block (numeric, projected text, graph vector), so no
  concatenated matrix is built;
- text comes as rows of a shared table (:class:`TableRows`): the table goes through the text
  projection *and* the first layer's text block once (cached by the caller), and a request gathers
  ``(n, hidden)`` rows; the same for the match's projection of the candidates' text, while the
  viewer's words are projected once per distinct viewer.

``tests/unit/test_folded_ranker.py`` checks it against :meth:`FusionRanker.forward`. A model with a
behaviour encoder (a product vocabulary) is not folded: it keeps the torch path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from livecart.model.ranker import FusionRanker


def _array(tensor: torch.Tensor) -> np.ndarray:
    out: np.ndarray = tensor.detach().cpu().numpy().astype(np.float32)
    return out


@dataclass(frozen=True)
class FoldedRanker:
    """:class:`FusionRanker`'s function for inputs ``numeric``, text and graph (no tokens)."""

    numeric_w: np.ndarray  # (numeric_dim, hidden): first layer's numeric block / std
    first_b: np.ndarray  # (hidden,): first layer's bias minus its numeric block @ (mean / std)
    text_proj: tuple[np.ndarray, np.ndarray] | None  # the text branch's Linear (weight.T, bias)
    text_w: np.ndarray | None  # (text_proj, hidden): first layer's text block
    graph_w: np.ndarray | None  # (graph_dim, hidden): first layer's graph block
    match_proj: np.ndarray | None  # (text_dim, match_dim): the match's projection (weight.T)
    match_w: np.ndarray | None  # (match_dim, hidden): first layer's match block
    hidden: tuple[np.ndarray, np.ndarray]  # second layer (weight.T, bias)
    heads: tuple[np.ndarray, np.ndarray]  # (weight.T, bias)

    @classmethod
    def of(cls, model: FusionRanker) -> FoldedRanker | None:
        """The folded form of ``model``; None for a model with a behaviour encoder or the
        viewer's text interest (those score in torch)."""
        if model.behaviour is not None or model.interest:
            return None
        first, second = model.body[0], model.body[3]
        assert isinstance(first, nn.Linear) and isinstance(second, nn.Linear)
        weight, bias = _array(first.weight), _array(first.bias)
        mean, std = _array(model.mean), _array(model.std)
        numeric_dim = model.numeric_dim
        numeric = weight[:, :numeric_dim] / std
        text_proj, text_w, at = None, None, numeric_dim
        if model.text is not None:
            linear = next(iter(model.text.children()))
            assert isinstance(linear, nn.Linear)
            text_proj = (_array(linear.weight).T.copy(), _array(linear.bias))
            text_w = weight[:, at : at + linear.out_features].T.copy()
            at += linear.out_features
        graph_w = weight[:, at : at + model.graph_dim].T.copy() if model.graph_dim else None
        at += model.graph_dim
        match_proj, match_w = None, None
        if model.match is not None:
            match_proj = _array(model.match.weight).T.copy()
            match_w = weight[:, at : at + model.match.out_features].T.copy()
        return cls(
            numeric_w=numeric.T.copy(),
            first_b=bias - numeric @ mean,
            text_proj=text_proj,
            text_w=text_w,
            graph_w=graph_w,
            match_proj=match_proj,
            match_w=match_w,
            hidden=(_array(second.weight).T.copy(), _array(second.bias)),
            heads=(_array(model.heads.weight).T.copy(), _array(model.heads.bias)),
        )

    def text_first(self, text: np.ndarray) -> np.ndarray:
        """``(n, hidden)``: the first layer's part from text vectors (their projection
        through the text branch, then the layer's text block)."""
        assert self.text_proj is not None and self.text_w is not None
        weight, bias = self.text_proj
        projected = np.asarray(text, dtype=np.float32) @ weight + bias
        np.maximum(projected, 0.0, out=projected)
        out: np.ndarray = projected @ self.text_w
        return out

    def project_match(self, vectors: np.ndarray) -> np.ndarray:
        """``(n, match_dim)``: text vectors (the viewer's words or the candidate's text) through
        the match's projection."""
        assert self.match_proj is not None
        out: np.ndarray = np.asarray(vectors, dtype=np.float32) @ self.match_proj
        return out

    def probabilities(
        self,
        numeric: np.ndarray,
        text_first: np.ndarray | None,
        graph: np.ndarray | None,
        match: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(n, 2)`` float32 ``[click, purchase]`` probabilities; ``text_first`` from
        :meth:`text_first` (None exactly when the model has no text branch); ``match`` the
        element-wise product of the viewer's and the candidate's :meth:`project_match` (None
        exactly when the model has no match)."""
        if (text_first is None) != (self.text_w is None):
            raise ValueError("text inputs do not match the model's text branch")
        if (graph is None) != (self.graph_w is None):
            raise ValueError("graph inputs do not match the model's graph input")
        if (match is None) != (self.match_w is None):
            raise ValueError("match inputs do not match the model's match of the viewer's words")
        h = np.asarray(numeric, dtype=np.float32) @ self.numeric_w
        h += self.first_b
        if text_first is not None:
            h += text_first
        if graph is not None and self.graph_w is not None:
            h += np.asarray(graph, dtype=np.float32) @ self.graph_w
        if match is not None and self.match_w is not None:
            h += match @ self.match_w
        np.maximum(h, 0.0, out=h)
        h = h @ self.hidden[0]
        h += self.hidden[1]
        np.maximum(h, 0.0, out=h)
        logits = h @ self.heads[0]
        logits += self.heads[1]
        # sigmoid(x) = (1 + tanh(x / 2)) / 2: no overflow for large |x|
        out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * logits))
        return out.astype(np.float32, copy=False)
