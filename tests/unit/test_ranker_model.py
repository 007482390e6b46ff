"""The fusion ranker's parts: the causal behaviour encoder, frame -> inputs, the full model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.model.behaviour import BehaviourEncoder
from livecart.model.build_inputs import (
    CATEGORY_FLAGS,
    CATEGORY_MATCH,
    DECLARED_MATCH,
    NUMERIC_FEATURES,
    PAD,
    UNKNOWN,
    FrameColumns,
    derived_features,
    ranker_inputs,
    vocabulary,
)
from livecart.model.input_arrays import TableRows, join_vectors
from livecart.model.ranker import FusionRanker


def test_behaviour_encoder__causal_mask__earlier_positions_never_see_later_items() -> None:
    torch.manual_seed(0)
    encoder = BehaviourEncoder(vocab_size=20, dim=8, max_len=6).eval()
    history = torch.tensor([[2, 3, 4, 5, 6, 7]])
    changed = history.clone()
    changed[0, 3:] = torch.tensor([10, 11, 12])  # rewrite the "future" from position 3 on
    with torch.no_grad():
        before, after = encoder.sequence(history), encoder.sequence(changed)
    torch.testing.assert_close(before[0, :3], after[0, :3])
    assert not torch.allclose(before[0, 3:], after[0, 3:])


def test_behaviour_encoder__padding_after_items__ignored_and_empty_history_is_zero() -> None:
    torch.manual_seed(0)
    encoder = BehaviourEncoder(vocab_size=20, dim=8, max_len=4).eval()
    with torch.no_grad():
        short = encoder(torch.tensor([[2, 3, PAD, PAD]]))
        prefix = encoder.sequence(torch.tensor([[2, 3, 9, 9]]))[0, 1]
        empty = encoder(torch.tensor([[PAD, PAD, PAD, PAD]]))
    torch.testing.assert_close(short[0], prefix)  # the vector is the last real position's output
    assert torch.count_nonzero(empty) == 0


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            c.VIEWER_ID: ["v1", "v2"],
            c.PRODUCT_ID: ["p1", "p9"],
            c.STREAMER_ID: ["s1", "s1"],
            f.PRODUCT_CATEGORY: [c.CATEGORIES[0], c.CATEGORIES[1]],
            f.DECLARED_INTERESTS: [[c.CATEGORIES[0]], None],
            f.LAST_PRODUCTS: [["p2", "p1", "p7"], []],
            f.TEXT_EMBEDDING: [[1.0, 0.0, 0.0], None],
            f.GRAPH_VECTOR: [[0.5] * f.GRAPH_DIM, None],
            f.PRODUCT_PRICE: [10.0, None],
            f.VIEWER_CATEGORY_AFFINITY: [[0.25] * len(c.CATEGORIES), [0.5]],
        }
    )


def test_ranker_inputs__tokens_padding_derived_and_missing_values() -> None:
    frame = _frame()
    vocab = ["p1", "p2"]
    inputs = ranker_inputs(frame, NUMERIC_FEATURES, vocab, text_dim=3, graph_dim=f.GRAPH_DIM)
    assert inputs.history[0].tolist()[:4] == [3, 2, UNKNOWN, PAD]
    assert inputs.history[1].tolist() == [PAD] * f.LAST_ITEMS
    assert inputs.candidate.tolist() == [2, UNKNOWN]
    assert inputs.numeric.shape == (2, len(NUMERIC_FEATURES))
    match = inputs.numeric[:, NUMERIC_FEATURES.index(CATEGORY_MATCH)]
    assert match.tolist() == [0.25, 0.0]  # a misfit affinity vector counts as no history
    price = inputs.numeric[:, NUMERIC_FEATURES.index(f.PRODUCT_PRICE)]
    assert price.tolist() == [np.float32(np.log1p(10.0)), 0.0]
    assert np.isfinite(inputs.numeric).all()
    assert inputs.text is not None and inputs.text[1].tolist() == [0.0, 0.0, 0.0]
    assert inputs.graph is not None and inputs.graph.shape == (2, f.GRAPH_DIM)
    derived = derived_features(FrameColumns(frame))
    assert derived[DECLARED_MATCH].tolist() == [1.0, 0.0]
    assert derived[CATEGORY_FLAGS[0]].tolist() == [1.0, 0.0]
    assert derived[CATEGORY_FLAGS[1]].tolist() == [0.0, 1.0]
    assert vocabulary(frame, min_count=2) == ["p1"]


def test_fusion_ranker__all_parts__two_logits_per_row_and_config_round_trip() -> None:
    config = {
        "numeric_dim": len(NUMERIC_FEATURES),
        "text_dim": 3,
        "graph_dim": f.GRAPH_DIM,
        "hidden": 8,
        "item_dim": 8,
        "product_vocab": ["p1", "p2"],
    }
    model = FusionRanker.from_config(config).eval()
    inputs = ranker_inputs(_frame(), NUMERIC_FEATURES, ["p1", "p2"], 3, f.GRAPH_DIM)
    arrays = (inputs.numeric, inputs.text, inputs.graph, inputs.history, inputs.candidate)
    with torch.no_grad():
        logits = model(*(None if a is None else torch.as_tensor(a) for a in arrays))
    assert logits.shape == (2, 2) and torch.isfinite(logits).all()
    FusionRanker.from_config(config).load_state_dict(model.state_dict())


def test_table_rows__take_blank_join__same_rows_as_dense_matrices() -> None:
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    rows = TableRows(table, np.array([2, -1, 0, 2]))
    assert np.asarray(rows).tolist() == [[6, 7, 8], [0, 0, 0], [0, 1, 2], [6, 7, 8]]
    assert np.asarray(rows.take(slice(1, 3))).tolist() == [[0, 0, 0], [0, 1, 2]]
    assert not np.asarray(rows.blank()).any() and len(rows.blank()) == 4
    joined = join_vectors([rows, rows.take(np.array([3]))])
    assert isinstance(joined, TableRows) and joined.table is table  # one table: still rows
    assert np.asarray(joined).tolist() == [*np.asarray(rows).tolist(), [6, 7, 8]]
    other = TableRows(table.copy(), np.array([1]))
    mixed = join_vectors([rows, other, np.ones((1, 3), dtype=np.float32)])
    assert isinstance(mixed, np.ndarray) and mixed[-2:].tolist() == [[3, 4, 5], [1, 1, 1]]
    assert join_vectors([rows, None]) is None
