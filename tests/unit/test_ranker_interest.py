"""The fusion ranker's viewer text interest: the recent products' text meets the candidate's."""

from __future__ import annotations

import torch

from livecart.model.folded import FoldedRanker
from livecart.model.ranker import FusionRanker


def _ranker() -> FusionRanker:
    config = {
        "numeric_dim": 3,
        "text_dim": 4,
        "hidden": 8,
        "product_vocab": ["a", "b", "c"],
        "interest": True,
    }
    torch.manual_seed(0)
    model = FusionRanker.from_config(config)
    texts = torch.zeros(5, 4)
    texts[2:] = torch.eye(4)[:3]  # tokens 2..4: products a, b, c with distinct text vectors
    model.set_item_text(texts.numpy())
    return model.eval()


def test_interest__no_behaviour_encoder__scores_follow_the_recent_products_text() -> None:
    model = _ranker()
    assert model.behaviour is None and model.interest
    numeric = torch.zeros(2, 3)
    candidate_text = torch.eye(4)[[0, 0]]  # both rows: a candidate whose text is product a's
    history = torch.tensor([[2, 2, 0], [3, 3, 0]])  # one viewer recently saw a, the other b
    with torch.no_grad():
        logits = model(numeric, candidate_text, None, history, torch.tensor([1, 1]))
        again = model(numeric, candidate_text, None, history[[0, 0]], torch.tensor([1, 1]))
    assert not torch.allclose(logits[0], logits[1])  # the viewers' text interests differ
    assert torch.allclose(again[0], again[1])
    assert FoldedRanker.of(model) is None  # scored by torch (the folded path has no history)
