"""Training examples for the product ranker: point-in-time features from Feast, labels from later events.

A row is a product shown to a viewer (an ``impression`` with a product). Its labels are whether the
same viewer clicked (within 10 minutes) and bought (within 30 minutes) that product afterwards.
Its features come from ``FeatureStore.get_historical_features`` at the impression's timestamp, so
nothing after that moment can leak in (the pipeline test plants a leak to prove the join).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd

from livecart import contract as c
from livecart import feature_names as f
from livecart.feast_ops import historical_features
from livecart.io import table_path
from livecart.settings import LivecartSettings

SERVICE = "product_ranking_v2"
CLICK, PURCHASE = "label_click", "label_purchase"
CATEGORY_MATCH = "viewer_affinity_to_product_category"
CLICK_WINDOW_MIN, PURCHASE_WINDOW_MIN = 10, 30
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
)
# Heavy-tailed counts and amounts are fed as log1p.
LOG_FEATURES = frozenset(NUMERIC_FEATURES) - {
    f.VIEWER_CTR,
    f.PRODUCT_CTR,
    f.PRODUCT_CONVERSION,
    f.PRODUCT_RATING,
    f.VS_FOLLOWS,
    CATEGORY_MATCH,
}


@dataclass(frozen=True)
class Examples:
    frame: pd.DataFrame
    window: tuple[datetime, datetime]


def labelled_impressions(settings: LivecartSettings, limit: int | None = None) -> pd.DataFrame:
    """Product impressions with their click/purchase labels (from events after each impression)."""
    events = table_path(settings.clean_dir, c.Table.EVENTS) / "part-*.parquet"
    cap = f"LIMIT {int(limit)}" if limit else ""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        labelled: pd.DataFrame = con.execute(
            f"""
            WITH ev AS (SELECT * FROM read_parquet('{events}')),
            shown AS (
                SELECT {c.EVENT_ID}, {c.VIEWER_ID}, {c.PRODUCT_ID}, {c.STREAMER_ID}, {c.EVENT_TIMESTAMP}
                FROM ev WHERE {c.EVENT_TYPE} = 'impression' AND {c.PRODUCT_ID} IS NOT NULL
                ORDER BY {c.EVENT_TIMESTAMP}, {c.EVENT_ID} {cap}
            )
            SELECT s.*,
                   EXISTS (SELECT 1 FROM ev e WHERE e.{c.VIEWER_ID} = s.{c.VIEWER_ID}
                           AND e.{c.PRODUCT_ID} = s.{c.PRODUCT_ID} AND e.{c.EVENT_TYPE} = 'click'
                           AND e.{c.EVENT_TIMESTAMP} > s.{c.EVENT_TIMESTAMP}
                           AND e.{c.EVENT_TIMESTAMP} <= s.{c.EVENT_TIMESTAMP} + INTERVAL {CLICK_WINDOW_MIN} MINUTE)::INT AS {CLICK},
                   EXISTS (SELECT 1 FROM ev e WHERE e.{c.VIEWER_ID} = s.{c.VIEWER_ID}
                           AND e.{c.PRODUCT_ID} = s.{c.PRODUCT_ID} AND e.{c.EVENT_TYPE} = 'purchase'
                           AND e.{c.EVENT_TIMESTAMP} > s.{c.EVENT_TIMESTAMP}
                           AND e.{c.EVENT_TIMESTAMP} <= s.{c.EVENT_TIMESTAMP} + INTERVAL {PURCHASE_WINDOW_MIN} MINUTE)::INT AS {PURCHASE}
            FROM shown s
            """
        ).df()
    finally:
        con.close()
    return labelled


def build_examples(settings: LivecartSettings, limit: int | None = None) -> Examples:
    """Labelled impressions joined point-in-time with the ``product_ranking_v2`` service."""
    shown = labelled_impressions(settings, limit)
    entity_rows = shown[[c.VIEWER_ID, c.PRODUCT_ID, c.STREAMER_ID, c.EVENT_TIMESTAMP]]
    features = historical_features(settings, entity_rows, SERVICE)
    frame = shown.merge(
        features, on=[c.VIEWER_ID, c.PRODUCT_ID, c.STREAMER_ID, c.EVENT_TIMESTAMP], how="left"
    )
    frame = frame.drop_duplicates(subset=[c.EVENT_ID]).sort_values([c.EVENT_TIMESTAMP, c.EVENT_ID])
    frame[CATEGORY_MATCH] = category_match(frame)
    window = (
        frame[c.EVENT_TIMESTAMP].min().to_pydatetime(),
        frame[c.EVENT_TIMESTAMP].max().to_pydatetime(),
    )
    return Examples(frame.reset_index(drop=True), window)


def category_match(frame: pd.DataFrame) -> np.ndarray:
    """The viewer's affinity share for the product's category (0 without history)."""
    index = {name: i for i, name in enumerate(c.CATEGORIES)}
    out = np.zeros(len(frame), dtype=np.float32)
    affinities = frame[f.VIEWER_CATEGORY_AFFINITY].tolist()
    for row, (affinity, category) in enumerate(
        zip(affinities, frame[f.PRODUCT_CATEGORY], strict=True)
    ):
        k = index.get(category) if isinstance(category, str) else None
        if k is not None and affinity is not None and len(affinity) == len(index):
            out[row] = float(affinity[k])
    return out


def matrices(frame: pd.DataFrame, with_text: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(numeric features, text embeddings or None) as float32 arrays, missing values as 0."""
    numeric = frame.reindex(columns=list(NUMERIC_FEATURES)).apply(pd.to_numeric, errors="coerce")
    numeric = numeric.fillna(0.0).astype(np.float32)
    for column in LOG_FEATURES:
        numeric[column] = np.log1p(numeric[column].clip(lower=0))
    text = None
    if with_text:
        dim = next((len(v) for v in frame[f.TEXT_EMBEDDING] if v is not None and len(v)), 0)
        text = np.zeros((len(frame), dim), dtype=np.float32)
        for row, vector in enumerate(frame[f.TEXT_EMBEDDING]):
            if vector is not None and len(vector) == dim:
                text[row] = np.asarray(vector, dtype=np.float32)
    return numeric.to_numpy(), text
