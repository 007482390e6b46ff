"""Live comment signals: the registered comment probe scores every clean comment, DuckDB
aggregates them per room and 5-minute bucket (sentiment = P(positive) - P(negative), purchase
intent = P(intent)), stamped at the bucket end like ``room_live_stats`` (no leakage).

The same buckets are also written per streamer (``streamer_comment_signals``): a streamer is live
in one room at a time, and product-ranking rows are keyed by streamer, not by room.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import torch

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.io import table_path, write_parquet_atomic
from livecart.core.settings import LivecartSettings
from livecart.model import registry
from livecart.model.comment_probe import PROBE, embed_unique
from livecart.model.text_encoder import TextEncoder


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


def aggregate_sql(key: str) -> str:
    """Per ``key`` and 5-minute bucket of the ``scored`` comments, stamped at the bucket end."""
    bucket = f"time_bucket(INTERVAL {f.ROOM_BUCKET_MINUTES} MINUTE, {c.EVENT_TIMESTAMP})"
    return f"""
        SELECT {key}, {bucket} + INTERVAL {f.ROOM_BUCKET_MINUTES} MINUTE AS {c.EVENT_TIMESTAMP},
               now() AS {c.CREATED_TIMESTAMP},
               avg(sentiment)::DOUBLE AS {f.COMMENT_SENTIMENT_5M},
               avg(intent)::DOUBLE AS {f.PURCHASE_INTENT_5M},
               count(*)::BIGINT AS {f.COMMENTS_SCORED_5M}
        FROM scored WHERE {key} IS NOT NULL GROUP BY ALL ORDER BY {key}, {c.EVENT_TIMESTAMP}
        """


def _aggregate(con: duckdb.DuckDBPyConnection, key: str) -> pa.Table:
    table: pa.Table = con.sql(aggregate_sql(key)).to_arrow_table()
    return table


class CommentProbe:
    """The registered comment probe on its encoder: text -> (sentiment, purchase intent).

    Sentiment is P(positive) - P(negative); intent is P(intent). Used by this batch job and by
    serving's event ingest, so live and offline signals are the same numbers.
    """

    def __init__(self, config: dict[str, Any], state: dict[str, torch.Tensor]) -> None:
        self.kinds = list(config["classes"])
        self.layer = torch.nn.Linear(int(config["dim"]), len(self.kinds))
        self.layer.load_state_dict(state)
        self.encoder = TextEncoder(Path(config["encoder"]))

    @classmethod
    def latest(cls, settings: LivecartSettings) -> CommentProbe | None:
        """The latest registered probe, or None before `livecart comments` has run."""
        if not registry.versions(settings, PROBE):
            return None
        record, state = registry.load(settings, PROBE)
        return cls(record.config, state)

    def score(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        vectors = embed_unique(self.encoder, texts)
        with torch.inference_mode():
            probs = torch.softmax(self.layer(torch.as_tensor(vectors)), dim=1).numpy()
        sentiment = probs[:, self.kinds.index("positive")] - probs[:, self.kinds.index("negative")]
        intent = probs[:, self.kinds.index("intent")]
        return sentiment.astype(np.float64), intent.astype(np.float64)


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
        probe = CommentProbe(record.config, state)
        comments["sentiment"], comments["intent"] = probe.score(comments[c.TEXT].tolist())
        con.register("scored", comments)
        table = _aggregate(con, c.ROOM_ID)
        by_streamer = _aggregate(con, c.STREAMER_ID)
    finally:
        con.close()
    _write(table, signals_path(settings))
    _write(by_streamer, streamer_signals_path(settings), STREAMER_SCHEMA)
    return SignalsResult(len(comments), table.num_rows)
