"""Live comment signals: each accepted comment scored by the registered probe as it arrives.

The same probe and the same 5-minute aggregation as the batch job
(:mod:`livecart.model.comment_signals`), so ``room_comment_signals`` and ``streamer_comment_signals``
move while a room is live instead of waiting for ``livecart comments``. Without a registered
probe (before ``livecart comments`` has run) there are no live signals, and nothing fails.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd
import pyarrow as pa

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.settings import LivecartSettings
from livecart.model.comment_signals import CommentProbe, aggregate_sql

log = logging.getLogger(__name__)
KEYS: dict[f.FeatureTable, str] = {
    f.FeatureTable.ROOM_COMMENT_SIGNALS: c.ROOM_ID,
    f.FeatureTable.STREAMER_COMMENT_SIGNALS: c.STREAMER_ID,
}
KEEP = timedelta(minutes=2 * f.ROOM_BUCKET_MINUTES)


class LiveComments:
    """Scored recent comments (one in-memory table) and their current-bucket aggregates."""

    def __init__(self, settings: LivecartSettings) -> None:
        try:
            self.probe = CommentProbe.latest(settings)
        except Exception as exc:  # a broken probe must not stop event intake
            log.error("comment probe unavailable, no live comment signals: %s", exc)
            self.probe = None
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(
            f"CREATE TABLE scored ({c.ROOM_ID} VARCHAR, {c.STREAMER_ID} VARCHAR, "
            f"{c.EVENT_TIMESTAMP} TIMESTAMPTZ, sentiment DOUBLE, intent DOUBLE)"
        )

    def add(self, accepted: pa.Table) -> dict[f.FeatureTable, pd.DataFrame]:
        """Score the batch's comments; the fresh rows per signals view for the touched keys."""
        if self.probe is None:
            return {}
        kinds = accepted.column(c.EVENT_TYPE).to_pylist()
        texts = accepted.column(c.TEXT).to_pylist()
        rows = [
            i for i, (k, t) in enumerate(zip(kinds, texts, strict=True)) if k == "comment" and t
        ]
        if not rows:
            return {}
        comments = accepted.take(pa.array(rows, pa.int64())).to_pandas()
        sentiment, intent = self.probe.score([str(t) for t in comments[c.TEXT]])
        scored = comments[[c.ROOM_ID, c.STREAMER_ID, c.EVENT_TIMESTAMP]].assign(
            sentiment=sentiment, intent=intent
        )
        self.con.register("new_scores", scored)
        self.con.execute("INSERT INTO scored SELECT * FROM new_scores")
        self.con.unregister("new_scores")
        self.con.execute(
            f"DELETE FROM scored WHERE {c.EVENT_TIMESTAMP} < ?", [datetime.now(UTC) - KEEP]
        )
        out: dict[f.FeatureTable, pd.DataFrame] = {}
        for table, key in KEYS.items():
            touched = sorted({str(k) for k in scored[key] if k is not None})
            frame: pd.DataFrame = self.con.execute(
                f"""
                SELECT * FROM ({aggregate_sql(key)}) WHERE {key} IN (SELECT unnest(?::VARCHAR[]))
                QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {c.EVENT_TIMESTAMP} DESC) = 1
                """,
                [touched],
            ).df()
            if not frame.empty:
                out[table] = frame
        return out
