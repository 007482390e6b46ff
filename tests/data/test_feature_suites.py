"""The feature gate on real feature tables: a clean tiny world passes; every corruption blocks.

The corruption tests copy one set of real feature tables (built once per module from the tiny
world) into their own ``settings`` home, break one value and expect :class:`GateBlocked` to name the
table, the column and the rule. Building the tables once keeps this file fast.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from livecart.core.contract import EVENT_TIMESTAMP, STREAMER_ID, VIEWER_ID
from livecart.core.errors import GateBlocked, StageError
from livecart.core.feature_names import (
    EMBEDDING_TABLES,
    ENTITY_KEYS,
    LAST_ITEMS,
    LAST_ROOMS,
    PRODUCT_CONVERSION,
    ROOM_COMMENTS_5M,
    VIEWER_CATEGORY_AFFINITY,
    VIEWER_CTR,
    FeatureTable,
)
from livecart.core.settings import LivecartSettings
from livecart.simulation.generate import GenerateResult
from livecart.simulation.generate import run as generate
from livecart.simulation.world.config import WorldConfig
from ray_jobs.features import run as build_features
from validation.docs import data_docs_dir
from validation.feature_gate import (
    check_feature_tables,
    feature_table_path,
    features_docs_dir,
    print_feature_summary,
)
from validation.feature_suites import FeatureGateBlocked, FeatureSuiteReport
from validation.run import run as validate

pytestmark = pytest.mark.data

NOW = datetime.now(UTC)
Corrupt = Callable[[pa.Table], pa.Table]


@pytest.fixture(scope="module")
def built_features(tmp_path_factory: pytest.TempPathFactory, tiny_config: WorldConfig) -> Path:
    """Real feature tables of the tiny world, built once; tests copy them before breaking one."""
    built = LivecartSettings(home=tmp_path_factory.mktemp("features_home"))
    generate(tiny_config, built, use_ray=False)
    validate(built)
    build_features(built)
    return built.features_dir


@pytest.fixture
def features(settings: LivecartSettings, built_features: Path) -> LivecartSettings:
    """``settings`` whose features directory holds a fresh copy of the real tables."""
    shutil.copytree(built_features, settings.features_dir)
    return settings


def set_value(column: str, value: object, row: int = 0) -> Corrupt:
    """A corruption that writes ``value`` into ``column`` at ``row`` (keeping the column type)."""

    def apply(data: pa.Table) -> pa.Table:
        index = data.schema.get_field_index(column)
        values = data.column(column).to_pylist()
        values[row] = value
        kind = data.schema.field(index).type
        return data.set_column(index, pa.field(column, kind), pa.array(values, kind))

    return apply


def duplicate_row(row: int = 0) -> Corrupt:
    """A corruption that appends a copy of ``row`` (same entity keys and timestamp)."""
    return lambda data: pa.concat_tables([data, data.slice(row, 1)])


def rewrite(settings: LivecartSettings, table: FeatureTable, corrupt: Corrupt) -> None:
    path = feature_table_path(settings, table)
    pq.write_table(corrupt(pq.read_table(path)), path)


def blocked(settings: LivecartSettings, table: FeatureTable, **kwargs: object) -> GateBlocked:
    """Run the gate on ``table`` and return the GateBlocked it must raise."""
    with pytest.raises(GateBlocked) as caught:
        check_feature_tables(settings, [table], now=NOW, **kwargs)  # type: ignore[arg-type]
    return caught.value


@dataclass(frozen=True)
class Case:
    table: FeatureTable
    column: str
    rule: str
    observed: str
    corrupt: Corrupt


KEYS_BEHAVIOR = ", ".join((*ENTITY_KEYS[FeatureTable.VIEWER_BEHAVIOR], EVENT_TIMESTAMP))
CASES: dict[str, Case] = {
    "ctr_above_one": Case(
        FeatureTable.VIEWER_PROFILE,
        VIEWER_CTR,
        "within [0, 1]",
        "e.g. 1.7",
        set_value(VIEWER_CTR, 1.7),
    ),
    "conversion_above_one": Case(
        FeatureTable.PRODUCT_PROFILE,
        PRODUCT_CONVERSION,
        "within [0, 1]",
        "e.g. 2.5",
        set_value(PRODUCT_CONVERSION, 2.5),
    ),
    "negative_count": Case(
        FeatureTable.ROOM_LIVE_STATS,
        ROOM_COMMENTS_5M,
        ">= 0",
        "e.g. -3",
        set_value(ROOM_COMMENTS_5M, -3),
    ),
    "duplicated_key_and_timestamp": Case(
        FeatureTable.VIEWER_BEHAVIOR,
        KEYS_BEHAVIOR,
        f"unique ({KEYS_BEHAVIOR}) over the whole file",
        "1 duplicate rows",
        duplicate_row(),
    ),
    "null_key": Case(
        FeatureTable.VIEWER_STREAMER_AFFINITY,
        STREAMER_ID,
        "not null",
        "1 of",
        set_value(STREAMER_ID, None, row=3),
    ),
    "future_timestamp": Case(
        FeatureTable.ROOM_PROFILE,
        EVENT_TIMESTAMP,
        "not in the future",
        "1 of",
        set_value(EVENT_TIMESTAMP, NOW + timedelta(days=1)),
    ),
    "ancient_timestamp": Case(
        FeatureTable.VIEWER_PROFILE,
        EVENT_TIMESTAMP,
        "not before 2000-01-01",
        "1 of",
        set_value(EVENT_TIMESTAMP, datetime(1999, 12, 31, tzinfo=UTC)),
    ),
    "affinity_sums_to_three": Case(
        FeatureTable.VIEWER_PROFILE,
        VIEWER_CATEGORY_AFFINITY,
        "list sums to 1",
        "e.g. 3",
        set_value(VIEWER_CATEGORY_AFFINITY, [1.0, 1.0, 1.0]),
    ),
    "affinity_missing": Case(
        FeatureTable.VIEWER_PROFILE,
        VIEWER_CATEGORY_AFFINITY,
        "not null or empty",
        "1 of",
        set_value(VIEWER_CATEGORY_AFFINITY, None, row=2),
    ),
    "affinity_value_above_one": Case(
        FeatureTable.VIEWER_PROFILE,
        VIEWER_CATEGORY_AFFINITY,
        "list values <= 1",
        "e.g. 1.5",
        set_value(VIEWER_CATEGORY_AFFINITY, [1.5]),
    ),
    "too_many_last_rooms": Case(
        FeatureTable.VIEWER_BEHAVIOR,
        LAST_ROOMS,
        f"list length <= {LAST_ITEMS}",
        f"e.g. {LAST_ITEMS + 1}",
        set_value(LAST_ROOMS, ["r0000"] * (LAST_ITEMS + 1)),
    ),
}


def test_check_feature_tables__real_tiny_world__every_table_passes(
    settings: LivecartSettings, tiny_world: GenerateResult
) -> None:
    validate(settings)
    built = build_features(settings)
    report = check_feature_tables(settings)
    assert [t.table for t in report.tables] == list(FeatureTable)
    for item in report.tables:
        placeholders = (
            *EMBEDDING_TABLES,
            FeatureTable.PRODUCT_GRAPH,
            FeatureTable.ROOM_COMMENT_SIGNALS,
            FeatureTable.STREAMER_COMMENT_SIGNALS,
        )
        if item.table in placeholders:  # empty until `livecart embed` / `livecart comments` run
            assert item.rows == 0 and item.failures == ()
            continue
        assert item.rows == item.rows_checked == built.rows[item.table.value] > 0
        assert item.rules and item.failures == (), item.failures
        assert any(r.exact and r.rule.startswith("unique (") for r in item.rules)
    profile = {(r.column, r.rule) for r in report.table(FeatureTable.VIEWER_PROFILE).rules}
    assert (VIEWER_CTR, "within [0, 1]") in profile
    assert (VIEWER_ID, "not null") in profile
    assert report.data_docs_index == features_docs_dir(settings.reports_dir) / "index.html"
    assert report.data_docs_index.exists()
    assert (data_docs_dir(settings.reports_dir) / "index.html").exists()  # raw site kept


@pytest.mark.parametrize("name", list(CASES))
def test_check_feature_tables__corrupted_table__blocks_naming_table_column_rule(
    features: LivecartSettings, name: str
) -> None:
    case = CASES[name]
    rewrite(features, case.table, case.corrupt)
    error = blocked(features, case.table)
    message = str(error)
    assert f"feature table {case.table.value!r}, column {case.column!r}: rule '" in message
    assert case.rule in message and case.observed in message, message
    assert isinstance(error, FeatureGateBlocked)
    failing = {(table, rule.column) for table, rule in error.report.failures}
    assert failing == {(case.table, case.column)}


def test_check_feature_tables__daily_snapshot_ahead_of_now__allowed_up_to_a_day(
    features: LivecartSettings,
) -> None:
    table = FeatureTable.VIEWER_PROFILE
    rewrite(features, table, set_value(EVENT_TIMESTAMP, NOW + timedelta(hours=12)))
    check_feature_tables(features, [table], now=NOW)  # tonight's snapshot: by design
    rewrite(features, table, set_value(EVENT_TIMESTAMP, NOW + timedelta(days=2)))
    assert "rule 'not in the future" in str(blocked(features, table))


def test_check_feature_tables__duplicate_outside_sample__exact_check_still_blocks(
    features: LivecartSettings,
) -> None:
    table = FeatureTable.VIEWER_BEHAVIOR
    rewrite(features, table, duplicate_row())
    error = blocked(features, table, max_rows=20)
    assert isinstance(error, FeatureGateBlocked)
    item = error.report.table(table)
    assert item.rows_checked == 20 < item.rows
    # GX sees 20 sampled rows, not both copies; only the whole-file DuckDB check catches the pair.
    assert [r.exact for r in item.failures] == [True]


def test_check_feature_tables__sample__same_rows_every_run(features: LivecartSettings) -> None:
    def observed(report: FeatureSuiteReport) -> list[str]:
        return [r.observed for r in report.table(FeatureTable.VIEWER_PROFILE).rules]

    first = check_feature_tables(features, [FeatureTable.VIEWER_PROFILE], now=NOW, max_rows=50)
    again = check_feature_tables(features, [FeatureTable.VIEWER_PROFILE], now=NOW, max_rows=50)
    assert first.table(FeatureTable.VIEWER_PROFILE).rows_checked == 50
    assert observed(first) == observed(again)


def test_check_feature_tables__empty_table__passes_with_note(features: LivecartSettings) -> None:
    table = FeatureTable.PRODUCT_PROFILE
    rewrite(features, table, lambda data: data.slice(0, 0))
    item = check_feature_tables(features, [table], now=NOW).table(table)
    assert (item.rows, item.rows_checked, item.rules) == (0, 0, ())
    assert item.note is not None and "empty" in item.note


def test_check_feature_tables__missing_column__blocks(features: LivecartSettings) -> None:
    table = FeatureTable.VIEWER_PROFILE
    rewrite(features, table, lambda data: data.drop_columns([VIEWER_CTR]))
    message = str(blocked(features, table))
    assert f"column {VIEWER_CTR!r}: rule 'column present' failed (observed missing)" in message


def test_check_feature_tables__naive_now__value_error(features: LivecartSettings) -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        check_feature_tables(features, [FeatureTable.ROOM_PROFILE], now=datetime(2026, 1, 1))


def test_check_feature_tables__missing_file__stage_error(settings: LivecartSettings) -> None:
    with pytest.raises(StageError, match="no viewer_profile feature table"):
        check_feature_tables(settings, [FeatureTable.VIEWER_PROFILE], now=NOW)


def test_print_feature_summary__failed_report__lists_tables_and_failures(
    features: LivecartSettings,
) -> None:
    rewrite(features, FeatureTable.VIEWER_PROFILE, set_value(VIEWER_CTR, 1.7))
    error = blocked(features, FeatureTable.VIEWER_PROFILE)
    assert isinstance(error, FeatureGateBlocked)
    console = Console(record=True, width=200)
    print_feature_summary(error.report, console, all_rules=True)
    text = console.export_text()
    assert FeatureTable.VIEWER_PROFILE.value in text
    assert f"failed {FeatureTable.VIEWER_PROFILE.value}.{VIEWER_CTR}: within [0, 1]" in text
    assert "Data Docs:" in text
