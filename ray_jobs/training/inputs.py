"""How a frame of ``product_ranking_v3`` features becomes the fusion ranker's inputs.

Training (Feast historical features) and scoring (Feast online features) both call
:func:`ranker_inputs`, so the two can never disagree. Every input comes from the frame or from the
model artifact (the product vocabulary and its text vectors): nothing is read from offline files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from livecart import contract as c
from livecart import feature_names as f

CATEGORY_MATCH = "viewer_affinity_to_product_category"
DECLARED_MATCH = "declared_interest_in_product_category"
CATEGORY_FLAGS: tuple[str, ...] = tuple(f"product_category_is_{k}" for k in c.CATEGORIES)
PAD, UNKNOWN = 0, 1  # token ids of the history: padding and a product outside the vocabulary

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
    f.PRODUCT_IMPRESSIONS,
    f.PRODUCT_CLICKS,
    f.PRODUCT_CARTS,
    f.PRODUCT_PURCHASES,
    f.PRODUCT_CTR,
    f.PRODUCT_CONVERSION,
    f.PRODUCT_GMV,
    f.PRICE_TO_TYPICAL_SPEND,
    f.VS_ENTERS,
    f.VS_WATCH_MINUTES,
    f.VS_LIKES,
    f.VS_COMMENTS,
    f.VS_GIFT_VALUE,
    f.VS_PURCHASES,
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


@dataclass(frozen=True)
class RankerInputs:
    """Model inputs of ``n`` rows: numeric features, optional text and graph vectors of the
    candidate, the viewer's recent products as token ids (oldest first, padded with ``PAD``
    after them) and the candidate's token id."""

    numeric: np.ndarray
    text: np.ndarray | None
    graph: np.ndarray | None
    history: np.ndarray
    candidate: np.ndarray

    def __len__(self) -> int:
        return len(self.numeric)

    def take(self, rows: np.ndarray | slice) -> RankerInputs:
        return RankerInputs(
            self.numeric[rows],
            None if self.text is None else self.text[rows],
            None if self.graph is None else self.graph[rows],
            self.history[rows],
            self.candidate[rows],
        )


def concat_inputs(parts: Sequence[RankerInputs]) -> RankerInputs:
    """Several requests' inputs as one batch (same model, so the same optional parts)."""
    if len(parts) == 1:
        return parts[0]

    def join(arrays: list[np.ndarray | None]) -> np.ndarray | None:
        present = [a for a in arrays if a is not None]
        return np.concatenate(present) if len(present) == len(arrays) else None

    return RankerInputs(
        np.concatenate([p.numeric for p in parts]),
        join([p.text for p in parts]),
        join([p.graph for p in parts]),
        np.concatenate([p.history for p in parts]),
        np.concatenate([p.candidate for p in parts]),
    )


def category_match(frame: pd.DataFrame) -> np.ndarray:
    """The viewer's affinity share for the product's category (0 without history)."""
    index = {name: i for i, name in enumerate(c.CATEGORIES)}
    out = np.zeros(len(frame), dtype=np.float32)
    if f.VIEWER_CATEGORY_AFFINITY not in frame.columns or f.PRODUCT_CATEGORY not in frame.columns:
        return out
    affinities = frame[f.VIEWER_CATEGORY_AFFINITY].tolist()
    for row, (affinity, category) in enumerate(
        zip(affinities, frame[f.PRODUCT_CATEGORY], strict=True)
    ):
        k = index.get(category) if isinstance(category, str) else None
        if k is not None and affinity is not None and len(affinity) == len(index):
            out[row] = float(affinity[k])
    return out


def declared_match(frame: pd.DataFrame) -> np.ndarray:
    """1 when the product's category is one the viewer declared at sign-up."""
    if f.DECLARED_INTERESTS not in frame.columns or f.PRODUCT_CATEGORY not in frame.columns:
        return np.zeros(len(frame), dtype=np.float32)
    return np.array(
        [
            float(isinstance(k, str) and declared is not None and k in list(declared))
            for declared, k in zip(
                frame[f.DECLARED_INTERESTS], frame[f.PRODUCT_CATEGORY], strict=True
            )
        ],
        dtype=np.float32,
    )


