"""The DuckDB feature SQL on hand-made logs: exact values and the strictly-before property."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.conform import conform
from livecart.core.io import write_source as _write_raw
from livecart.core.settings import LivecartSettings
from ray_jobs.features import feature_path, run

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def write_source(directory: Path, table: c.Table, data: pa.Table) -> None:
    """Write a hand-made table the way validation does: conformed to the contract."""
    _write_raw(directory, table, conform(data, table, f"test {table.value}"))


def _write_world(settings: LivecartSettings, events: list[dict[str, object]]) -> None:
    d = settings.clean_dir
    write_source(
        d,
        c.Table.VIEWERS,
        pa.table(
            {c.VIEWER_ID: ["v1", "v2"], c.SIGNUP_TIMESTAMP: [T0 - timedelta(days=30)] * 2},
        ),
    )
    write_source(
        d,
        c.Table.STREAMERS,
        pa.table(
            {
                c.STREAMER_ID: ["s1"],
                c.DISPLAY_NAME: ["Ana"],
                c.MAIN_CATEGORY: ["beauty"],
                c.FOLLOWER_COUNT: [10],
            }
        ),
    )
    write_source(
        d,
        c.Table.ROOMS,
        pa.table(
            {
                c.ROOM_ID: ["r1"],
                c.STREAMER_ID: ["s1"],
                c.TITLE: ["Ana live"],
                c.CATEGORY: ["beauty"],
                c.START_TIMESTAMP: [T0 - timedelta(hours=1)],
                c.END_TIMESTAMP: [T0 + timedelta(days=3)],
            }
        ),
    )
    write_source(
        d,
        c.Table.PRODUCTS,
        pa.table(
            {
                c.PRODUCT_ID: ["p1", "p2"],
                c.STREAMER_ID: ["s1", "s1"],
                c.TITLE: ["lipstick", "serum"],
                c.DESCRIPTION: ["a", "b"],
                c.CATEGORY: ["beauty", "beauty"],
                c.BRAND: ["X", "X"],
                c.PRICE: [10.0, 20.0],
                c.RATING: [4.0, 4.5],
                c.STOCK: [5, 5],
            }
        ),
    )
    base: dict[str, object] = {
        c.ROOM_ID: "r1",
        c.STREAMER_ID: "s1",
        c.PRODUCT_ID: None,
        c.WATCH_SECONDS: None,
        c.AMOUNT: None,
        c.GIFT_VALUE: None,
        c.TEXT: None,
    }
    rows = [{**base, c.EVENT_ID: f"e{i}", **e} for i, e in enumerate(events)]
    table = pa.Table.from_pylist(rows, schema=c.SCHEMAS[c.Table.EVENTS])
    write_source(d, c.Table.EVENTS, table)


def _ev(kind: str, at: datetime, viewer: str = "v1", **extra: object) -> dict[str, object]:
    return {c.EVENT_TYPE: kind, c.EVENT_TIMESTAMP: at, c.VIEWER_ID: viewer, **extra}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> LivecartSettings:
    """The hand-made log and its feature tables, built once: the tests below only read them."""
    settings = LivecartSettings(home=tmp_path_factory.mktemp("feature_sql") / "home")
    _write_world(
        settings,
        [
            _ev("enter_room", T0),
            _ev("impression", T0 + timedelta(seconds=10), product_id="p1"),
            _ev("click", T0 + timedelta(seconds=20), product_id="p1"),
            _ev("add_to_cart", T0 + timedelta(seconds=30), product_id="p1"),
            _ev("purchase", T0 + timedelta(seconds=40), product_id="p1", amount=10.0),
            _ev("like", T0 + timedelta(minutes=10)),
            _ev("purchase", T0 + timedelta(days=1), product_id="p1", amount=30.0),
            _ev("enter_room", T0 + timedelta(minutes=3), viewer="v2"),
        ],
    )
    run(settings)
    return settings


def _read(settings: LivecartSettings, table: f.FeatureTable) -> pd.DataFrame:
    return pq.read_table(feature_path(settings, table)).to_pandas()


def test_behavior__windows__count_events_up_to_row_time(built: LivecartSettings) -> None:
    rows = _read(built, f.FeatureTable.VIEWER_BEHAVIOR).query("viewer_id == 'v1'")
    rows = rows.set_index(c.EVENT_TIMESTAMP).sort_index()
    after_purchase = rows.loc[pd.Timestamp(T0 + timedelta(seconds=40, microseconds=1))]
    assert after_purchase["events_1m"] == 5
    assert after_purchase[f.PURCHASES_1440M] == 1
    assert list(after_purchase[f.LAST_PRODUCTS]) == ["p1"]
    after_like = rows.loc[pd.Timestamp(T0 + timedelta(minutes=10, microseconds=1))]
    assert after_like["events_1m"] == 1 and after_like["events_30m"] == 6
    assert list(after_like[f.LAST_ROOMS]) == ["r1"]


def test_viewer_profile__daily_snapshot__only_earlier_days(built: LivecartSettings) -> None:
    rows = _read(built, f.FeatureTable.VIEWER_PROFILE).query("viewer_id == 'v1'")
    by_time = rows.set_index(c.EVENT_TIMESTAMP).sort_index()
    assert by_time[f.VIEWER_SPEND_TOTAL].tolist() == [0.0, 10.0, 40.0]
    midnight = pd.Timestamp(datetime(2026, 3, 3, tzinfo=UTC))
    assert by_time.loc[midnight, f.VIEWER_AVG_ORDER_VALUE] == 10.0
    affinity = np.array(by_time.loc[midnight, f.VIEWER_CATEGORY_AFFINITY])
    assert affinity[c.CATEGORIES.index("beauty")] == pytest.approx(1.0)
    assert by_time.loc[midnight, f.VIEWER_TOP_CATEGORY] == "beauty"


def test_product_profile__unseen_product__has_catalog_base_row(built: LivecartSettings) -> None:
    rows = _read(built, f.FeatureTable.PRODUCT_PROFILE)
    p2 = rows.query("product_id == 'p2'")
    assert len(p2) == 1 and p2[f.PRODUCT_IMPRESSIONS].item() == 0
    assert p2[f.PRODUCT_CTR].item() == pytest.approx(f.PRIOR_HITS / f.PRIOR_TRIALS)
    p1_day2 = rows.query("product_id == 'p1'").sort_values(c.EVENT_TIMESTAMP).iloc[1]
    assert p1_day2[f.PRODUCT_CLICKS] == 1 and p1_day2[f.PRODUCT_PURCHASES] == 1


def test_affinity__row_includes_only_earlier_interactions(built: LivecartSettings) -> None:
    rows = _read(built, f.FeatureTable.VIEWER_STREAMER_AFFINITY).query("viewer_id == 'v1'")
    first = rows.sort_values(c.EVENT_TIMESTAMP).iloc[0]
    assert first[c.EVENT_TIMESTAMP] == pd.Timestamp(T0 + timedelta(microseconds=1))
    assert first[f.VS_ENTERS] == 1 and first[f.VS_PURCHASES] == 0
    assert rows[f.VS_PURCHASES].max() == 2


def test_behavior__random_log__matches_brute_force(settings: LivecartSettings) -> None:
    rng = np.random.default_rng(4)
    offsets = np.sort(rng.uniform(0, 3 * 3600, size=300))
    viewers = rng.choice(["v1", "v2"], size=offsets.size)
    events = [
        _ev("like", T0 + timedelta(seconds=float(s)), viewer=str(v))
        for s, v in zip(offsets, viewers, strict=True)
    ]
    _write_world(settings, events)
    run(settings, tables=(f.FeatureTable.VIEWER_BEHAVIOR,))
    rows = _read(settings, f.FeatureTable.VIEWER_BEHAVIOR)
    log = pd.DataFrame({"viewer": viewers, "t": [e[c.EVENT_TIMESTAMP] for e in events]})
    log["t"] = pd.to_datetime(log["t"], utc=True)
    for row in rows.sample(60, random_state=0).itertuples():
        mine = log[log.viewer == row.viewer_id].t
        at = row.event_timestamp
        expected_5m = ((mine < at) & (mine >= at - pd.Timedelta(minutes=5, microseconds=1))).sum()
        assert row.events_5m == expected_5m
