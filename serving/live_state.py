"""Fresh features from accepted events: the same SQL as the offline job, written online.

The event ingest deployment holds the recent events (``horizon_minutes``, loaded from the offline
store at start, so a restart loses nothing) in an in-memory DuckDB table. For each accepted batch it
recomputes the push-fed views for the touched keys only, with the very SQL of
:mod:`livecart.features.sql.realtime` (one definition, so online and offline cannot drift), and
writes the newest row per key of every view of the batch together
(:mod:`livecart.features.online_writer`: one commit on livecart's store, Feast's
``write_to_online_store`` elsewhere). Lifetime affinity totals: :mod:`serving.affinity_totals`.

It also answers "who is in this room now" and "which rooms are live", the state the streamer
endpoint and the live-now filter need; it is one replica because the DuckDB online store has one
writer at a time and these counters need one consistent order of events.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
from feast import FeatureStore

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.errors import LivecartError
from livecart.core.io import event_parts
from livecart.core.settings import LivecartSettings
from livecart.core.stages import Stages
from livecart.features.online_writer import writer_for
from livecart.features.sql.realtime import (
    product_live_stats_sql,
    room_live_stats_sql,
    viewer_behavior_sql,
    viewer_streamer_affinity_sql,
)
from livecart.model.interaction_log import visit_event_types
from serving.affinity_totals import AffinityTotals
from serving.live_comments import KEYS, LiveComments
from serving.offline_events import read_recent_events
from serving.presence import Presence
from serving.visit_push import VisitPush

EVENTS = "recent_events"
HORIZON_MINUTES = 1440
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushedView:
    table: f.FeatureTable
    keys: tuple[str, ...]
    sql: Callable[[], str]


PUSHED: tuple[PushedView, ...] = (
    PushedView(f.FeatureTable.VIEWER_BEHAVIOR, (c.VIEWER_ID,), viewer_behavior_sql),
    PushedView(f.FeatureTable.ROOM_LIVE_STATS, (c.ROOM_ID,), room_live_stats_sql),
    PushedView(f.FeatureTable.PRODUCT_LIVE_STATS, (c.PRODUCT_ID,), product_live_stats_sql),
    PushedView(
        f.FeatureTable.VIEWER_STREAMER_AFFINITY,
        (c.VIEWER_ID, c.STREAMER_ID),
        viewer_streamer_affinity_sql,
    ),
)


def push_source_name(table: f.FeatureTable) -> str:
    return f"{table.value}_push"  # as feature_repo.definitions.sources.push_source names it


class LiveState:
    """Recent events, fresh feature rows and room presence (one instance per ingest replica)."""

    def __init__(
        self,
        settings: LivecartSettings,
        store: FeatureStore,
        horizon_minutes: int = HORIZON_MINUTES,
    ) -> None:
        self.settings, self.store = settings, store
        self.writer = writer_for(store)
        self.horizon = timedelta(minutes=horizon_minutes)
        self._lock = threading.Lock()
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        schema = ", ".join(
            f"{field.name} {_duck_type(field.type)}" for field in c.SCHEMAS[c.Table.EVENTS]
        )
        self.con.execute(f"CREATE TABLE {EVENTS} ({schema})")
        # One cursor per push-fed view: a batch's views are recomputed side by side, each query
        # single-threaded (set after the bootstrap load; 4 views 37 -> 18 ms on the demo world).
        self._cursors = {view.table: self.con.cursor() for view in PUSHED}
        # Each view's query as a relation built once: it reads the recent table and whatever
        # "batch" is registered when it runs, and is planned once a run instead of twice
        # (``cursor.sql`` describes a query before running it): 17.4 -> 14.5 ms for 4 views.
        self._queries: dict[f.FeatureTable, duckdb.DuckDBPyRelation] = {}
        self._pool = ThreadPoolExecutor(len(PUSHED), thread_name_prefix="live-recompute")
        self.totals = AffinityTotals(store)
        # What ``FeatureStore.push`` would write to: the views fed by each push source. Pushing
        # through ``write_to_online_store`` per view is push minus its post-step, which re-reads
        # every feature service from the registry proto (~125 ms a call) to refresh precomputed
        # vectors that no livecart service uses.
        self._push_targets = {
            view.table: [
                fv.name
                for fv in store.list_feature_views(allow_cache=True)
                if fv.stream_source is not None
                and fv.stream_source.name == push_source_name(view.table)
            ]
            for view in PUSHED
        }
        for table in (*KEYS, f.FeatureTable.VIEWER_VISITS, f.FeatureTable.STREAMER_VISITS):
            self._push_targets[table] = [table.value]  # fed by <table>_push, as PushedView
        unfed = [t.value for t, names in self._push_targets.items() if not names]
        if unfed:
            raise LivecartError(
                f"no feature view is fed by the push sources of {unfed}; run `livecart apply`"
            )
        self.comments = LiveComments(settings)
        self.visits = VisitPush(store, visit_event_types(settings))
        self.last_push_at: datetime | None = None
        self.presence = Presence()
        self._presence_pruned = datetime.now(UTC)
        self._bootstrap()
        self.con.execute("SET threads = 1")

    def _bootstrap(self) -> None:
        parts = [str(p) for p in event_parts(self.settings.clean_dir)]
        if not parts:
            return
        recent = read_recent_events(parts, datetime.now(UTC) - self.horizon)
        self.con.register("recent", recent)
        self.con.execute(f"INSERT INTO {EVENTS} BY NAME SELECT * FROM recent")
        self.con.unregister("recent")
        self.presence.add_events(recent)

    @property
    def size(self) -> int:
        # fetchall, not fetchone: DuckDB 2 keeps a result that was not fetched to its end open,
        # and the connection then refuses the next ``register`` (every ingest failed after a
        # health check until some other query ran).
        with self._lock:
            rows = self.con.execute(f"SELECT count(*) FROM {EVENTS}").fetchall()
        return int(rows[0][0]) if rows else 0

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of a read-only query over the recent events (table :data:`EVENTS`)."""
        with self._lock:
            return self.con.execute(sql, list(params)).fetchall()

    def add(self, accepted: pa.Table, stages: Stages | None = None) -> list[str]:
        """Take accepted events in, push the touched keys' fresh rows; the views pushed.

        Every view of the batch goes online in one write (:mod:`livecart.features.online_writer`:
        one commit on livecart's store). A failed push loses nothing: the events are stored
        offline already and stay in the recent table, so the next batch touching these keys
        recomputes their rows."""
        if accepted.num_rows == 0:
            return []
        stages = stages or Stages()
        with self._lock, stages.time("recompute"):
            self.con.register("batch", accepted)
            try:
                self.con.execute(f"INSERT INTO {EVENTS} SELECT * FROM batch")
                self.presence.add_events(accepted)
                self._expire()
                fresh = self._fresh_views(accepted)
            finally:
                self.con.unregister("batch")
            fresh |= self._scored(accepted)
        rows = {
            target: table for view, table in fresh.items() for target in self._push_targets[view]
        }
        with self._lock, stages.time("push"):
            try:
                self.writer.write(rows)
            except Exception as exc:
                log.error("push of %s failed: %s", sorted(rows), exc)
                return []
            self.last_push_at = datetime.now(UTC)
        return [view.value for view in fresh]

    def _fresh_views(self, batch: pa.Table) -> dict[f.FeatureTable, pa.Table]:
        """The touched keys' newest rows of every push-fed view (those with any)."""
        fresh: dict[f.FeatureTable, pa.Table] = {}
        running = [(view, self._pool.submit(self._fresh_rows, view, batch)) for view in PUSHED]
        for view, future in running:
            try:
                rows = future.result()
            except Exception as exc:  # one view's recompute must not cost the others
                log.error("recompute of %s failed: %s", view.table.value, exc)
                continue
            if rows.num_rows:
                fresh[view.table] = rows
        return fresh

    def _scored(self, accepted: pa.Table) -> dict[f.FeatureTable, pa.Table]:
        """Live comment signals and visit rows of the batch (never at the cost of the batch)."""
        scored: dict[f.FeatureTable, pd.DataFrame] = {}
        try:
            scored |= self.comments.add(accepted)
        except Exception as exc:
            log.error("live comment scoring failed: %s", exc)
        try:
            scored |= self.visits.rows(accepted)
        except Exception as exc:
            log.error("visit rows failed: %s", exc)
        return {
            table: pa.Table.from_pandas(rows, preserve_index=False)
            for table, rows in scored.items()
            if len(rows)
        }

    def _expire(self) -> None:
        cutoff = datetime.now(UTC) - self.horizon
        self.con.execute(f"DELETE FROM {EVENTS} WHERE {c.EVENT_TIMESTAMP} < ?", [cutoff])
        if self._presence_pruned < cutoff:  # a pass over everyone present: once a horizon
            self.presence.forget_before(cutoff.timestamp())
            self._presence_pruned = datetime.now(UTC)

    def _fresh_rows(self, view: PushedView, batch: pa.Table) -> pa.Table:
        cursor = self._cursors[view.table]
        cursor.register("batch", batch)
        try:
            if view.table not in self._queries:  # binds "batch": registered first
                self._queries[view.table] = cursor.sql(_fresh_sql(view))
            rows: pa.Table = self._queries[view.table].to_arrow_table()
        finally:
            cursor.unregister("batch")
        if rows.num_rows and view.table is f.FeatureTable.VIEWER_STREAMER_AFFINITY:
            rows = self.totals.add(rows)  # in this view's thread, beside the other queries
        return rows

    def reset_totals(self) -> None:
        """Forget affinity bases and the views read from the registry (after a feature refresh
        re-materialized the totals, or an apply changed views)."""
        with self._lock:
            self.totals.clear()
            self.writer.forget()
            self.visits.clear()

    def live_rooms(self, window_minutes: int | None = None) -> dict[str, int]:
        """Rooms with events in the last ``window_minutes`` -> distinct viewers seen there."""
        since = datetime.now(UTC) - timedelta(
            minutes=window_minutes or self.settings.live_window_minutes
        )
        with self._lock:
            rows = self.con.execute(
                f"SELECT {c.ROOM_ID}, count(DISTINCT {c.VIEWER_ID}) FROM {EVENTS} "
                f"WHERE {c.EVENT_TIMESTAMP} >= ? GROUP BY 1",
                [since],
            ).fetchall()
        return {str(room): int(n) for room, n in rows}

    def audience(self, room_id: str, window_minutes: int | None = None) -> list[str]:
        """Viewers whose latest room entry within the window is ``room_id`` (present now)."""
        since = datetime.now(UTC) - timedelta(
            minutes=window_minutes or self.settings.live_window_minutes
        )
        return self.presence.audience(room_id, since.timestamp())

    def room_activity(self, room_id: str, minutes: int = 5) -> dict[str, int]:
        """Counts of each event type in ``room_id`` over the last ``minutes``."""
        since = datetime.now(UTC) - timedelta(minutes=minutes)
        with self._lock:
            rows = self.con.execute(
                f"SELECT {c.EVENT_TYPE}, count(*) FROM {EVENTS} WHERE {c.ROOM_ID} = ? "
                f"AND {c.EVENT_TIMESTAMP} >= ? GROUP BY 1",
                [room_id, since],
            ).fetchall()
        return {str(kind): int(n) for kind, n in rows}

    def recent_comments(self, room_id: str, limit: int = 20) -> list[str]:
        with self._lock:
            rows = self.con.execute(
                f"SELECT {c.TEXT} FROM {EVENTS} WHERE {c.ROOM_ID} = ? AND {c.EVENT_TYPE} = 'comment' "
                f"AND {c.TEXT} IS NOT NULL ORDER BY {c.EVENT_TIMESTAMP} DESC LIMIT ?",
                [room_id, limit],
            ).fetchall()
        return [str(t) for (t,) in rows]


def _fresh_sql(view: PushedView) -> str:
    """The newest row of ``view`` for every key the registered ``batch`` touches."""
    keys = ", ".join(view.keys)
    touched = f"SELECT DISTINCT {keys} FROM batch WHERE " + " AND ".join(
        f"{k} IS NOT NULL" for k in view.keys
    )
    return f"""
    WITH ev AS (
        SELECT e.* FROM {EVENTS} e SEMI JOIN ({touched}) t USING ({keys})
    )
    SELECT * FROM ({view.sql()})
    QUALIFY row_number() OVER (PARTITION BY {keys}
                               ORDER BY {c.EVENT_TIMESTAMP} DESC) = 1
    """


def _duck_type(arrow: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow):
        return "TIMESTAMPTZ"
    if pa.types.is_floating(arrow):
        return "DOUBLE"
    return "VARCHAR"
