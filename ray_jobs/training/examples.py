"""Training examples for the product ranker: point-in-time features from Feast, labels from later events.

A row is a product shown to a viewer (an ``impression`` with a product). Its labels are whether the
same viewer clicked (within 10 minutes) and bought (within 30 minutes) that product afterwards.
Its features come from ``FeatureStore.get_historical_features`` at the impression's timestamp, so
nothing after that moment can leak in (the pipeline test plants a leak to prove the join).
"""

from __future__ import annotations

from collections.abc import Iterator
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
from livecart.features.feast_store import HistoricalJoin
from ray_jobs.training.example_format import CLICK, PURCHASE

SERVICE = "product_ranking_v4"
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


def _shown_sql(events: str, limit: int | None) -> str:
    cap = f"LIMIT {int(limit)}" if limit else ""
    return f"""
        SELECT {c.EVENT_ID}, {c.VIEWER_ID}, {c.PRODUCT_ID}, {c.STREAMER_ID}, {c.EVENT_TIMESTAMP}
        FROM read_parquet('{events}')
        WHERE {c.EVENT_TYPE} = 'impression' AND {c.PRODUCT_ID} IS NOT NULL
        ORDER BY {c.EVENT_TIMESTAMP}, {c.EVENT_ID} {cap}"""


def _labelled_sql(events: str, limit: int | None) -> str:
    return f"""
        WITH ev AS (SELECT * FROM read_parquet('{events}')),
        shown AS ({_shown_sql(events, limit)})
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
        ORDER BY s.{c.EVENT_TIMESTAMP}, s.{c.EVENT_ID}"""


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def labelled_impressions(settings: LivecartSettings, limit: int | None = None) -> pd.DataFrame:
    """Product impressions with their click/purchase labels (from events after each impression)."""
    events = table_path(settings.clean_dir, c.Table.EVENTS) / "part-*.parquet"
    con = _connect()
    try:
        labelled: pd.DataFrame = con.execute(_labelled_sql(str(events), limit)).df()
    finally:
        con.close()
    return labelled


def count_impressions(settings: LivecartSettings, limit: int | None = None) -> int:
    """How many examples :func:`example_parts` yields (one per labelled impression)."""
    events = table_path(settings.clean_dir, c.Table.EVENTS) / "part-*.parquet"
    con = _connect()
    try:
        row = con.execute(f"SELECT count(*) FROM ({_shown_sql(str(events), limit)})").fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


def example_parts(settings: LivecartSettings, limit: int | None = None) -> Iterator[pd.DataFrame]:
    """The examples of :func:`build_examples` in time order, ``settings.historical_chunk_rows``
    impressions at a time: labelled by DuckDB and streamed out of it, each part joined point in
    time by Feast on its own. Memory is bounded by a part, not by the log. Without impressions,
    one empty part (with every column)."""
    require_inputs(settings, "train")
    events = table_path(settings.clean_dir, c.Table.EVENTS) / "part-*.parquet"
    join = HistoricalJoin(settings, SERVICE)
    con = _connect()
    try:
        reader = con.sql(_labelled_sql(str(events), limit)).to_arrow_reader(
            settings.historical_chunk_rows
        )
        empty = True
        for batch in reader:
            if batch.num_rows:
                empty = False
                yield _joined(join, batch.to_pandas())
        if empty:
            yield _joined(join, reader.schema.empty_table().to_pandas())
    finally:
        con.close()


def _joined(join: HistoricalJoin, shown: pd.DataFrame) -> pd.DataFrame:
    keys = [c.VIEWER_ID, c.PRODUCT_ID, c.STREAMER_ID, c.EVENT_TIMESTAMP]
    frame = shown.merge(join(shown[keys]), on=keys, how="left")
    return frame.drop_duplicates(subset=[c.EVENT_ID]).reset_index(drop=True)


def build_examples(settings: LivecartSettings, limit: int | None = None) -> Examples:
    """Labelled impressions joined point-in-time with the ranker's feature service (``SERVICE``),
    all in one frame (the refresh's holdout; training streams :func:`example_parts` instead)."""
    parts = list(example_parts(settings, limit))
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    window = (
        frame[c.EVENT_TIMESTAMP].min().to_pydatetime(),
        frame[c.EVENT_TIMESTAMP].max().to_pydatetime(),
    )
    return Examples(frame, window)


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
