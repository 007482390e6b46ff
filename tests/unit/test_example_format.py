"""Staged training examples: the rows a Ray Train worker streams give the inputs the frame gave.

Training used to call ``ranker_inputs`` on the whole Feast frame in the driver; now each part is
staged as Arrow rows (``example_rows``) and each worker turns a streamed batch into inputs
(``batch_inputs``). These tests hold the two ways equal, array by array, through a Parquet round
trip, and hold the statistics gathered part by part equal to the whole-set ones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.model.build_inputs import NUMERIC_FEATURES, UNKNOWN, ranker_inputs, vocabulary
from ray_jobs.training.example_format import (
    CLICK,
    GRAPH,
    PURCHASE,
    TEXT,
    VIEWER_TEXT,
    batch_inputs,
    example_rows,
    model_ids,
)
from ray_jobs.training.staged import StagedExamples, _Moments

DIM = 3


def _frame() -> pd.DataFrame:
    long_history = [f"p{k}" for k in range(f.LAST_ITEMS + 4)]  # longer than the model reads
    return pd.DataFrame(
        {
            c.EVENT_ID: ["e1", "e2", "e3"],
            c.VIEWER_ID: ["v1", "v2", "v3"],
            c.PRODUCT_ID: ["p1", "p9", "p12"],
            c.STREAMER_ID: ["s1", "s1", "s2"],
            c.EVENT_TIMESTAMP: pd.to_datetime(
                [datetime(2026, 1, 1, h, tzinfo=UTC) for h in (1, 2, 3)]
            ),
            CLICK: [1, 0, 1],
            PURCHASE: [0, 0, 1],
            f.PRODUCT_CATEGORY: [c.CATEGORIES[0], c.CATEGORIES[1], None],
            f.DECLARED_INTERESTS: [[c.CATEGORIES[0]], None, []],
            f.LAST_PRODUCTS: [["p2", "p1", "p7"], [], long_history],
            f.TEXT_EMBEDDING: [[1.0, 0.0, 0.5], None, [0.1, 0.2]],  # the last one misfits
            f.VIEWER_TEXT_EMBEDDING: [None, [0.0, 1.0, 0.0], None],
            f.GRAPH_VECTOR: [[0.5] * f.GRAPH_DIM, None, None],
            f.PRODUCT_PRICE: [10.0, None, 3.0],
            f.VIEWER_CATEGORY_AFFINITY: [[0.25] * len(c.CATEGORIES), [0.5], None],
        }
    )


def _spec(vocab: list[str], interest: bool = False) -> dict[str, object]:
    return {
        "text_dim": DIM,
        "graph_dim": f.GRAPH_DIM,
        "viewer_text_dim": DIM,
        "product_vocab": vocab,
        "interest": interest,
    }


def _round_trip(frame: pd.DataFrame, tmp_path: Path) -> pq.ParquetFile:
    rows, _ = example_rows(frame, DIM)
    pq.write_table(rows, tmp_path / "rows.parquet")
    return pq.read_table(tmp_path / "rows.parquet")


def test_batch_inputs__staged_and_read_back__equal_to_ranker_inputs_of_the_frame(
    tmp_path: Path,
) -> None:
    frame = _frame()
    vocab = ["p1", "p2", "p12"] + [f"p{k}" for k in range(5, f.LAST_ITEMS + 4)]
    spec = _spec(vocab)
    staged, labels = batch_inputs(_round_trip(frame, tmp_path), spec, model_ids(spec))
    expected = ranker_inputs(frame, NUMERIC_FEATURES, vocab, DIM, f.GRAPH_DIM, viewer_text_dim=DIM)
    for got, want in zip(staged.in_forward_order(), expected.in_forward_order(), strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert labels.tolist() == [[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]]
    assert staged.history[2, 0] == UNKNOWN  # p4 (the 5th newest of 14) is outside the vocabulary


def test_batch_inputs__model_without_tokens__same_as_scoring_without_behaviour(
    tmp_path: Path,
) -> None:
    frame = _frame()
    spec = _spec([])
    assert model_ids(spec) is None
    staged, _ = batch_inputs(_round_trip(frame, tmp_path), spec, None)
    expected = ranker_inputs(
        frame, NUMERIC_FEATURES, [], DIM, f.GRAPH_DIM, behaviour=False, viewer_text_dim=DIM
    )
    for got, want in zip(staged.in_forward_order(), expected.in_forward_order(), strict=True):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert model_ids(_spec([], interest=True)) == {}  # the text interest reads tokens


def test_example_rows__which_vectors_are_present__only_rows_of_the_tables_width() -> None:
    _, present = example_rows(_frame(), DIM)
    assert present[TEXT].tolist() == [True, False, False]
    assert present[VIEWER_TEXT].tolist() == [False, True, False]
    assert present[GRAPH].tolist() == [True, False, False]
    _, without_text = example_rows(_frame(), 0)
    assert not without_text[TEXT].any() and not without_text[VIEWER_TEXT].any()


def test_moments__added_part_by_part__mean_and_std_of_the_whole() -> None:
    rng = np.random.default_rng(3)
    whole = rng.normal(5.0, 2.0, size=(1000, len(NUMERIC_FEATURES))).astype(np.float32)
    moments = _Moments()
    for part in np.split(whole, [1, 300, 301, 777]):
        moments.add(part)
    np.testing.assert_allclose(moments.mean, whole.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(moments.std(), whole.astype(np.float64).std(axis=0), rtol=1e-9)


def test_staged_vocabulary__counted_over_bucket_files__equal_to_the_frames(
    tmp_path: Path,
) -> None:
    frame = pd.concat([_frame(), _frame().assign(**{c.EVENT_ID: ["e4", "e5", "e6"]})])
    files = []
    for k, part in enumerate((frame.iloc[:2], frame.iloc[2:5], frame.iloc[5:])):
        rows, _ = example_rows(part.reset_index(drop=True), DIM)
        files.append(str(tmp_path / f"bucket-{k}.parquet"))
        pq.write_table(rows, files[-1])
    staged = StagedExamples(
        tmp_path, files, [], len(frame), 0, (datetime.min, datetime.min), DIM,
        True, True, True, np.zeros(1), np.ones(1),
    )  # fmt: skip
    # The staged rows keep the newest LAST_ITEMS products, as the model reads them.
    trimmed = frame.assign(
        **{f.LAST_PRODUCTS: [h[-f.LAST_ITEMS :] for h in frame[f.LAST_PRODUCTS]]}
    )
    for min_count in (1, 2, 3):
        assert staged.vocabulary(min_count) == vocabulary(trimmed, min_count)
