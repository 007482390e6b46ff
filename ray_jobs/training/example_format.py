"""The product ranker's staged example rows: one Arrow layout, written by the driver, read by workers.

A training run turns each chunk of Feast point-in-time rows into this layout once (numeric inputs
already transformed, vectors as fixed-size lists, the viewer's recent products as strings) and
writes it to Parquet; Ray Train workers then stream those files (``get_dataset_shard``) and turn
each batch into :class:`~livecart.model.input_arrays.RankerInputs` without a Python loop per row,
unless the model reads product tokens. Text vectors are stored at the embedding tables' width; a
model without text simply does not read them, so one staging serves every configuration (the
text ablation trains four models on the same files).

Kept free of Feast and Ray imports: the workers import it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.model.build_inputs import (
    NUMERIC_FEATURES,
    PAD,
    UNKNOWN,
    FrameColumns,
    numeric_matrix,
    token_vocabulary,
    tokens,
)
from livecart.model.input_arrays import RankerInputs

CLICK, PURCHASE = "label_click", "label_purchase"
KEYS: Final[tuple[str, ...]] = (
    c.EVENT_ID,
    c.VIEWER_ID,
    c.PRODUCT_ID,
    c.STREAMER_ID,
    c.EVENT_TIMESTAMP,
)
NUMERIC, TEXT, GRAPH, VIEWER_TEXT, HISTORY = "numeric", "text", "graph", "viewer_text", "history"


def example_schema(text_dim: int) -> pa.Schema:
    """The staged layout; ``text_dim`` is the embedding tables' width (0: no text columns)."""
    fields = [
        pa.field(c.EVENT_ID, pa.string()),
        pa.field(c.VIEWER_ID, pa.string()),
        pa.field(c.PRODUCT_ID, pa.string()),
        pa.field(c.STREAMER_ID, pa.string()),
        pa.field(c.EVENT_TIMESTAMP, c.UTC_TIMESTAMP),
        pa.field(CLICK, pa.float32()),
        pa.field(PURCHASE, pa.float32()),
        pa.field(NUMERIC, pa.list_(pa.float32(), len(NUMERIC_FEATURES))),
        pa.field(GRAPH, pa.list_(pa.float32(), f.GRAPH_DIM)),
        pa.field(HISTORY, pa.list_(pa.string())),
    ]
    if text_dim:
        fields += [
            pa.field(TEXT, pa.list_(pa.float32(), text_dim)),
            pa.field(VIEWER_TEXT, pa.list_(pa.float32(), text_dim)),
        ]
    return pa.schema(fields)


def _fixed(matrix: np.ndarray) -> pa.FixedSizeListArray:
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), matrix.shape[1])


def _present(frame: pd.DataFrame, name: str, dim: int | None = None) -> np.ndarray:
    """Whether each row holds a vector (of length ``dim`` when given)."""
    if name not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return np.array(
        [v is not None and len(v) > 0 and (dim is None or len(v) == dim) for v in frame[name]],
        dtype=bool,
    )


def example_rows(frame: pd.DataFrame, text_dim: int) -> tuple[pa.Table, dict[str, np.ndarray]]:
    """Feast rows (keys, labels, ``product_ranking_v4`` columns) in the staged layout, and which
    rows hold a text, graph and viewer-text vector (what decides a model's inputs)."""
    columns = FrameColumns(frame)
    history = [
        [] if items is None else [str(p) for p in list(items)[-f.LAST_ITEMS :]]
        for items in (
            frame[f.LAST_PRODUCTS] if f.LAST_PRODUCTS in frame.columns else [None] * len(frame)
        )
    ]
    data: dict[str, Any] = {key: frame[key] for key in KEYS}
    data[c.EVENT_TIMESTAMP] = pd.to_datetime(frame[c.EVENT_TIMESTAMP], utc=True)
    data[CLICK] = frame[CLICK].to_numpy(dtype=np.float32)
    data[PURCHASE] = frame[PURCHASE].to_numpy(dtype=np.float32)
    arrays: dict[str, Any] = {
        NUMERIC: _fixed(numeric_matrix(columns, NUMERIC_FEATURES)),
        GRAPH: _fixed(columns.vectors(f.GRAPH_VECTOR, f.GRAPH_DIM)),
        HISTORY: pa.array(history, pa.list_(pa.string())),
    }
    if text_dim:
        arrays[TEXT] = _fixed(columns.vectors(f.TEXT_EMBEDDING, text_dim))
        arrays[VIEWER_TEXT] = _fixed(columns.vectors(f.VIEWER_TEXT_EMBEDDING, text_dim))
    schema = example_schema(text_dim)
    table = pa.Table.from_pandas(
        pd.DataFrame(data), schema=pa.schema([schema.field(n) for n in data]), preserve_index=False
    )
    for name, array in arrays.items():
        table = table.append_column(schema.field(name), array)
    present = {
        TEXT: _present(frame, f.TEXT_EMBEDDING, text_dim or None) & bool(text_dim),
        GRAPH: _present(frame, f.GRAPH_VECTOR),
        VIEWER_TEXT: _present(frame, f.VIEWER_TEXT_EMBEDDING, text_dim or None) & bool(text_dim),
    }
    return table.select(schema.names), present


def _matrix(batch: pa.Table | pa.RecordBatch, name: str) -> np.ndarray:
    column = batch.column(name)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    width = column.type.list_size
    return np.asarray(column.flatten().to_numpy(zero_copy_only=False)).reshape(-1, width)


def reads_tokens(model: Mapping[str, Any]) -> bool:
    """Whether a model reads product tokens (a behaviour encoder or the text interest)."""
    return bool(model.get("product_vocab")) or bool(model.get("interest"))


def batch_inputs(
    batch: pa.Table | pa.RecordBatch, model: Mapping[str, Any], ids: Mapping[str, int] | None
) -> tuple[RankerInputs, np.ndarray]:
    """A staged batch as the model's inputs and its ``(n, 2)`` labels; ``ids``: the model's
    :func:`token_vocabulary` (None: the model reads no tokens)."""
    n = batch.num_rows
    text_dim, graph_dim = int(model.get("text_dim", 0)), int(model.get("graph_dim", 0))
    viewer_dim = int(model.get("viewer_text_dim", 0))
    if ids is None:
        history = np.zeros((n, 0), dtype=np.int64)
        candidate = np.full(n, UNKNOWN, dtype=np.int64)
    else:
        history = np.full((n, f.LAST_ITEMS), PAD, dtype=np.int64)
        for row, items in enumerate(batch.column(HISTORY).to_pylist()):
            if items:
                history[row, : len(items)] = tokens(items, ids)
        candidate = tokens(batch.column(c.PRODUCT_ID).to_pylist(), ids)
    inputs = RankerInputs(
        _matrix(batch, NUMERIC),
        _matrix(batch, TEXT) if text_dim else None,
        _matrix(batch, GRAPH) if graph_dim else None,
        history,
        candidate,
        _matrix(batch, VIEWER_TEXT) if viewer_dim else None,
    )
    labels = np.stack(
        [
            np.asarray(batch.column(CLICK).to_numpy(), dtype=np.float32),
            np.asarray(batch.column(PURCHASE).to_numpy(), dtype=np.float32),
        ],
        axis=1,
    )
    return inputs, labels


def model_ids(model: Mapping[str, Any]) -> dict[str, int] | None:
    """The token ids a model reads, or None where it reads none."""
    vocab: Sequence[str] = model.get("product_vocab") or []
    return token_vocabulary(vocab) if reads_tokens(model) else None
