"""The validation job: gate every raw source into clean rows and a quarantine, and report.

Sources are validated in ``VALIDATION_ORDER`` so that each table's foreign keys are checked against
its parents' *clean* rows. Catalog tables are validated whole; events one part file at a time with
one shared GX engine, so memory stays bounded by a part (plus the set of event ids already seen,
which catches duplicates across parts). Outputs:

* ``clean_dir``: good rows via :func:`livecart.core.io.write_source` (events keep their part names);
* ``quarantine_dir / "<table>.parquet"``: quarantined rows with reasons (events: all parts in one
  file, streamed), always written, empty when nothing failed;
* ``reports_dir / "data_docs"``: GX Data Docs of the run.

A batch whose quarantined share exceeds ``max_quarantine_fraction`` stops the job with
:class:`GateBlocked`, after its quarantine is written and its table's clean output is removed, so
that no later job reads a half-validated table.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from livecart.core.conform import conform
from livecart.core.contract import VALIDATION_ORDER, Table
from livecart.core.errors import ContractError, GateBlocked
from livecart.core.io import (
    clear_events,
    event_parts,
    read_source,
    source_exists,
    table_path,
    write_parquet_atomic,
    write_source,
)
from livecart.core.settings import LivecartSettings
from validation.docs import data_docs_dir
from validation.engine import GxEngine
from validation.gate import (
    ReferenceSets,
    SeenKeys,
    enforce_threshold,
    quarantine_schema,
    validate_frame,
)
from validation.report import TableReport, TableTally, ValidationReport
from validation.suites import PARENT_TABLES

REQUIRED_SOURCES: Final = frozenset({Table.VIEWERS, Table.STREAMERS, Table.ROOMS, Table.EVENTS})


def quarantine_path(settings: LivecartSettings, table: Table) -> Path:
    """Where the quarantined rows of ``table`` are written."""
    return settings.quarantine_dir / f"{table.value}.parquet"


class _StreamedParquet:
    """One Parquet file written batch by batch, published by an atomic rename on close."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        self._writer = pq.ParquetWriter(self._tmp, schema, compression="zstd")
        self._open = True

    def write(self, data: pa.Table) -> None:
        if data.num_rows:
            self._writer.write_table(data)

    def close(self) -> Path:
        if self._open:
            self._writer.close()
            os.replace(self._tmp, self.path)
            self._open = False
        return self.path

    def __enter__(self) -> _StreamedParquet:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is None or isinstance(error, GateBlocked):
            self.close()
        elif self._open:
            self._writer.close()
            self._tmp.unlink(missing_ok=True)
            self._open = False


def _remove_output(directory: Path, table: Table) -> None:
    if table is Table.EVENTS:
        clear_events(directory)
    else:
        table_path(directory, table).unlink(missing_ok=True)


def _present_sources(settings: LivecartSettings) -> list[Table]:
    present: list[Table] = []
    for table in VALIDATION_ORDER:
        if source_exists(settings.raw_dir, table):
            present.append(table)
        elif table in REQUIRED_SOURCES:
            raise ContractError(
                str(table_path(settings.raw_dir, table)),
                None,
                "required source is missing (viewers, streamers, rooms and events are required)",
            )
    return present


def _validate_catalog(
    table: Table,
    settings: LivecartSettings,
    engine: GxEngine,
    references: ReferenceSets,
    now: datetime,
) -> tuple[TableReport, pa.Table]:
    origin = table_path(settings.raw_dir, table)
    data = conform(read_source(settings.raw_dir, table), table, origin=str(origin))
    result = validate_frame(table, data, references, settings, now, engine=engine)
    written = write_parquet_atomic(result.quarantine, quarantine_path(settings, table))
    try:
        enforce_threshold(result, settings.max_quarantine_fraction, written)
    except GateBlocked:
        _remove_output(settings.clean_dir, table)
        raise
    clean = write_source(settings.clean_dir, table, result.good)
    tally = TableTally(table)
    tally.add(result)
    return tally.report(clean, written), result.good


def _validate_events(
    settings: LivecartSettings, engine: GxEngine, references: ReferenceSets, now: datetime
) -> TableReport:
    table = Table.EVENTS
    clear_events(settings.clean_dir)
    tally = TableTally(table)
    seen = SeenKeys()
    target = quarantine_path(settings, table)
    with _StreamedParquet(target, quarantine_schema(table)) as quarantine:
        for part in event_parts(settings.raw_dir):
            data = conform(pq.read_table(part), table, origin=str(part))
            result = validate_frame(
                table, data, references, settings, now, engine=engine, seen=seen, batch=part.stem
            )
            quarantine.write(result.quarantine)
            try:
                enforce_threshold(result, settings.max_quarantine_fraction, target)
            except GateBlocked:
                quarantine.close()
                _remove_output(settings.clean_dir, table)
                raise
            part_name = part.stem.removeprefix("part-")
            write_source(settings.clean_dir, table, result.good, part=part_name)
            tally.add(result)
    return tally.report(table_path(settings.clean_dir, table), target)


def run(settings: LivecartSettings, now: datetime | None = None) -> ValidationReport:
    """Validate every raw source of ``settings.raw_dir``; write clean, quarantine and Data Docs.

    ``now`` (UTC-aware; default: the current time) is the reference for future timestamps.
    Raises :class:`ContractError` for a missing required source or a file that breaks the contract,
    and :class:`GateBlocked` when a batch quarantines more than ``max_quarantine_fraction``.
    """
    checked_at = now if now is not None else datetime.now(UTC)
    present = _present_sources(settings)
    skipped = tuple(t for t in VALIDATION_ORDER if t not in present)
    for table in skipped:
        _remove_output(settings.clean_dir, table)
        quarantine_path(settings, table).unlink(missing_ok=True)
    engine = GxEngine(docs_dir=data_docs_dir(settings.reports_dir))
    references = ReferenceSets()
    reports: list[TableReport] = []
    try:
        for table in present:
            if table is Table.EVENTS:
                reports.append(_validate_events(settings, engine, references, checked_at))
                continue
            report, clean = _validate_catalog(table, settings, engine, references, checked_at)
            reports.append(report)
            if table in PARENT_TABLES:
                references = references.with_table(table, clean)
    except GateBlocked:
        engine.build_docs()  # the blocked batch's page is the first thing to look at
        raise
    return ValidationReport(
        checked_at=checked_at,
        tables=tuple(reports),
        skipped=skipped,
        data_docs_index=engine.build_docs(),
    )
