"""The room signals serving computes from visit rows equal the batch sweep on the same log.

The rows come from the real feature SQL (``livecart/features/sql/visits.py``) run by DuckDB, read
as of the end of a unit (the latest row per key at or before it), the way a point-in-time read or
the online store hands them to a replica.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.features.sql.visits import streamer_visits_sql, viewer_visits_sql
from livecart.model.interaction_log import from_arrays
from livecart.model.room_signals import (
    FeatureConfig,
    History,
    ItemCooccurrence,
    LiveContext,
    user_features,
)
from livecart.model.visit_signals import StreamerVisits, candidate_signals
from serving.visit_push import VisitPush

UNIT_US = f.VISIT_UNIT_SECONDS * 1_000_000


@pytest.fixture(scope="module")
def visits() -> pd.DataFrame:
    """Viewers with favourite streamers, over 2,500 units (longer than the week-old windows),
    several visits sharing units, exact times spread inside each unit."""
    rng = np.random.default_rng(5)
    n = 3000
    users = rng.integers(0, 25, n)
    favourites = rng.integers(0, 40, (25, 3))
    items = np.where(
        rng.random(n) < 0.6, favourites[users, rng.integers(0, 3, n)], rng.integers(0, 40, n)
    )
    units = np.sort(rng.integers(0, 2500, n))
    micros = units * UNIT_US + rng.integers(0, UNIT_US, n)
    frame = (
        pd.DataFrame(
            {
                c.VIEWER_ID: [f"v{u:02d}" for u in users],
                c.STREAMER_ID: [f"s{i:02d}" for i in items],
                c.EVENT_TYPE: "enter_room",
                "micros": micros,
            }
        )
        .sort_values("micros", kind="stable")
        .reset_index(drop=True)
    )
    frame[c.EVENT_ID] = [f"e{i:06d}" for i in range(n)]
    frame[c.EVENT_TIMESTAMP] = pd.to_datetime(frame["micros"], unit="us", utc=True)
    return frame


def _rows(frame: pd.DataFrame, sql: str) -> pd.DataFrame:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("ev_frame", frame.drop(columns=["micros"]))
    con.execute("CREATE VIEW ev AS SELECT * FROM ev_frame")
    return con.execute(sql).df()


def _as_of(rows: pd.DataFrame, key: str, end: pd.Timestamp) -> dict[str, pd.Series]:
    seen = rows[rows[c.EVENT_TIMESTAMP] <= end].sort_values(c.EVENT_TIMESTAMP)
    return {k: g.iloc[-1] for k, g in seen.groupby(key)}


@pytest.mark.parametrize("include_current", [True, False])
def test_candidate_signals__rows_as_of_a_unit__equal_the_sweep(
    visits: pd.DataFrame, include_current: bool
) -> None:
    cfg = FeatureConfig(include_current=include_current)
    log = from_arrays(visits[c.VIEWER_ID], visits[c.STREAMER_ID], visits["micros"] // UNIT_US)
    cooccurrence = ItemCooccurrence(log)
    streamer_rows = _rows(visits, streamer_visits_sql(["enter_room"]))
    viewer_rows = _rows(visits, viewer_visits_sql(["enter_room"]))
    rng = np.random.default_rng(1)
    picks = rng.choice(len(log), 12, replace=False)
    users, times = log.users[picks], log.times[picks]
    context = LiveContext(log, cfg).features(users, times)
    for q, (user, t) in enumerate(zip(users.tolist(), times.tolist(), strict=True)):
        mine = log.user_rows(user)
        mine = mine[log.times[mine] <= t]
        history = History(log.items[mine], log.times[mine])
        expected = np.concatenate(
            [user_features(history, t, log.n_items, cfg, cooccurrence), context[q]], axis=1
        )
        end = pd.Timestamp((t + 1) * UNIT_US - 1, unit="us", tz="UTC")
        streamers = _as_of(streamer_rows, c.STREAMER_ID, end)
        viewer = _as_of(viewer_rows, c.VIEWER_ID, end)[log.user_ids[user]]
        rows = [
            StreamerVisits(
                np.asarray(r[f.STREAMER_VISIT_UNITS], np.int64),
                np.asarray(r[f.STREAMER_VISIT_COUNTS], np.int64),
                int(r[f.STREAMER_VISITS_TOTAL]),
                int(r[f.STREAMER_PREVIOUS_UNIT]),
            )
            if (r := streamers.get(s)) is not None
            else None
            for s in log.item_ids
        ]
        got = candidate_signals(
            list(viewer[f.VISIT_STREAMERS]),
            np.asarray(viewer[f.VISIT_UNITS], np.int64),
            log.item_ids,
            rows,
            t,
            cfg,
            log.item_ids,
            cooccurrence,
        )
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9, err_msg=f"query {q}")


def test_candidate_signals__streamers_the_model_never_saw__repeat_counted_no_similarity() -> None:
    cfg = FeatureConfig()
    log = from_arrays(["a", "a", "b"], ["s1", "s2", "s1"], [1, 2, 3])
    got = candidate_signals(
        ["s1", "new"],
        np.array([1, 4]),
        ["new", "s2"],
        [None, None],
        5,
        cfg,
        log.item_ids,
        ItemCooccurrence(log),
    )
    names = cfg.names()
    assert got[0, names.index("log_count")] == pytest.approx(np.log1p(1))
    assert got[0, names.index("cf_similarity")] == pytest.approx(0.0)
    assert np.isfinite(got).all()


class _SeededPush(VisitPush):
    """Event ingest's visit rows, its first-touch read answered by rows the SQL built."""

    def __init__(self, base: dict[str, dict[str, pd.Series]]) -> None:
        super().__init__(store=None, event_types=["enter_room"])  # type: ignore[arg-type]
        self.base = base

    def _online(self, table, key, ids, names):  # type: ignore[no-untyped-def]
        rows = self.base[key]
        return {n: [rows[i][n] if i in rows else None for i in ids] for n in names}