def with_derived(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` plus the columns the ranker derives from feature-service columns."""
    category = frame.get(f.PRODUCT_CATEGORY, pd.Series([None] * len(frame), index=frame.index))
    flags = {
        name: (category == k).to_numpy(np.float32)
        for name, k in zip(CATEGORY_FLAGS, c.CATEGORIES, strict=True)
    }
    return frame.assign(
        **{CATEGORY_MATCH: category_match(frame), DECLARED_MATCH: declared_match(frame)}, **flags
    )


def vectors(values: Iterable[object], n: int, dim: int | None = None) -> np.ndarray:
    """A list column of float vectors as an ``(n, dim)`` array; missing or misfit rows are 0."""
    values = list(values)
    if dim is None:
        dim = next((len(v) for v in values if v is not None and len(v)), 0)  # type: ignore[arg-type]
    out = np.zeros((n, dim), dtype=np.float32)
    for row, vector in enumerate(values):
        if vector is not None and len(vector) == dim:  # type: ignore[arg-type]
            out[row] = np.asarray(vector, dtype=np.float32)
    return out


def vocabulary(frame: pd.DataFrame, min_count: int = 2) -> list[str]:
    """Products seen at least ``min_count`` times as candidates or in histories (sorted)."""
    counts: Counter[str] = Counter(str(p) for p in frame[c.PRODUCT_ID])
    for history in frame[f.LAST_PRODUCTS]:
        if history is not None:
            counts.update(str(p) for p in history)
    return sorted(p for p, n in counts.items() if n >= min_count)


def tokens(products: Sequence[object], vocab: dict[str, int]) -> np.ndarray:
    return np.array([vocab.get(str(p), UNKNOWN) for p in products], dtype=np.int64)


def numeric_matrix(frame: pd.DataFrame, numeric_features: Sequence[str]) -> np.ndarray:
    """``(n, len(numeric_features))`` float32: missing or non-numeric values as 0, heavy-tailed
    columns (:data:`LOG_FEATURES`) as ``log1p`` of their non-negative part. Column by column in
    numpy: serving builds this for ~500 rows per request."""
    out = np.zeros((len(frame), len(numeric_features)), dtype=np.float32)
    for j, name in enumerate(numeric_features):
        if name not in frame.columns:
            continue
        column = frame[name]
        if column.dtype == object:
            column = pd.to_numeric(column, errors="coerce")
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        if name in LOG_FEATURES:
            values = np.log1p(np.maximum(values, 0.0))
        out[:, j] = values
    return out


def ranker_inputs(
    frame: pd.DataFrame,
    numeric_features: Sequence[str],
    vocab: Sequence[str],
    text_dim: int = 0,
    graph_dim: int = 0,
) -> RankerInputs:
    """The inputs of every row of ``frame`` (missing values as 0; ``text_dim``/``graph_dim`` 0
    leave those inputs out, as in the ablation)."""
    frame = with_derived(frame)
    n = len(frame)
    numeric = numeric_matrix(frame, numeric_features)
    ids = {p: i + 2 for i, p in enumerate(vocab)}
    history = np.full((n, f.LAST_ITEMS), PAD, dtype=np.int64)
    last = frame[f.LAST_PRODUCTS] if f.LAST_PRODUCTS in frame.columns else [None] * n
    for row, items in enumerate(last):
        if items is not None and len(items):
            recent = list(items)[-f.LAST_ITEMS :]
            history[row, : len(recent)] = tokens(recent, ids)
    text = graph = None
    if text_dim:
        text = vectors(frame.get(f.TEXT_EMBEDDING, [None] * n), n, text_dim)
    if graph_dim:
        graph = vectors(frame.get(f.GRAPH_VECTOR, [None] * n), n, graph_dim)
    return RankerInputs(numeric, text, graph, history, tokens(list(frame[c.PRODUCT_ID]), ids))
