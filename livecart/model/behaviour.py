"""The behaviour vector: a SASRec-style causal self-attention encoder over the viewer's recent items.

Items are token ids (``PAD`` = 0, ``UNKNOWN`` = 1, then the product vocabulary stored with the
model), oldest first with padding after the real items. Each item is its learned id embedding,
plus, when the model has text, a projection of the product's text embedding (a buffer saved in the
artifact). A causal mask lets position ``i`` attend only to items ``0..i``; because padding comes
after the real items, no real position ever attends to padding. The behaviour vector is the output
at the last real position (zeros for an empty history).
"""

from __future__ import annotations

import torch
from torch import nn

from livecart.model.build_inputs import PAD


class BehaviourEncoder(nn.Module):
    causal: torch.Tensor
    item_text: torch.Tensor

    def __init__(
        self, vocab_size: int, dim: int, max_len: int, text_dim: int = 0, heads: int = 2
    ) -> None:
        super().__init__()
        self.dim, self.text_dim = dim, text_dim
        self.items = nn.Embedding(vocab_size, dim, padding_idx=PAD)
        self.positions = nn.Embedding(max_len, dim)
        self.register_buffer("item_text", torch.zeros(vocab_size, text_dim))
        self.text = nn.Linear(text_dim, dim) if text_dim else None
        self.block = nn.TransformerEncoderLayer(
            dim, heads, dim * 2, dropout=0.1, batch_first=True, norm_first=True
        )
        causal = torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), diagonal=1)
        self.register_buffer("causal", causal)

    def item_vectors(self, ids: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        """Vectors of items ``ids``; ``text`` overrides the stored text (a candidate's own)."""
        out: torch.Tensor = self.items(ids)
        if self.text is not None:
            out = out + self.text(self.item_text[ids] if text is None else text)
        return out

    def sequence(self, history: torch.Tensor) -> torch.Tensor:
        """Per-position outputs ``(n, L, dim)`` of the causal block."""
        length = history.shape[1]
        x = self.item_vectors(history) + self.positions.weight[:length]
        out: torch.Tensor = self.block(x, src_mask=self.causal[:length, :length])
        return out

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        """The behaviour vector ``(n, dim)``: the output at the last real item."""
        counts = (history != PAD).sum(dim=1)
        outputs = self.sequence(history)
        last = (counts - 1).clamp(min=0)
        picked = outputs[torch.arange(len(history), device=history.device), last]
        return picked * (counts > 0).unsqueeze(1).to(picked.dtype)

    def interest(self, history: torch.Tensor) -> torch.Tensor:
        """Mean text embedding of the recent items (the viewer's interest embedding)."""
        mask = (history != PAD).unsqueeze(2).to(self.item_text.dtype)
        total = (self.item_text[history] * mask).sum(dim=1)
        out: torch.Tensor = total / mask.sum(dim=1).clamp(min=1.0)
        return out
