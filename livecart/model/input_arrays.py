"""The ranker's input arrays for ``n`` rows (:class:`RankerInputs`), and how they are sliced and
joined: by rows (one request out of a batch) and across requests (one forward pass for a batch).

Serving passes text vectors as :class:`TableRows`, rows of a matrix shared across requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TableRows:
    """Rows of a shared matrix, not copied out: row ``i`` is ``table[rows[i]]``, zeros where
    ``rows[i]`` is -1.

    Serving hands the candidates' text vectors to the ranker this way (the online store's
    per-state matrix and the candidates' rows in it): the ranker projects each table once and
    gathers projected rows, instead of copying 500 x 384 floats and projecting them on every
    request. ``np.asarray`` gives the dense rows.
    """

    table: np.ndarray  # (m, dim)
    rows: np.ndarray  # int64 (n,)

    def __len__(self) -> int:
        return len(self.rows)

    def __array__(self, dtype: np.dtype[Any] | None = None, copy: bool | None = None) -> np.ndarray:
        return self.dense() if dtype is None else self.dense().astype(dtype)

    def dense(self) -> np.ndarray:
        out = np.zeros((len(self.rows), self.table.shape[1]), dtype=self.table.dtype)
        present = self.rows >= 0
        out[present] = self.table[self.rows[present]]
        return out

    def take(self, rows: np.ndarray | slice) -> TableRows:
        return TableRows(self.table, self.rows[rows])

    def blank(self) -> TableRows:
        """The same number of rows, all zeros."""
        return TableRows(self.table, np.full(len(self.rows), -1, dtype=np.int64))


Vectors = np.ndarray | TableRows


@dataclass(frozen=True)
class RankerInputs:
    """Model inputs of ``n`` rows: numeric features, optional text and graph vectors of the
    candidate, the viewer's recent products as token ids (oldest first, padded with ``PAD``
    after them) and the candidate's token id. Serving's text vectors are :class:`TableRows`."""

    numeric: np.ndarray
    text: Vectors | None
    graph: np.ndarray | None
    history: np.ndarray
    candidate: np.ndarray
    viewer_text: Vectors | None = None  # what the viewer says they shop for, as a text vector

    def __len__(self) -> int:
        return len(self.numeric)

    def dense(self) -> RankerInputs:
        """The same inputs with text as a dense matrix (to send elsewhere: :class:`TableRows`
        would carry its whole table)."""
        if not isinstance(self.text, TableRows) and not isinstance(self.viewer_text, TableRows):
            return self
        return RankerInputs(
            self.numeric,
            _dense(self.text),
            self.graph,
            self.history,
            self.candidate,
            _dense(self.viewer_text),
        )

    def in_forward_order(self) -> tuple[Vectors | None, ...]:
        """The arrays in the order ``FusionRanker.forward`` takes them (training and the torch
        scoring path pass them so)."""
        return (
            self.numeric,
            self.text,
            self.graph,
            self.history,
            self.candidate,
            self.viewer_text,
        )

    def take(self, rows: np.ndarray | slice) -> RankerInputs:
        return RankerInputs(
            self.numeric[rows],
            _take(self.text, rows),
            None if self.graph is None else self.graph[rows],
            self.history[rows],
            self.candidate[rows],
            _take(self.viewer_text, rows),
        )


def _dense(vectors: Vectors | None) -> np.ndarray | None:
    return vectors.dense() if isinstance(vectors, TableRows) else vectors


def _take(vectors: Vectors | None, rows: np.ndarray | slice) -> Vectors | None:
    if vectors is None:
        return None
    return vectors.take(rows) if isinstance(vectors, TableRows) else vectors[rows]


def concat_inputs(parts: Sequence[RankerInputs]) -> RankerInputs:
    """Several requests' inputs as one batch (same model, so the same optional parts)."""
    if len(parts) == 1:
        return parts[0]

    def join(arrays: list[np.ndarray | None]) -> np.ndarray | None:
        present = [a for a in arrays if a is not None]
        return np.concatenate(present) if len(present) == len(arrays) else None

    return RankerInputs(
        np.concatenate([p.numeric for p in parts]),
        join_vectors([p.text for p in parts]),
        join([p.graph for p in parts]),
        np.concatenate([p.history for p in parts]),
        np.concatenate([p.candidate for p in parts]),
        join_vectors([p.viewer_text for p in parts]),
    )


def join_vectors(parts: Sequence[Vectors | None]) -> Vectors | None:
    """Vectors of several row sets one after the other (rows of one shared table stay so)."""
    if any(p is None for p in parts):
        return None
    tables = {id(p.table) for p in parts if isinstance(p, TableRows)}
    if len(tables) == 1 and all(isinstance(p, TableRows) for p in parts):
        first = parts[0]
        assert isinstance(first, TableRows)
        rows = np.concatenate([p.rows for p in parts if isinstance(p, TableRows)])
        return TableRows(first.table, rows)
    return np.concatenate([np.asarray(p) for p in parts])
