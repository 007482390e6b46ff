"""Admission of events sent to ``POST /v1/events``: per-row typing, then the GX gate.

A whole-batch cast (as files get in :mod:`livecart.core.conform`) would reject every event for one bad
field, so each event is typed on its own here: a wrong type, a missing required field, a naive
timestamp, oversized text or bad UTF-8 quarantines that event with its reason. The typed rows then
go through :func:`validation.gate.validate_frame`, the same GX suite as batch ingestion (ranges,
event types, unknown ids, future timestamps, duplicates, also against events accepted earlier).
Accepted rows are appended to the offline store as their own Parquet part before anything is
pushed online, so an accepted event is never lost; ids stored within the live horizon are
remembered at start, so a batch retried across an ingest restart is not stored twice.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from livecart.core import contract as c
from livecart.core.io import event_parts, table_path, write_parquet_atomic
from livecart.core.settings import LivecartSettings
from serving.live_state import HORIZON_MINUTES, read_recent_events
from serving.schemas import EventIn, QuarantinedEvent
from validation.engine import GxEngine
from validation.gate import ReferenceSets, SeenKeys, load_references, validate_frame

SCHEMA = c.SCHEMAS[c.Table.EVENTS]
_STRINGS = {f.name for f in SCHEMA if pa.types.is_string(f.type)}
_FLOATS = {f.name for f in SCHEMA if pa.types.is_floating(f.type)}


class RowError(ValueError):
    """One event cannot be typed against the contract."""


def _text(name: str, value: Any, max_chars: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RowError(f"{name}: not valid UTF-8") from exc
    if not isinstance(value, str):
        raise RowError(f"{name}: expected a string, got {type(value).__name__}")
    if "\ufffd" in value or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise RowError(f"{name}: not valid UTF-8 (replacement or surrogate characters)")
    if len(value) > max_chars:
        raise RowError(f"{name}: {len(value)} characters, above the limit of {max_chars}")
    return value


def _number(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RowError(f"{name}: expected a number, got {type(value).__name__}")
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        raise RowError(f"{name}: NaN or infinite")
    return number


def _timestamp(name: str, value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise RowError(f"{name}: not an ISO-8601 timestamp") from exc
    elif isinstance(value, int | float) and not isinstance(value, bool):
        raise RowError(f"{name}: give an ISO-8601 timestamp with a UTC offset, not a number")
    if not isinstance(value, datetime):
        raise RowError(f"{name}: expected a timestamp, got {type(value).__name__}")
    if value.tzinfo is None:
        raise RowError(f"{name}: naive timestamp (no UTC offset)")
    return value.astimezone(UTC)


def type_row(event: EventIn, max_text_chars: int) -> dict[str, Any]:
    """The event as contract-typed values, or :class:`RowError` naming the first bad field."""
    raw = event.model_dump()
    extra = sorted(set(raw) - set(SCHEMA.names))
    if extra:
        raise RowError(f"unknown fields {extra}")
    row: dict[str, Any] = {}
    for name in SCHEMA.names:
        value = raw.get(name)
        if name == c.EVENT_TIMESTAMP:
            row[name] = _timestamp(name, value)
        elif name in _FLOATS:
            row[name] = _number(name, value)
        elif name in _STRINGS:
            row[name] = _text(name, value, max_text_chars)
        if row[name] is None and name in c.REQUIRED_COLUMNS[c.Table.EVENTS]:
            raise RowError(f"{name}: missing required field")
    return row


@dataclass(frozen=True)
class Admission:
    accepted: pa.Table
    quarantined: list[QuarantinedEvent]
    offline_part: str | None


class EventGate:
    """Types, validates and durably appends event batches (one instance per ingest replica)."""

    def __init__(self, settings: LivecartSettings) -> None:
        self.settings = settings
        self.engine = GxEngine()
        self.references: ReferenceSets = load_references(settings.clean_dir)
        self.seen = SeenKeys()
        self._remember_recent()

    def _remember_recent(self) -> None:
        """Ids already stored within the live horizon count as seen, across a restart too.

        A client whose answer was lost (the replica died after the offline append) retries the
        batch; its events must come back as duplicates, not be stored a second time.
        """
        parts = [str(p) for p in event_parts(self.settings.clean_dir)]
        if parts:
            since = datetime.now(UTC) - timedelta(minutes=HORIZON_MINUTES)
            ids = read_recent_events(parts, since, [c.EVENT_ID]).column(c.EVENT_ID)
            self.seen.add(ids.to_pylist())

    def reload_references(self) -> None:
        """Pick up catalogue rows added since start (new viewers, rooms, products)."""
        self.references = load_references(self.settings.clean_dir)

    def admit(self, events: Sequence[EventIn], now: datetime | None = None) -> Admission:
        now = now or datetime.now(UTC)
        quarantined: list[QuarantinedEvent] = []
        typed: list[dict[str, Any]] = []
        positions: list[int] = []
        for index, event in enumerate(events):
            try:
                typed.append(type_row(event, self.settings.max_text_chars))
                positions.append(index)
            except RowError as exc:
                quarantined.append(
                    QuarantinedEvent(index=index, event_id=_id(event.event_id), reason=str(exc))
                )
        frame = pa.Table.from_pylist(typed, schema=SCHEMA)
        if frame.num_rows == 0:
            return Admission(frame, sorted(quarantined, key=lambda q: q.index), None)
        result = validate_frame(
            c.Table.EVENTS,
            frame,
            self.references,
            self.settings,
            now,
            engine=self.engine,
            seen=self.seen,
            batch="api",
            table_checks=False,
        )
        if result.quarantined:
            reasons = result.quarantine.column(c.QUARANTINE_REASON).to_pylist()
            ids = result.quarantine.column(c.EVENT_ID).to_pylist()
            for row, event_id, reason in zip(result.quarantined_rows, ids, reasons, strict=True):
                quarantined.append(
                    QuarantinedEvent(index=positions[row], event_id=event_id, reason=reason)
                )
            self._quarantine(result.quarantine)
        part = self._append(result.good) if result.good.num_rows else None
        return Admission(result.good, sorted(quarantined, key=lambda q: q.index), part)

    def _append(self, good: pa.Table) -> str:
        name = f"part-api-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.parquet"
        path = table_path(self.settings.clean_dir, c.Table.EVENTS) / name
        write_parquet_atomic(good, path)
        return str(path)

    def _quarantine(self, rows: pa.Table) -> None:
        name = f"api-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.parquet"
        write_parquet_atomic(rows, self.settings.quarantine_dir / "api_events" / name)


def _id(value: Any) -> str | None:
    return value if isinstance(value, str) else None
