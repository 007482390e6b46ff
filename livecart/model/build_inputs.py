"""How a frame of ``product_ranking_v3`` features becomes the fusion ranker's inputs.

Training (Feast historical features) and scoring (Feast online features) both call
:func:`ranker_inputs`, so the two can never disagree. Every input comes from the frame or from the
model artifact (the product vocabulary and its text vectors): nothing is read from offline files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.model.input_arrays import RankerInputs, TableRows, Vectors

CATEGORY_MATCH = "viewer_affinity_to_product_category"
DECLARED_MATCH = "declared_interest_in_product_category"
CATEGORY_FLAGS: tuple[str, ...] = tuple(f"product_category_is_{k}" for k in c.CATEGORIES)
PAD, UNKNOWN = f.TOKEN_PAD, f.TOKEN_UNKNOWN  # history tokens: padding, outside the vocabulary

# Numeric model inputs, in a fixed order (names defined once in feature_names).
NUMERIC_FEATURES: tuple[str, ...] = (
    f.VIEWER_EVENTS_TOTAL,
    f.VIEWER_ROOM_ENTERS_TOTAL,
    f.VIEWER_WATCH_MINUTES_TOTAL,
    f.VIEWER_PURCHASES_TOTAL,
    f.VIEWER_SPEND_TOTAL,
    f.VIEWER_AVG_ORDER_VALUE,
    f.VIEWER_CTR,
    f.VIEWER_DAYS_ACTIVE,
    *f.BEHAVIOR_EVENT_COUNTS,
    f.CLICKS_30M,
    f.CARTS_1440M,
    f.PURCHASES_1440M,
    f.PRODUCT_PRICE,
    f.PRODUCT_RATING,
    f.PRODUCT_STOCK,
    *f.PRODUCT_FUNNEL,
    f.PRICE_TO_TYPICAL_SPEND,
    *f.VS_TOTALS,
    f.VS_FOLLOWS,
    CATEGORY_MATCH,
    DECLARED_MATCH,
    *CATEGORY_FLAGS,
    f.GRAPH_DEGREE,
    f.COMMENT_SENTIMENT_5M,
    f.PURCHASE_INTENT_5M,
    f.COMMENTS_SCORED_5M,
)
# Heavy-tailed counts and amounts are fed as log1p; rates, shares, flags and signals as they are.
LOG_FEATURES = frozenset(NUMERIC_FEATURES) - {
    f.VIEWER_CTR,
    f.PRODUCT_CTR,
    f.PRODUCT_CONVERSION,
    f.PRODUCT_RATING,
    f.VS_FOLLOWS,
    CATEGORY_MATCH,
    DECLARED_MATCH,
    *CATEGORY_FLAGS,
    f.COMMENT_SENTIMENT_5M,
    f.PURCHASE_INTENT_5M,
}


class FeatureColumns(Protocol):
    """The column reads the ranker's inputs are built from.

    Training adapts a Feast historical frame (:class:`FrameColumns`); serving reads the online
    store's columns directly (``livecart.features.online_columns.OnlineColumns``). Both answer the
    same questions, so :func:`ranker_inputs` (the one definition of every input) serves both.
    """

    def __len__(self) -> int: ...

    def numbers(self, name: str) -> np.ndarray | None:
        """float64 values, NaN where missing or not numeric; None when there is no such column."""

    def number_matrix(self, names: Sequence[str]) -> np.ndarray:
        """``(n, len(names))`` float64 of :meth:`numbers` side by side (NaN for no column)."""

    def codes(self, name: str, labels: Sequence[str]) -> np.ndarray:
        """int64 position of each row's string in ``labels``; -1 where missing or unknown."""

    def vectors(self, name: str, dim: int) -> np.ndarray:
        """``(n, dim)`` float32 of a list-of-floats column; missing or misfit rows are 0."""

    def vector_rows(self, name: str, dim: int) -> TableRows:
        """:meth:`vectors` as rows of a shared table (a matrix that outlives the request)."""

    def memberships(self, name: str, labels: Sequence[str]) -> np.ndarray:
        """``(n, len(labels))`` float32: 1 where the row's list of strings holds the label."""

    def token_rows(self, name: str, ids: Mapping[str, int], width: int) -> np.ndarray:
        """``(n, width)`` int64: the last ``width`` ids of a list column as tokens, oldest first,
        ``PAD`` after them (``UNKNOWN`` for ids outside ``ids``)."""

    def token_ids(self, name: str, ids: Mapping[str, int]) -> np.ndarray:
        """``(n,)`` int64 token of each row's id (``UNKNOWN`` outside ``ids``)."""


