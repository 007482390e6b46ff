"""Live comment signals: the registered comment probe scores every clean comment, DuckDB
aggregates them per room and 5-minute bucket (sentiment = P(positive) - P(negative), purchase
intent = P(intent)), stamped at the bucket end like ``room_live_stats`` (no leakage).

The same buckets are also written per streamer (``streamer_comment_signals``): a streamer is live
in one room at a time, and product-ranking rows are keyed by streamer, not by room.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import torch

from livecart import contract as c
from livecart import feature_names as f
from livecart import registry
from livecart.io import table_path, write_parquet_atomic
from livecart.settings import LivecartSettings
from ray_jobs.text.comments import PROBE, embed_unique
from ray_jobs.text.encoder import TextEncoder


def _schema(key: str) -> pa.Schema:
    return pa.schema(
        [
            (key, pa.string()),
            (c.EVENT_TIMESTAMP, c.UTC_TIMESTAMP),
            (c.CREATED_TIMESTAMP, c.UTC_TIMESTAMP),
            (f.COMMENT_SENTIMENT_5M, pa.float64()),
            (f.PURCHASE_INTENT_5M, pa.float64()),
            (f.COMMENTS_SCORED_5M, pa.int64()),
        ]
    )


SCHEMA = _schema(c.ROOM_ID)
STREAMER_SCHEMA = _schema(c.STREAMER_ID)


@dataclass(frozen=True)
class SignalsResult:
    comments: int
    rows: int


def signals_path(settings: LivecartSettings) -> Path:
    return settings.feature_table_path(f.FeatureTable.ROOM_COMMENT_SIGNALS)


def streamer_signals_path(settings: LivecartSettings) -> Path:
    return settings.feature_table_path(f.FeatureTable.STREAMER_COMMENT_SIGNALS)


def _write(table: pa.Table, path: Path, schema: pa.Schema = SCHEMA) -> None:
    write_parquet_atomic(table.cast(schema), path)


def ensure_signals_table(settings: LivecartSettings) -> None:
    """Empty tables until the probe has scored comments, so Feast can register the views."""
    if not signals_path(settings).exists():
        _write(SCHEMA.empty_table(), signals_path(settings))
    if not streamer_signals_path(settings).exists():
        _write(STREAMER_SCHEMA.empty_table(), streamer_signals_path(settings), STREAMER_SCHEMA)


def _aggregate(con: duckdb.DuckDBPyConnection, key: str) -> pa.Table:
    """Per ``key`` and 5-minute bucket, stamped at the bucket end."""
    bucket = f"time_bucket(INTERVAL {f.ROOM_BUCKET_MINUTES} MINUTE, {c.EVENT_TIMESTAMP})"
    table: pa.Table = con.sql(
        f"""
        SELECT {key}, {bucket} + INTERVAL {f.ROOM_BUCKET_MINUTES} MINUTE AS {c.EVENT_TIMESTAMP},
               now() AS {c.CREATED_TIMESTAMP},
               avg(sentiment)::DOUBLE AS {f.COMMENT_SENTIMENT_5M},
               avg(intent)::DOUBLE AS {f.PURCHASE_INTENT_5M},
               count(*)::BIGINT AS {f.COMMENTS_SCORED_5M}
        FROM scored WHERE {key} IS NOT NULL GROUP BY ALL ORDER BY {key}, {c.EVENT_TIMESTAMP}
        """
    ).to_arrow_table()
    return table


def run(settings: LivecartSettings) -> SignalsResult:
    """Score clean comments with the latest comment probe and write the signals table."""
    record, state = registry.load(settings, PROBE)
    events = table_path(settings.clean_dir, c.Table.EVENTS) / "part-*.parquet"
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        comments = con.execute(
            f"SELECT {c.ROOM_ID}, {c.STREAMER_ID}, {c.EVENT_TIMESTAMP}, {c.TEXT} "
            f"FROM read_parquet('{events}') "
            f"WHERE {c.EVENT_TYPE} = 'comment' AND {c.TEXT} IS NOT NULL"
        ).df()
        if comments.empty:
            _write(SCHEMA.empty_table(), signals_path(settings))
            _write(STREAMER_SCHEMA.empty_table(), streamer_signals_path(settings), STREAMER_SCHEMA)
            return SignalsResult(0, 0)
        layer = torch.nn.Linear(int(record.config["dim"]), len(record.config["classes"]))
        layer.load_state_dict(state)
        vectors = embed_unique(
            TextEncoder(Path(record.config["encoder"])), comments[c.TEXT].tolist()
        )
        with torch.inference_mode():
            probs = torch.softmax(layer(torch.as_tensor(vectors)), dim=1).numpy()
        kinds = list(record.config["classes"])
        comments["sentiment"] = (
            probs[:, kinds.index("positive")] - probs[:, kinds.index("negative")]
        )
        comments["intent"] = probs[:, kinds.index("intent")].astype(np.float64)
        con.register("scored", comments)
        table = _aggregate(con, c.ROOM_ID)
        by_streamer = _aggregate(con, c.STREAMER_ID)
    finally:
        con.close()
    _write(table, signals_path(settings))
    _write(by_streamer, streamer_signals_path(settings), STREAMER_SCHEMA)
    return SignalsResult(len(comments), table.num_rows)