def test_visit_push__batches_on_materialized_rows__equal_the_sql_on_all_events(
    visits: pd.DataFrame,
) -> None:
    cut = len(visits) // 2
    first, rest = visits.iloc[:cut], visits.iloc[cut:]
    after = pd.Timedelta(microseconds=1)  # rows are stamped just after their last visit
    end_first = first[c.EVENT_TIMESTAMP].max() + after
    base = {
        c.VIEWER_ID: _as_of(
            _rows(first, viewer_visits_sql(["enter_room"])), c.VIEWER_ID, end_first
        ),
        c.STREAMER_ID: _as_of(
            _rows(first, streamer_visits_sql(["enter_room"])), c.STREAMER_ID, end_first
        ),
    }
    push = _SeededPush(base)
    pushed: dict[f.FeatureTable, pd.DataFrame] = {}
    for start in range(0, len(rest), 97):  # batches as event ingest accepts them
        batch = pa.Table.from_pandas(rest.iloc[start : start + 97].drop(columns=["micros"]))
        for table, rows in push.rows(batch).items():
            pushed[table] = pd.concat([pushed.get(table), rows]).drop_duplicates(
                subset=[rows.columns[0]], keep="last"
            )
    end = visits[c.EVENT_TIMESTAMP].max() + after
    want_streamers = _as_of(_rows(visits, streamer_visits_sql(["enter_room"])), c.STREAMER_ID, end)
    got = pushed[f.FeatureTable.STREAMER_VISITS].set_index(c.STREAMER_ID)
    for streamer, row in got.iterrows():
        want = want_streamers[streamer]
        assert list(row[f.STREAMER_VISIT_UNITS]) == list(want[f.STREAMER_VISIT_UNITS])
        assert list(row[f.STREAMER_VISIT_COUNTS]) == list(want[f.STREAMER_VISIT_COUNTS])
        assert row[f.STREAMER_VISITS_TOTAL] == want[f.STREAMER_VISITS_TOTAL]
        assert row[f.STREAMER_PREVIOUS_UNIT] == want[f.STREAMER_PREVIOUS_UNIT]
        assert row[c.EVENT_TIMESTAMP] == want[c.EVENT_TIMESTAMP]
    want_viewers = _as_of(_rows(visits, viewer_visits_sql(["enter_room"])), c.VIEWER_ID, end)
    got = pushed[f.FeatureTable.VIEWER_VISITS].set_index(c.VIEWER_ID)
    for viewer, row in got.iterrows():
        assert list(row[f.VISIT_STREAMERS]) == list(want_viewers[viewer][f.VISIT_STREAMERS])
        assert list(row[f.VISIT_UNITS]) == list(want_viewers[viewer][f.VISIT_UNITS])
    assert len(got) > 10
