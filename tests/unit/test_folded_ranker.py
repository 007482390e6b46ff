"""The folded ranker computes FusionRanker's function from the same weights (numpy scoring)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from livecart.model import registry
from livecart.model.folded import FoldedRanker
from livecart.model.input_arrays import RankerInputs, TableRows
from livecart.model.ranker import FusionRanker
from livecart.model.scoring import LoadedRanker

N, NUMERIC, TEXT, GRAPH = 7, 5, 6, 4


def _trained_looking(model: FusionRanker, seed: int) -> FusionRanker:
    """Random weights and non-trivial standardisation, as after training."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.5)
        model.mean.copy_(torch.randn(model.numeric_dim))
        model.std.copy_(torch.rand(model.numeric_dim) + 0.5)
    return model.eval()


def _torch_probabilities(model: FusionRanker, *arrays: np.ndarray | None) -> np.ndarray:
    with torch.inference_mode():
        logits = model(*(None if a is None else torch.as_tensor(a) for a in arrays))
        out: np.ndarray = torch.sigmoid(logits).numpy()
    return out


@pytest.mark.parametrize(("text_dim", "graph_dim"), [(TEXT, GRAPH), (TEXT, 0), (0, GRAPH), (0, 0)])
def test_folded_ranker__same_probabilities_as_torch_forward(text_dim: int, graph_dim: int) -> None:
    model = _trained_looking(FusionRanker(NUMERIC, text_dim, hidden=8, graph_dim=graph_dim), 1)
    rng = np.random.default_rng(0)
    numeric = rng.normal(size=(N, NUMERIC)).astype(np.float32) * 3
    text = rng.normal(size=(N, text_dim)).astype(np.float32) if text_dim else None
    graph = rng.normal(size=(N, graph_dim)).astype(np.float32) if graph_dim else None
    folded = FoldedRanker.of(model)
    assert folded is not None
    text_first = folded.text_first(text) if text is not None else None
    found = folded.probabilities(numeric, text_first, graph)
    assert found.dtype == np.float32 and found.shape == (N, 2)
    np.testing.assert_allclose(found, _torch_probabilities(model, numeric, text, graph), atol=2e-6)


def test_folded_ranker__extreme_logits__no_overflow_and_mismatched_inputs_refused() -> None:
    model = _trained_looking(FusionRanker(NUMERIC, 0, hidden=8), 2)
    folded = FoldedRanker.of(model)
    assert folded is not None
    numeric = np.full((2, NUMERIC), 1e4, dtype=np.float32)
    numeric[1] *= -1
    with np.errstate(all="raise"):
        found = folded.probabilities(numeric, None, None)
    np.testing.assert_allclose(found, _torch_probabilities(model, numeric), atol=1e-6)
    with pytest.raises(ValueError, match="text"):
        folded.probabilities(numeric, np.zeros((2, 8), dtype=np.float32), None)
    with pytest.raises(ValueError, match="graph"):
        folded.probabilities(numeric, None, np.zeros((2, GRAPH), dtype=np.float32))


def test_folded_ranker__behaviour_model__not_folded() -> None:
    assert FoldedRanker.of(FusionRanker(NUMERIC, TEXT, hidden=8, vocab_size=5)) is None


