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
import pyarrow.parquet as pq

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.errors import StageError
from livecart.core.io import source_exists, table_path
from livecart.core.settings import LivecartSettings
from livecart.features.feast_store import historical_features

SERVICE = "product_ranking_v4"
CLICK, PURCHASE = "label_click", "label_purchase"
CLICK_WINDOW_MIN, PURCHASE_WINDOW_MIN = 10, 30


@dataclass(frozen=True)
class Examples:
    frame: pd.DataFrame
    window: tuple[datetime, datetime]


# Written by the first queries of `livecart features`: their absence means it has not run.
FEATURES_MADE: tuple[f.FeatureTable, ...] = (
    f.FeatureTable.VIEWER_PROFILE,
    f.FeatureTable.PRODUCT_PROFILE,
)


def require_inputs(settings: LivecartSettings, stage: str) -> None:
    """Fail with the command to run first when the clean events or the feature tables are missing
    (before, DuckDB failed deep in the job on a file pattern that matched nothing)."""
    if not source_exists(settings.clean_dir, c.Table.EVENTS):
        raise StageError(
            stage,
            f"no clean events under {settings.clean_dir}",
            "run `livecart validate` first (after `livecart generate` or `livecart ingest ...`)",
        )
    for table in FEATURES_MADE:
        path = settings.feature_table_path(table)
        if not path.is_file():
            raise StageError(
                stage, f"missing feature table {path}", "run `livecart features` first"
            )


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
    """Labelled impressions joined point-in-time with the ranker's feature service (``SERVICE``)."""
    require_inputs(settings, "train")
    shown = labelled_impressions(settings, limit)
    entity_rows = shown[[c.VIEWER_ID, c.PRODUCT_ID, c.STREAMER_ID, c.EVENT_TIMESTAMP]]
    features = historical_features(settings, entity_rows, SERVICE)
    frame = shown.merge(
        features, on=[c.VIEWER_ID, c.PRODUCT_ID, c.STREAMER_ID, c.EVENT_TIMESTAMP], how="left"
    )
    frame = frame.drop_duplicates(subset=[c.EVENT_ID]).sort_values([c.EVENT_TIMESTAMP, c.EVENT_ID])
    window = (
        frame[c.EVENT_TIMESTAMP].min().to_pydatetime(),
        frame[c.EVENT_TIMESTAMP].max().to_pydatetime(),
    )
    return Examples(frame.reset_index(drop=True), window)


def product_texts(settings: LivecartSettings, products: list[str], dim: int) -> np.ndarray:
    """Text embeddings of ``products`` (rows of 0 where none), stored with the model so that
    serving embeds a viewer's recent products without reading offline files."""
    out = np.zeros((len(products), dim), dtype=np.float32)
    path = settings.feature_table_path(f.FeatureTable.PRODUCT_EMBEDDING)
    if not path.exists() or not products:
        return out
    table = pq.read_table(path, columns=[c.PRODUCT_ID, f.TEXT_EMBEDDING])
    index = {p: i for i, p in enumerate(products)}
    for product, vector in zip(
        table.column(c.PRODUCT_ID).to_pylist(),
        table.column(f.TEXT_EMBEDDING).to_pylist(),
        strict=True,
    ):
        row = index.get(product)
        if row is not None and vector is not None and len(vector) == dim:
            out[row] = np.asarray(vector, dtype=np.float32)
    return out
