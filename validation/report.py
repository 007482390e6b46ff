"""What a validation run found, per source, and a rich summary of it for the CLI.

Counts are accumulated batch by batch (:class:`TableTally`) so that validating events part by part
never holds more than one part's rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from livecart.core.contract import Table
from validation.engine import TableCheck
from validation.gate import GateResult

TOP_REASONS = 3


@dataclass(frozen=True)
class TableReport:
    """Totals of one source over all its batches, with where its outputs were written."""

    table: Table
    total: int
    good: int
    quarantined: int
    reason_counts: Mapping[str, int]
    table_checks: tuple[TableCheck, ...]
    batches: int
    clean_path: Path
    quarantine_path: Path

    @property
    def fraction(self) -> float:
        return self.quarantined / self.total if self.total else 0.0

    def top_reasons(self, n: int = TOP_REASONS) -> list[tuple[str, int]]:
        return Counter(self.reason_counts).most_common(n)

    @property
    def failed_checks(self) -> tuple[TableCheck, ...]:
        return tuple(c for c in self.table_checks if not c.success)


@dataclass
class TableTally:
    """Running totals of a source while its batches are gated."""

    table: Table
    total: int = 0
    good: int = 0
    quarantined: int = 0
    batches: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    checks: list[TableCheck] = field(default_factory=list)

    def add(self, result: GateResult) -> None:
        self.total += result.total
        self.good += result.good.num_rows
        self.quarantined += result.quarantined
        self.batches += 1
        self.reasons.update(result.reason_counts)
        self.checks.extend(result.table_checks)

    def report(self, clean_path: Path, quarantine_path: Path) -> TableReport:
        return TableReport(
            table=self.table,
            total=self.total,
            good=self.good,
            quarantined=self.quarantined,
            reason_counts=dict(self.reasons),
            table_checks=tuple(self.checks),
            batches=self.batches,
            clean_path=clean_path,
            quarantine_path=quarantine_path,
        )


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of one validation run over a raw data directory."""

    checked_at: datetime
    tables: tuple[TableReport, ...]
    skipped: tuple[Table, ...]
    data_docs_index: Path | None

    def table(self, table: Table) -> TableReport:
        for item in self.tables:
            if item.table is table:
                return item
        raise KeyError(f"{table.value} was not validated in this run")

    @property
    def failed_checks(self) -> tuple[TableCheck, ...]:
        return tuple(c for t in self.tables for c in t.failed_checks)


def _reasons_text(report: TableReport) -> str:
    return "\n".join(escape(f"{why} ({n})") for why, n in report.top_reasons()) or "-"


def print_summary(report: ValidationReport, console: Console) -> None:
    """Print a per-source table (rows, good, quarantined, share, top reasons) and the warnings."""
    summary = RichTable(title=f"Validation at {report.checked_at:%Y-%m-%d %H:%M:%S %Z}")
    summary.add_column("table")
    summary.add_column("rows", justify="right")
    summary.add_column("good", justify="right")
    summary.add_column("quarantined", justify="right")
    summary.add_column("%", justify="right")
    summary.add_column("top reasons")
    for item in report.tables:
        share = f"{item.fraction:.2%}"
        summary.add_row(
            item.table.value,
            f"{item.total:,}",
            f"{item.good:,}",
            f"{item.quarantined:,}",
            f"[red]{share}[/red]" if item.quarantined else share,
            _reasons_text(item),
        )
    console.print(summary)
    for skipped in report.skipped:
        console.print(f"[dim]skipped {skipped.value}: no source file[/dim]")
    for check in report.failed_checks:
        where = check.table.value
        if check.batch != where:
            where = f"{where} {check.batch}"
        observed = check.observed or "n/a"
        line = f"{where}: {check.check} failed (observed {observed})"
        console.print("[yellow]warning[/yellow] " + escape(line))
    if report.data_docs_index is not None:
        console.print(f"Data Docs: {report.data_docs_index}")