class FrameColumns:
    """:class:`FeatureColumns` of a pandas frame (Feast historical features, one row per example)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def __len__(self) -> int:
        return len(self.frame)

    def numbers(self, name: str) -> np.ndarray | None:
        if name not in self.frame.columns:
            return None
        column = self.frame[name]
        if column.dtype == object:
            column = pd.to_numeric(column, errors="coerce")
        values: np.ndarray = column.to_numpy(dtype=np.float64, na_value=np.nan)
        return values

    def number_matrix(self, names: Sequence[str]) -> np.ndarray:
        return numbers_side_by_side(self, names)

    def codes(self, name: str, labels: Sequence[str]) -> np.ndarray:
        if name not in self.frame.columns:
            return np.full(len(self.frame), -1, dtype=np.int64)
        index = {label: i for i, label in enumerate(labels)}
        return np.array(
            [index.get(v, -1) if isinstance(v, str) else -1 for v in self.frame[name]],
            dtype=np.int64,
        )

    def vectors(self, name: str, dim: int) -> np.ndarray:
        n = len(self.frame)
        values = self.frame[name] if name in self.frame.columns else [None] * n
        out = np.zeros((n, dim), dtype=np.float32)
        for row, vector in enumerate(values):
            if vector is not None and len(vector) == dim:
                out[row] = np.asarray(vector, dtype=np.float32)
        return out

    def vector_rows(self, name: str, dim: int) -> TableRows:
        return TableRows(self.vectors(name, dim), np.arange(len(self.frame), dtype=np.int64))

    def memberships(self, name: str, labels: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(self.frame), len(labels)), dtype=np.float32)
        if name not in self.frame.columns:
            return out
        index = {label: i for i, label in enumerate(labels)}
        for row, items in enumerate(self.frame[name]):
            for item in [] if items is None else list(items):
                k = index.get(item) if isinstance(item, str) else None
                if k is not None:
                    out[row, k] = 1.0
        return out

    def token_rows(self, name: str, ids: Mapping[str, int], width: int) -> np.ndarray:
        history = np.full((len(self.frame), width), PAD, dtype=np.int64)
        if name not in self.frame.columns:
            return history
        for row, items in enumerate(self.frame[name]):
            if items is not None and len(items):
                recent = list(items)[-width:]
                history[row, : len(recent)] = tokens(recent, ids)
        return history

    def token_ids(self, name: str, ids: Mapping[str, int]) -> np.ndarray:
        return tokens(list(self.frame[name]), ids)


def numbers_side_by_side(columns: FeatureColumns, names: Sequence[str]) -> np.ndarray:
    """:meth:`FeatureColumns.number_matrix` from one :meth:`~FeatureColumns.numbers` call per
    name."""
    values = np.full((len(columns), len(names)), np.nan)
    for j, name in enumerate(names):
        column = columns.numbers(name)
        if column is not None:
            values[:, j] = column
    return values


def derived_features(columns: FeatureColumns) -> dict[str, np.ndarray]:
    """The inputs the ranker derives from feature-service columns: the category one-hot, the
    viewer's affinity share for the product's category (0 without history) and whether the
    viewer declared that category at sign-up."""
    category = columns.codes(f.PRODUCT_CATEGORY, c.CATEGORIES)
    known = category >= 0
    picked = np.where(known, category, 0)
    affinity = _at(columns.vector_rows(f.VIEWER_CATEGORY_AFFINITY, len(c.CATEGORIES)), picked)
    declared = columns.memberships(f.DECLARED_INTERESTS, c.CATEGORIES)
    rows = np.arange(len(category))
    flags = _ONE_HOT[np.where(known, category, len(c.CATEGORIES))]
    derived = {
        CATEGORY_MATCH: np.where(known, affinity, 0.0).astype(np.float32),
        DECLARED_MATCH: np.where(known, declared[rows, picked], 0.0).astype(np.float32),
    }
    for k, name in enumerate(CATEGORY_FLAGS):
        derived[name] = flags[:, k]
    return derived


# Row k: the flags of category k; the last row (unknown category) all zero.
_ONE_HOT = np.eye(len(c.CATEGORIES) + 1, len(c.CATEGORIES), dtype=np.float32)


def _at(vectors: TableRows, picked: np.ndarray) -> np.ndarray:
    """Row i's entry ``picked[i]`` of ``vectors`` (0 for an absent row), without densifying."""
    out = np.zeros(len(picked), dtype=vectors.table.dtype)
    present = vectors.rows >= 0
    out[present] = vectors.table[vectors.rows[present], picked[present]]
    return out


