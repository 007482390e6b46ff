"""Admission of events sent to ``POST /v1/events``: per-event typing, then the GX gate.

Each event is typed on its own (:mod:`serving.event_typing`), so one bad field quarantines that
event only. The typed rows then go through :func:`validation.gate.validate_frame`, the same GX
suite as batch ingestion (ranges, event types, unknown ids, future timestamps, duplicates, also
against every event the offline store holds: :class:`serving.stored_ids.StoredEventIds`).
Every quarantined event, refused at typing or by GX, is written to ``quarantine/api_events``
with its reason and its payload as sent; accepted rows are appended to the offline store as their
own Parquet part before anything is pushed online, so an accepted event is never lost, and a batch
retried after a lost answer comes back as duplicates, not stored twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from livecart.core import contract as c
from livecart.core.io import table_path, write_parquet_atomic
from livecart.core.settings import LivecartSettings
from livecart.core.stages import Stages
from serving.event_typing import RAW_EVENT, SCHEMA, raw_event, type_event
from serving.schemas import EventIn, QuarantinedEvent
from serving.stored_ids import StoredEventIds
from validation.engine import GxEngine
from validation.gate import ReferenceSets, load_references, quarantine_schema, validate_frame


@dataclass(frozen=True)
class Admission:
    accepted: pa.Table
    quarantined: list[QuarantinedEvent]
    offline_part: str | None


class EventGate:
    """Types, validates and durably appends event batches (one instance per ingest replica)."""

    def __init__(self, settings: LivecartSettings) -> None:
        self.settings = settings
        self.engine = GxEngine(pass_workers=settings.gate_pass_workers)
        self.references: ReferenceSets = load_references(settings.clean_dir)
        self.seen = StoredEventIds(settings.clean_dir)

    def close(self) -> None:
        """Stop the GX pass workers (:mod:`validation.pass_worker`)."""
        self.engine.close()

    def reload_references(self) -> None:
        """Pick up catalogue rows and event parts added since start (a refresh, an ingest)."""
        self.references = load_references(self.settings.clean_dir)
        self.seen.reload()

    def admit(
        self, events: Sequence[EventIn], now: datetime | None = None, stages: Stages | None = None
    ) -> Admission:
        """Type, validate and store ``events``; ``stages`` times typing, validate and append."""
        now = now or datetime.now(UTC)
        stages = stages or Stages()
        with stages.time("typing"):
            typed, positions, refused = self._typed(events)
            good = pa.Table.from_pylist(typed, schema=SCHEMA)
        gx_refused = pa.Table.from_pylist([], schema=quarantine_schema(c.Table.EVENTS))
        gx_rows: tuple[int, ...] = ()
        if good.num_rows:
            with stages.time("validate"):
                checked = validate_frame(
                    c.Table.EVENTS,
                    good,
                    self.references,
                    self.settings,
                    now,
                    engine=self.engine,
                    seen=self.seen,
                    batch="api",
                    table_checks=False,
                )
            good, gx_refused = checked.good, checked.quarantine
            gx_rows = tuple(positions[row] for row in checked.quarantined_rows)
        with stages.time("append"):
            kept = self._quarantine_rows(events, refused, gx_refused, gx_rows)
            if kept.num_rows:
                self._write_quarantine(kept)
            part = self._append(good) if good.num_rows else None
        answers = [
            QuarantinedEvent(index=index, event_id=_id(events[index].event_id), reason=reason)
            for index, reason in zip(
                [i for i, _, _ in refused] + list(gx_rows),
                kept.column(c.QUARANTINE_REASON).to_pylist(),
                strict=True,
            )
        ]
        return Admission(good, sorted(answers, key=lambda q: q.index), part)

    def _typed(
        self, events: Sequence[EventIn]
    ) -> tuple[list[dict[str, Any]], list[int], list[tuple[int, dict[str, Any], str]]]:
        """Typed rows with their positions, and the events refused at typing."""
        refused: list[tuple[int, dict[str, Any], str]] = []  # (index, typed fields, reason)
        typed: list[dict[str, Any]] = []
        positions: list[int] = []
        for index, event in enumerate(events):
            result = type_event(event, self.settings.max_text_chars)
            if result.problems:
                refused.append((index, result.row, result.reason))
            else:
                typed.append(result.row)
                positions.append(index)
        return typed, positions, refused

    @staticmethod
    def _quarantine_rows(
        events: Sequence[EventIn],
        refused: list[tuple[int, dict[str, Any], str]],
        gx_refused: pa.Table,
        gx_rows: tuple[int, ...],
    ) -> pa.Table:
        """Every quarantined event as one table: the fields that typed, the reason, the payload
        as sent (refused at typing first, then by GX, each in input order)."""
        typing = pa.Table.from_pylist(
            [
                {**row, c.QUARANTINE_REASON: reason, c.QUARANTINE_SOURCE: c.Table.EVENTS.value}
                for _, row, reason in refused
            ],
            schema=quarantine_schema(c.Table.EVENTS),
        )
        both = pa.concat_tables([typing, gx_refused])
        payloads = [raw_event(events[i]) for i, _, _ in refused]
        payloads += [raw_event(events[i]) for i in gx_rows]
        return both.append_column(RAW_EVENT, pa.array(payloads, pa.string()))

    def _append(self, good: pa.Table) -> str:
        name = f"part-api-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.parquet"
        path = table_path(self.settings.clean_dir, c.Table.EVENTS) / name
        write_parquet_atomic(good, path)
        return str(path)

    def _write_quarantine(self, rows: pa.Table) -> None:
        name = f"api-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.parquet"
        write_parquet_atomic(rows, self.settings.quarantine_dir / "api_events" / name)


def _id(value: Any) -> str | None:
    return value if isinstance(value, str) else None
