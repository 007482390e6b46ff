"""`livecart features`: point-in-time feature tables from the clean event log, with DuckDB SQL.

Each table is written to ``<home>/features/<table>.parquet`` through a temporary file and an
atomic rename, so Feast never reads half a table. Every row holds state strictly before its
timestamp (see livecart/features/sql/base.py), the property the leakage test checks.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
from tqdm import tqdm

from livecart.core import contract as c
from livecart.core.errors import StageError
from livecart.core.feature_names import FeatureTable
from livecart.core.io import source_exists
from livecart.core.settings import LivecartSettings
from livecart.features.sql.base import connect, q, world_start
from livecart.features.sql.profiles import (
    product_profile_sql,
    room_profile_sql,
    viewer_interest_sql,
    viewer_profile_sql,
)
from livecart.features.sql.realtime import (
    product_live_stats_sql,
    room_live_stats_sql,
    viewer_behavior_sql,
    viewer_streamer_affinity_sql,
)
from livecart.features.sql.visits import streamer_visits_sql, viewer_visits_sql
from livecart.model.comment_signals import ensure_signals_table
from livecart.model.interaction_log import visit_event_types
from ray_jobs.embed import ensure_embedding_tables
from ray_jobs.item_graph import ensure_graph_table
from ray_jobs.segments import run as segment_viewers
from validation.feature_gate import check_feature_tables
from validation.feature_suites import FeatureSuiteReport


@dataclass(frozen=True)
class FeaturesResult:
    rows: dict[str, int]
    seconds: dict[str, float]
    directory: Path
    checks: FeatureSuiteReport | None


def feature_path(settings: LivecartSettings, table: FeatureTable) -> Path:
    return settings.feature_table_path(table)


def _queries(
    con: duckdb.DuckDBPyConnection, settings: LivecartSettings
) -> dict[FeatureTable, Callable[[], str]]:
    visits = visit_event_types(settings)
    return {
        FeatureTable.VIEWER_PROFILE: lambda: viewer_profile_sql(c.CATEGORIES),
        FeatureTable.PRODUCT_PROFILE: lambda: product_profile_sql(world_start(con)),
        FeatureTable.ROOM_PROFILE: room_profile_sql,
        FeatureTable.VIEWER_INTEREST: viewer_interest_sql,
        FeatureTable.ROOM_LIVE_STATS: room_live_stats_sql,
        FeatureTable.VIEWER_BEHAVIOR: viewer_behavior_sql,
        FeatureTable.VIEWER_STREAMER_AFFINITY: viewer_streamer_affinity_sql,
        FeatureTable.PRODUCT_LIVE_STATS: product_live_stats_sql,
        FeatureTable.VIEWER_VISITS: lambda: viewer_visits_sql(visits),
        FeatureTable.STREAMER_VISITS: lambda: streamer_visits_sql(visits),
    }


def _copy(con: duckdb.DuckDBPyConnection, sql: str, target: Path) -> int:
    tmp = target.with_name(f".{target.name}.tmp")
    con.execute(f"COPY ({sql}) TO {q(tmp)} (FORMAT parquet, COMPRESSION zstd)")
    os.replace(tmp, target)
    row = con.execute(f"SELECT count(*) FROM read_parquet({q(target)})").fetchone()
    return int(row[0]) if row else 0


def run(
    settings: LivecartSettings, tables: tuple[FeatureTable, ...] | None = None, check: bool = True
) -> FeaturesResult:
    """Build the feature tables from ``settings.clean_dir``, then gate them with their GX suites.

    A failing suite raises FeatureGateBlocked (the tables stay on disk for inspection).
    """
    for required in (c.Table.EVENTS, c.Table.VIEWERS, c.Table.ROOMS, c.Table.STREAMERS):
        if not source_exists(settings.clean_dir, required):
            raise StageError(
                "features",
                f"no clean {required.value} under {settings.clean_dir}",
                "run `livecart generate` (or `livecart ingest ...`) and then `livecart validate`",
            )
    settings.features_dir.mkdir(parents=True, exist_ok=True)
    con = connect(settings.clean_dir, temp_dir=settings.home / "tmp")
    queries = _queries(con, settings)
    selected = tables or tuple(queries)
    rows: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for table in tqdm(selected, desc="feature tables", unit="table", leave=False):
        started = time.perf_counter()
        rows[table.value] = _copy(con, queries[table](), feature_path(settings, table))
        seconds[table.value] = round(time.perf_counter() - started, 3)
    con.close()
    ensure_embedding_tables(settings)
    ensure_signals_table(settings)
    ensure_graph_table(settings)
    checked = tuple(selected)
    if FeatureTable.VIEWER_PROFILE in selected:
        rows[FeatureTable.VIEWER_SEGMENT.value] = segment_viewers(settings).viewers
        checked = (*checked, FeatureTable.VIEWER_SEGMENT)
    checks = check_feature_tables(settings, tables=checked) if check else None
    return FeaturesResult(rows, seconds, settings.features_dir, checks)
