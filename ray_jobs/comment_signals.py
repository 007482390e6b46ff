"""Live comment signals: the registered comment probe scores every clean comment, DuckDB
aggregates them per room and 5-minute bucket (sentiment = P(positive) - P(negative), purchase
intent = P(intent)), stamped at the bucket end like ``room_live_stats`` (no leakage).
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

SCHEMA = pa.schema(
    [
        (c.ROOM_ID, pa.string()),
        (c.EVENT_TIMESTAMP, c.UTC_TIMESTAMP),
        (c.CREATED_TIMESTAMP, c.UTC_TIMESTAMP),
        (f.COMMENT_SENTIMENT_5M, pa.float64()),
        (f.PURCHASE_INTENT_5M, pa.float64()),
        (f.COMMENTS_SCORED_5M, pa.int64()),
    ]
)


@dataclass(frozen=True)
class SignalsResult:
    comments: int
    rows: int


def signals_path(settings: LivecartSettings) -> Path:
    return settings.feature_table_path(f.FeatureTable.ROOM_COMMENT_SIGNALS)


def _write(table: pa.Table, path: Path) -> None:
    write_parquet_atomic(table.cast(SCHEMA), path)


def ensure_signals_table(settings: LivecartSettings) -> None:
    """An empty table until the probe has scored comments, so Feast can register the view."""
    if not signals_path(settings).exists():
        _write(SCHEMA.empty_table(), signals_path(settings))


def run(settings: LivecartSettings) -> SignalsResult:
    """Score clean comments with the latest comment probe and write the signals table."""
    record, state = registry.load(settings, PROBE)
    events = table_path(settings.clean_dir, c.Table.EVENTS) / "part-*.parquet"
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        comments = con.execute(
            f"SELECT {c.ROOM_ID}, {c.EVENT_TIMESTAMP}, {c.TEXT} FROM read_parquet('{events}') "
            f"WHERE {c.EVENT_TYPE} = 'comment' AND {c.TEXT} IS NOT NULL"
        ).df()
        if comments.empty:
            _write(SCHEMA.empty_table(), signals_path(settings))
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
        bucket = f"time_bucket(INTERVAL {f.ROOM_BUCKET_MINUTES} MINUTE, {c.EVENT_TIMESTAMP})"
        table: pa.Table = con.execute(
            f"""
            SELECT {c.ROOM_ID}, {bucket} + INTERVAL {f.ROOM_BUCKET_MINUTES} MINUTE AS {c.EVENT_TIMESTAMP},
                   now() AS {c.CREATED_TIMESTAMP},
                   avg(sentiment)::DOUBLE AS {f.COMMENT_SENTIMENT_5M},
                   avg(intent)::DOUBLE AS {f.PURCHASE_INTENT_5M},
                   count(*)::BIGINT AS {f.COMMENTS_SCORED_5M}
            FROM scored GROUP BY ALL ORDER BY {c.ROOM_ID}, {c.EVENT_TIMESTAMP}
            """
        ).to_arrow_table()
    finally:
        con.close()
    _write(table, signals_path(settings))
    return SignalsResult(len(comments), table.num_rows)
