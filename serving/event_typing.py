"""Typing one event sent to ``POST /v1/events`` against the events contract, field by field.

A whole-batch cast (as files get in :mod:`livecart.core.conform`) would reject every event for one
bad field, so each event is typed on its own: a wrong type, a missing required field, a naive
timestamp, a timestamp or number that cannot be converted (year 1 with a positive offset, an
integer no float holds, NaN), oversized text or text that is not UTF-8 (lone surrogates) make a
*problem* of that event, named by field. The fields that did type are kept beside the problems, so
a quarantined event keeps every value that fits the contract, and :func:`raw_event` keeps the
payload as sent, as ASCII JSON text (NaN, surrogates and all, escaped).

Nothing a client sends is echoed back or logged as is: :func:`printable` escapes lone surrogates,
which no UTF-8 encoder (JSON responses, Parquet, logs) accepts.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import pyarrow as pa

from livecart.core import contract as c
from serving.schemas import EventIn, printable
from validation.gate import REASON_SEPARATOR

SCHEMA = c.SCHEMAS[c.Table.EVENTS]
RAW_EVENT: Final = "raw_event"
"""Quarantine column of ``quarantine/api_events``: the event as the client sent it (JSON text)."""

_STRINGS = {f.name for f in SCHEMA if pa.types.is_string(f.type)}
_FLOATS = {f.name for f in SCHEMA if pa.types.is_floating(f.type)}
_REQUIRED = c.REQUIRED_COLUMNS[c.Table.EVENTS]


class RowError(ValueError):
    """One field of an event cannot be typed against the contract."""


@dataclass(frozen=True)
class TypedEvent:
    """An event's contract-typed values (None where a field failed) and its problems."""

    row: dict[str, Any]
    problems: tuple[str, ...]

    @property
    def reason(self) -> str:
        return REASON_SEPARATOR.join(self.problems)


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
    try:
        number = float(value)
    except OverflowError as exc:  # an integer of hundreds of digits: JSON allows it
        raise RowError(f"{name}: integer too large for a float") from exc
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
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+05:00 is before year 1 in UTC
        raise RowError(f"{name}: out of range (years 1 to 9999) once converted to UTC") from exc


def _field(name: str, value: Any, max_text_chars: int) -> Any:
    if name == c.EVENT_TIMESTAMP:
        return _timestamp(name, value)
    if name in _FLOATS:
        return _number(name, value)
    if name in _STRINGS:
        return _text(name, value, max_text_chars)
    raise AssertionError(f"contract column {name} has no typing rule")  # a contract change


def type_event(event: EventIn, max_text_chars: int) -> TypedEvent:
    """The event's contract-typed values, and every problem found (empty: it types)."""
    raw = event.model_dump()
    problems: list[str] = []
    extra = sorted(printable(str(k)) for k in set(raw) - set(SCHEMA.names))
    if extra:
        problems.append(f"unknown fields {extra}")
    row: dict[str, Any] = {}
    for name in SCHEMA.names:
        try:
            row[name] = _field(name, raw.get(name), max_text_chars)
        except RowError as exc:
            row[name] = None
            problems.append(str(exc))
            continue
        if row[name] is None and name in _REQUIRED:
            problems.append(f"{name}: missing required field")
    return TypedEvent(row, tuple(problems))


def raw_event(event: EventIn) -> str:
    """The event as sent, as ASCII JSON text: NaN and infinities as JSON5 literals (what
    Python's ``json`` reads back), lone surrogates as ``\\udXXX`` escapes."""
    sent = event.model_dump(exclude_unset=True)
    return json.dumps(sent, ensure_ascii=True, allow_nan=True, default=repr)
