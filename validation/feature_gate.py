"""The feature gate: run each feature table's GX suite after the feature job, block on failure.

For each table it reads ``settings.features_dir / "<table>.parquet"`` through DuckDB (at most
``max_rows`` rows, a repeatable reservoir sample), adds the derived list columns of
:mod:`validation.feature_suites`, validates the frame with GX and checks key uniqueness exactly
over the whole file. Feature tables are derived data, so nothing is quarantined: any failed rule
raises :class:`FeatureGateBlocked` naming the table, column, rule and observed value, after the
Data Docs are written. An empty table passes with a note (datasets without products have an empty
``product_profile``).

Data Docs go to ``settings.reports_dir / "data_docs_features"``, not ``data_docs``: GX's site
builder deletes the pages of every result its (ephemeral) context does not hold, so sharing the raw
gate's site would wipe the pages that ``livecart validate`` wrote.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import duckdb
import great_expectations as gx
import pandas as pd
import pyarrow.parquet as pq
from great_expectations.core.expectation_validation_result import ExpectationValidationResult
from great_expectations.core.run_identifier import RunIdentifier
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from livecart.core.errors import StageError
from livecart.core.feature_names import FeatureTable
from livecart.core.settings import LivecartSettings
from validation import docs
from validation.feature_suites import (
    META_COLUMN,
    META_RULE,
    FeatureGateBlocked,
    FeatureSuiteReport,
    FeatureTableReport,
    RuleResult,
    derived_columns,
    feature_parameters,
    feature_suite,
    key_columns,
    list_columns,
    scalar_columns,
    unique_rule,
)

DEFAULT_MAX_ROWS: Final = 250_000
SAMPLE_SEED: Final = 7
DATASOURCE: Final = "livecart_features"
RESULT_FORMAT: Final[dict[str, Any]] = {"result_format": "SUMMARY", "partial_unexpected_count": 10}
EXAMPLES: Final = 3


def features_docs_dir(reports_dir: Path) -> Path:
    """Where the feature gate's Data Docs site is written (apart from the raw gate's site)."""
    return reports_dir / "data_docs_features"


def print_feature_summary(
    report: FeatureSuiteReport, console: Console, *, all_rules: bool = False
) -> None:
    """Print rows, rows checked and rules passed per table, then the failed rules.

    With ``all_rules`` every rule is listed with its observed value (the Data Docs show the same).
    """
    summary = RichTable(title=f"Feature gate at {report.checked_at:%Y-%m-%d %H:%M:%S %Z}")
    summary.add_column("feature table")
    for name in ("rows", "checked", "rules passed"):
        summary.add_column(name, justify="right")
    summary.add_column("note")
    for item in report.tables:
        passed = f"{len(item.rules) - len(item.failures)}/{len(item.rules)}"
        summary.add_row(
            item.table.value,
            f"{item.rows:,}",
            f"{item.rows_checked:,}",
            f"[red]{passed}[/red]" if item.failures else passed,
            escape(item.note or ""),
        )
    console.print(summary)
    if all_rules:
        rules = RichTable(title="Feature rules")
        for name in ("feature table", "column", "rule", "ok", "observed"):
            rules.add_column(name)
        for item in report.tables:
            for rule in item.rules:
                ok = "[green]yes[/green]" if rule.success else "[red]no[/red]"
                what = escape(rule.rule + (" (exact)" if rule.exact else ""))
                rules.add_row(
                    item.table.value, escape(rule.column), what, ok, escape(rule.observed)
                )
        console.print(rules)
    for table, rule in report.failures:
        line = f"{table.value}.{rule.column}: {rule.rule} failed (observed {rule.observed})"
        console.print("[red]failed[/red] " + escape(line))
    if report.data_docs_index is not None:
        console.print(f"Data Docs: {report.data_docs_index}")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _connect(temp_dir: Path, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET temp_directory = {_literal(temp_dir)}")  # spill there, never into the cwd
    if threads is not None:
        con.execute(f"SET threads = {threads}")
    return con


def _read_sample(
    path: Path, table: FeatureTable, rows: int, max_rows: int, temp_dir: Path
) -> pd.DataFrame:
    """The checked columns of at most ``max_rows`` rows of ``path``, lists as derived scalars.

    Only the columns the suite reads are loaded. DuckDB's seeded reservoir sample is repeatable
    only single-threaded, hence ``threads = 1`` when sampling.
    """
    columns = [_ident(c) for c in scalar_columns(table)]
    columns += [f"{sql} AS {_ident(name)}" for name, sql in derived_columns(table).items()]
    sample = (
        f" USING SAMPLE reservoir({max_rows} ROWS) REPEATABLE ({SAMPLE_SEED})"
        if rows > max_rows
        else ""
    )
    sql = f"SELECT {', '.join(columns)} FROM read_parquet({_literal(path)}){sample}"
    with _connect(temp_dir, threads=1 if sample else None) as con:
        frame: pd.DataFrame = con.sql(sql).to_arrow_table().to_pandas()
    return frame


def _count_rows(path: Path, temp_dir: Path) -> int:
    with _connect(temp_dir) as con:
        row = con.execute(f"SELECT count(*) FROM read_parquet({_literal(path)})").fetchone()
    return int(row[0]) if row else 0


def _exact_unique(path: Path, table: FeatureTable, rows: int, temp_dir: Path) -> RuleResult:
    """Key uniqueness over the whole file, with DuckDB.

    Row rules judge each row on its own, so a sample finds a broken row in proportion to how many
    there are. A duplicate needs *both* copies in the sample: with 250,000 of 10 million rows one
    duplicated pair is seen with probability (1/40)^2, about 0.06%. Counting distinct keys over the
    whole file is one cheap scan, so uniqueness is checked exactly and reported beside GX's result.
    """
    keys = ", ".join(map(_ident, key_columns(table)))
    sql = f"SELECT count(DISTINCT ({keys})) FROM read_parquet({_literal(path)})"
    with _connect(temp_dir) as con:
        row = con.execute(sql).fetchone()
    duplicates = rows - (int(row[0]) if row else 0)
    return RuleResult(
        column=", ".join(key_columns(table)),
        rule=f"{unique_rule(table)} over the whole file",
        success=duplicates == 0,
        observed=f"{duplicates:,} duplicate rows of {rows:,}",
        exact=True,
    )


def _format(value: object) -> str:
    if isinstance(value, dict):  # a compound key
        return "(" + ", ".join(_format(v) for v in value.values()) + ")"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _observed(result: ExpectationValidationResult) -> str:
    details = result.result or {}
    if "observed_value" in details:
        return _format(details["observed_value"])
    unexpected = details.get("unexpected_count")
    if unexpected is None:
        return ""
    text = f"{unexpected:,} of {details.get('element_count', 0):,} rows"
    found = [_format(v) for v in details.get("partial_unexpected_list") or [] if v is not None]
    examples = list(dict.fromkeys(found))[:EXAMPLES]
    if examples:
        text += ", e.g. " + ", ".join(examples)
    return text


def _rule_result(result: ExpectationValidationResult) -> RuleResult:
    config = result.expectation_config
    meta = (config.meta if config is not None else None) or {}
    column = str(meta.get(META_COLUMN, ""))
    rule = str(meta.get(META_RULE, config.type if config is not None else "expectation"))
    info = result.exception_info or {}
    if info.get("raised_exception"):
        problem = f"could not be evaluated: {info.get('exception_message')}"
        return RuleResult(column, rule, success=False, observed=problem, exact=False)
    return RuleResult(column, rule, bool(result.success), _observed(result), exact=False)


class _FeatureValidator:
    """One ephemeral GX context for one gate run; its results feed the Data Docs."""

    def __init__(self, settings: LivecartSettings, now: datetime, docs_dir: Path) -> None:
        self._context = docs.ephemeral_context()
        self._source = self._context.data_sources.add_pandas(DATASOURCE)
        self._settings = settings
        self._now = now
        self._docs_dir = docs_dir
        docs.add_docs_site(self._context, docs_dir)

    def validate(self, table: FeatureTable, frame: pd.DataFrame) -> list[RuleResult]:
        asset = self._source.add_dataframe_asset(table.value)
        batch = asset.add_batch_definition_whole_dataframe(table.value)
        suite = self._context.suites.add(feature_suite(table, self._settings))
        definition = self._context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=suite)
        )
        outcome = definition.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters=feature_parameters(self._settings, self._now, table),
            result_format=RESULT_FORMAT,
            run_id=RunIdentifier(run_name=table.value),
        )
        return [_rule_result(item) for item in outcome.results]

    def build_docs(self) -> Path:
        return docs.build_docs(self._context, self._docs_dir)


def feature_table_path(settings: LivecartSettings, table: FeatureTable) -> Path:
    """Where the feature job writes ``table`` (the same layout as ``ray_jobs.features``)."""
    return settings.feature_table_path(table)


def _check_table(
    table: FeatureTable, settings: LivecartSettings, validator: _FeatureValidator, max_rows: int
) -> FeatureTableReport:
    started = time.perf_counter()
    path = feature_table_path(settings, table)
    if not path.exists():
        raise StageError(
            "feature gate",
            f"no {table.value} feature table at {path}",
            "run `livecart features` first (or check only the tables it built)",
        )
    temp_dir = settings.home / "tmp"
    rows = _count_rows(path, temp_dir)
    if rows == 0:
        note = "empty: nothing to check (no source rows, e.g. a dataset without products)"
        return FeatureTableReport(table, path, rows=0, rows_checked=0, rules=(), note=note)
    present = set(pq.read_schema(path).names)
    missing = [c for c in (*scalar_columns(table), *list_columns(table)) if c not in present]
    if missing:
        absent = tuple(RuleResult(c, "column present", False, "missing", True) for c in missing)
        return FeatureTableReport(table, path, rows, rows_checked=0, rules=absent)
    frame = _read_sample(path, table, rows, max_rows, temp_dir)
    rules = (*validator.validate(table, frame), _exact_unique(path, table, rows, temp_dir))
    seconds = round(time.perf_counter() - started, 3)
    return FeatureTableReport(table, path, rows, len(frame), rules, seconds=seconds)


def check_feature_tables(
    settings: LivecartSettings,
    tables: Iterable[FeatureTable] | None = None,
    now: datetime | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> FeatureSuiteReport:
    """Validate the feature tables of ``settings.features_dir`` (default: every table).

    ``now`` (UTC-aware; default: the current time) bounds future timestamps; GX sees at most
    ``max_rows`` rows per table. Writes Data Docs, then raises :class:`FeatureGateBlocked` (a
    :class:`GateBlocked`) when any rule failed, and :class:`StageError` when a table is missing.
    """
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    checked_at = now if now is not None else datetime.now(UTC)
    if checked_at.tzinfo is None:
        raise ValueError("now must be time-zone aware (UTC)")
    docs_dir = features_docs_dir(settings.reports_dir)
    validator = _FeatureValidator(settings, checked_at, docs_dir)
    selected = tuple(FeatureTable) if tables is None else tuple(dict.fromkeys(tables))
    reports = tuple(_check_table(t, settings, validator, max_rows) for t in selected)
    report = FeatureSuiteReport(checked_at, reports, data_docs_index=validator.build_docs())
    if report.failures:
        raise FeatureGateBlocked(report)
    return report