def vocabulary(frame: pd.DataFrame, min_count: int = 2) -> list[str]:
    """Products seen at least ``min_count`` times as candidates or in histories (sorted)."""
    counts: Counter[str] = Counter(str(p) for p in frame[c.PRODUCT_ID])
    for history in frame[f.LAST_PRODUCTS]:
        if history is not None:
            counts.update(str(p) for p in history)
    return sorted(p for p, n in counts.items() if n >= min_count)


def tokens(products: Sequence[object], vocab: Mapping[str, int]) -> np.ndarray:
    return np.array([vocab.get(str(p), UNKNOWN) for p in products], dtype=np.int64)


def numeric_matrix(columns: FeatureColumns, numeric_features: Sequence[str]) -> np.ndarray:
    """``(n, len(numeric_features))`` float32: missing or non-numeric values as 0, heavy-tailed
    columns (:data:`LOG_FEATURES`) as ``log1p`` of their non-negative part."""
    derived = derived_features(columns)
    values: np.ndarray = columns.number_matrix(numeric_features)
    for j, name in enumerate(numeric_features):
        column = derived.get(name)
        if column is not None:
            values[:, j] = column
    np.copyto(values, 0.0, where=~np.isfinite(values))  # nan and +-inf as 0, in place
    logged = [j for j, name in enumerate(numeric_features) if name in LOG_FEATURES]
    values[:, logged] = np.log1p(np.maximum(values[:, logged], 0.0))
    return values.astype(np.float32)


def token_vocabulary(vocab: Sequence[str]) -> dict[str, int]:
    """Product -> token id (0 and 1 are padding and unknown)."""
    return {p: i + 2 for i, p in enumerate(vocab)}


def ranker_inputs(
    source: FeatureColumns | pd.DataFrame,
    numeric_features: Sequence[str],
    vocab: Sequence[str] | Mapping[str, int],
    text_dim: int = 0,
    graph_dim: int = 0,
    shared_text: bool = False,
    behaviour: bool = True,
    viewer_text_dim: int = 0,
) -> RankerInputs:
    """The inputs of every row (missing values as 0; ``text_dim``/``graph_dim`` 0 leave those
    inputs out, as in the ablation). ``source`` is a frame of feature-service columns or any
    :class:`FeatureColumns`; ``vocab`` the product vocabulary or its :func:`token_vocabulary`;
    ``shared_text``: text vectors as :class:`TableRows` (scoring) instead of a dense matrix;
    ``behaviour`` False (a model without a behaviour encoder, which reads no tokens): no history
    columns and every candidate token ``UNKNOWN``; ``viewer_text_dim``: the text vector of what
    the viewer says they shop for (0: left out)."""
    columns = FrameColumns(source) if isinstance(source, pd.DataFrame) else source
    ids = vocab if isinstance(vocab, Mapping) else token_vocabulary(vocab)

    def vectors(name: str, dim: int) -> Vectors | None:
        if not dim:
            return None
        return columns.vector_rows(name, dim) if shared_text else columns.vectors(name, dim)

    text = vectors(f.TEXT_EMBEDDING, text_dim)
    return RankerInputs(
        numeric_matrix(columns, numeric_features),
        text,
        columns.vectors(f.GRAPH_VECTOR, graph_dim) if graph_dim else None,
        columns.token_rows(f.LAST_PRODUCTS, ids, f.LAST_ITEMS)
        if behaviour
        else np.zeros((len(columns), 0), dtype=np.int64),
        columns.token_ids(c.PRODUCT_ID, ids)
        if behaviour
        else np.full(len(columns), UNKNOWN, dtype=np.int64),
        vectors(f.VIEWER_TEXT_EMBEDDING, viewer_text_dim),
    )