def test_loaded_ranker__table_rows_with_absent_rows__scores_equal_torch_on_dense(
    tmp_path: Path,
) -> None:
    """What serving runs (text as rows of a shared table, -1 for no vector, the table's
    first-layer part cached) equals the model's own forward pass on dense rows."""
    model = _trained_looking(FusionRanker(NUMERIC, TEXT, hidden=8, graph_dim=GRAPH), 3)
    record = registry.ModelRecord("ranker", 1, tmp_path, {}, {})
    ranker = LoadedRanker(record, model)
    rng = np.random.default_rng(1)
    table = rng.normal(size=(4, TEXT)).astype(np.float32)
    rows = np.array([0, 3, -1, 1, 1, -1, 2])
    inputs = RankerInputs(
        rng.normal(size=(N, NUMERIC)).astype(np.float32),
        TableRows(table, rows),
        rng.normal(size=(N, GRAPH)).astype(np.float32),
        np.zeros((N, 0), dtype=np.int64),
        np.ones(N, dtype=np.int64),
    )
    dense = inputs.dense()
    expected = _torch_probabilities(model, dense.numeric, dense.text, dense.graph)
    np.testing.assert_allclose(ranker.predict(inputs), expected, atol=2e-6)
    np.testing.assert_allclose(ranker.predict(dense), expected, atol=2e-6)
    again = ranker.predict(inputs.take(np.array([2, 0])))  # the cached table part, reused
    np.testing.assert_allclose(again, expected[[2, 0]], atol=2e-6)


MATCH = 3


@pytest.mark.parametrize("graph_dim", [GRAPH, 0])
def test_folded_ranker__match_of_the_viewers_words__same_probabilities_as_torch(
    graph_dim: int,
) -> None:
    model = FusionRanker(NUMERIC, TEXT, hidden=8, graph_dim=graph_dim, match_dim=MATCH)
    model = _trained_looking(model, 4)
    rng = np.random.default_rng(2)
    numeric = rng.normal(size=(N, NUMERIC)).astype(np.float32)
    text = rng.normal(size=(N, TEXT)).astype(np.float32)
    graph = rng.normal(size=(N, graph_dim)).astype(np.float32) if graph_dim else None
    words = rng.normal(size=(N, TEXT)).astype(np.float32)
    folded = FoldedRanker.of(model)
    assert folded is not None
    match = folded.project_match(words) * folded.project_match(text)
    found = folded.probabilities(numeric, folded.text_first(text), graph, match)
    expected = _torch_probabilities(model, numeric, text, graph, None, None, words)
    np.testing.assert_allclose(found, expected, atol=2e-6)
    # The viewer's words count: other words, other scores.
    assert not np.allclose(expected, _torch_probabilities(model, numeric, text, graph))
    with pytest.raises(ValueError, match="match"):
        folded.probabilities(numeric, folded.text_first(text), graph)


def test_loaded_ranker__viewer_words_as_table_rows__scores_equal_torch_on_dense(
    tmp_path: Path,
) -> None:
    """Serving's path for the match (candidates' and viewers' vectors as rows of shared tables,
    -1 for none, each distinct viewer projected once) equals the forward pass on dense rows."""
    model = _trained_looking(FusionRanker(NUMERIC, TEXT, hidden=8, match_dim=MATCH), 5)
    ranker = LoadedRanker(registry.ModelRecord("ranker", 1, tmp_path, {}, {}), model)
    rng = np.random.default_rng(3)
    products = rng.normal(size=(4, TEXT)).astype(np.float32)
    viewers = rng.normal(size=(3, TEXT)).astype(np.float32)
    inputs = RankerInputs(
        rng.normal(size=(N, NUMERIC)).astype(np.float32),
        TableRows(products, np.array([0, 3, -1, 1, 1, 2, 2])),
        None,
        np.zeros((N, 0), dtype=np.int64),
        np.ones(N, dtype=np.int64),
        TableRows(viewers, np.array([2, 2, 2, -1, 0, 0, 1])),
    )
    dense = inputs.dense()
    expected = _torch_probabilities(
        model, dense.numeric, dense.text, None, None, None, dense.viewer_text
    )
    np.testing.assert_allclose(ranker.predict(inputs), expected, atol=2e-6)
    np.testing.assert_allclose(ranker.predict(dense), expected, atol=2e-6)
    np.testing.assert_allclose(ranker.predict(inputs.take(np.array([6, 3]))), expected[[6, 3]])
    without = RankerInputs(dense.numeric, dense.text, None, dense.history, dense.candidate)
    no_words = _torch_probabilities(model, dense.numeric, dense.text)
    np.testing.assert_allclose(ranker.predict(without), no_words, atol=2e-6)
