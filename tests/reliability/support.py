"""Helpers of the reliability suite: valid events, replica lookup, offline and online truth."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd
import ray
from feast import FeatureStore

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.settings import LivecartSettings
from livecart.features.sql.realtime import product_live_stats_sql, viewer_behavior_sql

VIEWER_COUNTS = (*f.BEHAVIOR_EVENT_COUNTS, f.CLICKS_30M)
PRODUCT_COUNTS = f.PRODUCT_LIVE_COUNTS
HORIZON = timedelta(minutes=1440)  # LiveState's default: what the ingest replica holds


def valid_event(
    rng: random.Random,
    event_id: str,
    viewers: Sequence[str],
    rooms: Sequence[tuple[str, str, list[str]]],
    at: datetime | None = None,
) -> dict[str, Any]:
    """One event that satisfies the contract and every GX rule (known ids, sane values)."""
    room, streamer, products = rng.choice(list(rooms))
    kind = rng.choice(c.EVENT_TYPES)
    event: dict[str, Any] = {
        c.EVENT_ID: event_id,
        c.EVENT_TYPE: kind,
        c.EVENT_TIMESTAMP: (at or datetime.now(UTC)).isoformat(),
        c.VIEWER_ID: rng.choice(list(viewers)),
        c.ROOM_ID: room,
        c.STREAMER_ID: streamer,
    }
    if kind in c.PRODUCT_EVENT_TYPES or (kind == c.EventType.IMPRESSION and rng.random() < 0.8):
        event[c.PRODUCT_ID] = rng.choice(products)
    if kind == c.EventType.PURCHASE:
        event[c.AMOUNT] = round(rng.uniform(1, 200), 2)
    elif kind == c.EventType.WATCH:
        event[c.WATCH_SECONDS] = rng.randint(0, 600)
    elif kind == c.EventType.GIFT:
        event[c.GIFT_VALUE] = round(rng.uniform(0, 50), 2)
    elif kind == c.EventType.COMMENT:
        event[c.TEXT] = rng.choice(["love it", "how much?", "ship to Lyon?", "好看！", "😍 want"])
    return event


def offline_events(settings: LivecartSettings) -> pd.DataFrame:
    """Every event in the offline store (all Parquet parts under clean/events)."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        frame: pd.DataFrame = con.execute(
            "SELECT * FROM read_parquet(?, union_by_name = true)",
            [f"{settings.clean_dir}/events/part-*.parquet"],
        ).df()
    finally:
        con.close()
    return frame


def offline_ids(settings: LivecartSettings) -> dict[str, int]:
    """Event id -> number of stored copies in the offline store."""
    counts = offline_events(settings)[c.EVENT_ID].value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def expected_online(
    settings: LivecartSettings, viewers: Iterable[str], products: Iterable[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the online store must hold for these keys, recomputed from the offline store.

    The same SQL as the ingest replica (livecart.features.sql.realtime), over the offline events
    of the ingest replica's horizon, newest row per key.
    """
    since = datetime.now(UTC) - HORIZON + timedelta(minutes=1)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            "CREATE TABLE ev AS SELECT * FROM read_parquet(?, union_by_name = true) "
            f"WHERE {c.EVENT_TIMESTAMP} >= ?",
            [f"{settings.clean_dir}/events/part-*.parquet", since],
        )
        out = []
        for sql, key, wanted in (
            (viewer_behavior_sql(), c.VIEWER_ID, sorted(set(viewers))),
            (product_live_stats_sql(), c.PRODUCT_ID, sorted(set(products))),
        ):
            frame: pd.DataFrame = con.execute(
                f"SELECT * FROM ({sql}) WHERE {key} IN (SELECT unnest(?)) "
                f"QUALIFY row_number() OVER (PARTITION BY {key} "
                f"ORDER BY {c.EVENT_TIMESTAMP} DESC) = 1",
                [wanted],
            ).df()
            out.append(frame.set_index(key))
    finally:
        con.close()
    return out[0], out[1]


def online_values(
    settings: LivecartSettings, viewers: Sequence[str], products: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The push-fed counters as Feast serves them now, for these keys."""
    store = FeatureStore(repo_path=str(settings.feature_repo))

    def read(view: f.FeatureTable, names: Sequence[str], key: str, keys: Sequence[str]) -> Any:
        if not keys:
            return pd.DataFrame(columns=[key, *names]).set_index(key)
        return (
            store.get_online_features(
                features=[f"{view.value}:{n}" for n in names],
                entity_rows=[{key: k} for k in keys],
            )
            .to_df()
            .set_index(key)
        )

    return (
        read(f.FeatureTable.VIEWER_BEHAVIOR, VIEWER_COUNTS, c.VIEWER_ID, viewers),
        read(f.FeatureTable.PRODUCT_LIVE_STATS, PRODUCT_COUNTS, c.PRODUCT_ID, products),
    )


def online_mismatches(
    settings: LivecartSettings, viewers: Iterable[str], products: Iterable[str]
) -> list[str]:
    """Keys whose online counters differ from what the offline events imply (empty: all equal)."""
    want_v, want_p = expected_online(settings, viewers, products)
    have_v, have_p = online_values(settings, list(want_v.index), list(want_p.index))
    problems = []
    for want, have, columns in ((want_v, have_v, VIEWER_COUNTS), (want_p, have_p, PRODUCT_COUNTS)):
        for key in want.index:
            for column in columns:
                expected, got = want.at[key, column], have.at[key, column]
                if pd.isna(got) or int(got) != int(expected):
                    problems.append(f"{key}.{column}: online {got}, offline implies {expected}")
    return problems


def replicas(deployment: str, app: str = "livecart") -> list[str]:
    """Names of the live replica actors of a Serve deployment (namespace 'serve')."""
    prefix = f"SERVE_REPLICA::{app}#{deployment}#"
    return sorted(
        a["name"]
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a["namespace"] == "serve" and a["name"].startswith(prefix)
    )


def kill_replica(name: str) -> None:
    ray.kill(ray.get_actor(name, namespace="serve"), no_restart=True)


def wait_running(deployment: str, replicas_wanted: int, timeout_s: float = 180.0) -> float:
    """Seconds until Serve reports ``replicas_wanted`` RUNNING replicas of ``deployment``."""
    from ray import serve

    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        status = serve.status().applications["livecart"].deployments[deployment]
        if (
            status.replica_states.get("RUNNING", 0) >= replicas_wanted
            and status.status == "HEALTHY"
        ):
            return time.monotonic() - began
        time.sleep(0.5)
    raise AssertionError(f"{deployment}: not {replicas_wanted} running replicas in {timeout_s} s")
