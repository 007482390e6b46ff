"""One view's committed rows as a reader process holds them, with per-state caches.

Rows arrive from a compacted snapshot (one per key) or from push deltas (a row replaces the
indexed one only if it is not older). Row-shaped values derived from the rows (contiguous
columns, numeric matrices, dense vectors for vector search, per-universe key positions) are
cached on the state and dropped or patched when rows are appended; readers of an older state keep
theirs, since a reader cache appends to a copy (see :mod:`livecart.online.cache`). What a model
derives (codes against its labels, one-hot memberships) lives with the reader
(:mod:`livecart.features.derived`), keyed by the state's :attr:`ViewState.version`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from livecart.online.bookkeeping import CREATED_TS, EVENT_TS
from livecart.online.keys import KeyUniverse


@dataclass
class ViewState:
    """The rows of one view as this process sees them."""

    base: str | None = None
    deltas: list[str] = field(default_factory=list)
    table: pa.Table | None = None
    index: dict[tuple[Any, ...], int] = field(default_factory=dict)
    event_us: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    created_us: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    combined: dict[str, pa.Array] = field(default_factory=dict)
    numeric: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    matrices: dict[tuple[str, ...], np.ndarray] = field(default_factory=dict)
    # Per key universe: the position of each universe key's current row (-1: none). Kept
    # across appends, patched for the keys a delta touches (single-key views only).
    by_universe: dict[int, tuple[KeyUniverse, np.ndarray]] = field(default_factory=dict)
    numeric_names: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    # Counts appends: whoever derives values from the rows keys them by (state, version).
    version: int = 0

    def numeric_columns(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """Those of ``names`` whose column is numeric (the schema never changes by appends)."""
        found = self.numeric_names.get(names)
        if found is None:
            assert self.table is not None
            schema = self.table.schema
            found = self.numeric_names[names] = tuple(n for n in names if _numeric(schema, n))
        return found

    def positions(self, universe: KeyUniverse) -> np.ndarray:
        """int64 position of each key of ``universe`` (a single-key view's), -1 where absent."""
        cached = self.by_universe.get(universe.token)
        if cached is None:
            get = self.index.get
            found = np.fromiter(
                (get((value,), -1) for value in universe.values),
                dtype=np.int64,
                count=len(universe),
            )
            cached = self.by_universe[universe.token] = (universe, found)
        return cached[1]

    def matrix(self, names: tuple[str, ...]) -> np.ndarray:
        """``(rows, len(names))`` float64 of numeric columns, NaN where null (cached until the
        next append): one fancy index then reads every numeric feature of the view."""
        cached = self.matrices.get(names)
        if cached is None:
            assert self.table is not None
            cached = np.empty((self.table.num_rows, len(names)), dtype=np.float64)
            for j, name in enumerate(names):
                values, valid = self.numbers(name)
                cached[:, j] = np.where(valid, values, np.nan)
            self.matrices[names] = cached
        return cached

    def numbers(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(values, valid) of a numeric column as numpy arrays (cached until the next append)."""
        cached = self.numeric.get(name)
        if cached is None:
            array = self.column(name)
            valid = np.ones(len(array), dtype=bool)
            if array.null_count:
                valid = array.is_valid().to_numpy(zero_copy_only=False)
                array = array.fill_null(False if pa.types.is_boolean(array.type) else 0)
            cached = self.numeric[name] = (array.to_numpy(zero_copy_only=False), valid)
        return cached

    def current(self) -> np.ndarray:
        """Positions of the rows the index points at (one per key; cached until the next
        append)."""
        cached = self.matrices.get(("__current__",))
        if cached is None:
            cached = np.fromiter(self.index.values(), dtype=np.int64, count=len(self.index))
            self.matrices[("__current__",)] = cached
        return cached

    def oldest_event_us(self) -> int:
        """The oldest event timestamp of any row (cached until the next append): a TTL cutoff
        before it expires nothing."""
        cached = self.matrices.get(("__oldest__",))
        if cached is None:
            oldest = self.event_us.min() if len(self.event_us) else np.iinfo(np.int64).max
            cached = self.matrices[("__oldest__",)] = np.array([oldest], dtype=np.int64)
        return int(cached[0])

    def dense(self, name: str, dim: int) -> np.ndarray:
        """``(rows, dim)`` float32 of a list-of-floats column, 0 where null or of another length
        (cached until the next append)."""
        key = ("__dense__", name, str(dim))
        cached = self.matrices.get(key)
        if cached is None:
            cached = self.matrices[key] = dense_rows(self.column(name), dim)
        return cached

    def vectors(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(positions, float32 matrix, row norms) of the current rows whose fixed-size vector
        ``name`` is not null (cached until the next append): what vector search scans."""
        keys = [(kind, name) for kind in ("__vector_rows__", "__vectors__", "__vector_norms__")]
        if keys[0] not in self.matrices:
            current = self.current()
            column = self.column(name)
            valid = column.is_valid().to_numpy(zero_copy_only=False)[current]
            matrix = self.dense(name, column.type.list_size)[current[valid]]
            for key, value in zip(
                keys, (current[valid], matrix, np.linalg.norm(matrix, axis=1)), strict=True
            ):
                self.matrices[key] = value
        positions, matrix, norms = (self.matrices[key] for key in keys)
        return positions, matrix, norms

    def vector_slots(self, name: str) -> np.ndarray:
        """Per stored row, its row in :meth:`vectors`' matrix (-1: not current or no vector;
        cached until the next append)."""
        key = ("__vector_slots__", name)
        cached = self.matrices.get(key)
        if cached is None:
            assert self.table is not None
            positions = self.vectors(name)[0]
            cached = np.full(self.table.num_rows, -1, dtype=np.int64)
            cached[positions] = np.arange(len(positions))
            self.matrices[key] = cached
        return cached

    def column(self, name: str) -> pa.Array:
        """One contiguous array per column (cached until the next append)."""
        array = self.combined.get(name)
        if array is None:
            assert self.table is not None
            array = self.combined[name] = self.table.column(name).combine_chunks()
        return array


def _numeric(schema: pa.Schema, name: str) -> bool:
    kind = schema.field(name).type
    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
    )


def _micros(column: pa.ChunkedArray) -> np.ndarray:
    """Timestamps as int64 microseconds (nulls as -1, older than anything)."""
    values: np.ndarray = column.cast(pa.int64()).fill_null(-1).to_numpy()
    return values


def append_rows(state: ViewState, rows: pa.Table, keys: Sequence[str], trusted: bool) -> None:
    """Add rows; a row replaces the indexed one only if it is not older (event, then created).

    ``trusted`` rows come from a compacted snapshot, already one per key.
    """
    if rows.num_rows == 0:
        return
    offset = 0 if state.table is None else state.table.num_rows
    key_tuples = list(zip(*(rows.column(k).to_pylist() for k in keys), strict=True))
    event_us, created_us = _micros(rows.column(EVENT_TS)), _micros(rows.column(CREATED_TS))
    state.combined = {}
    state.numeric = {}
    state.matrices = {}
    state.version += 1
    if state.table is None:
        state.table = rows
    else:
        state.table = pa.concat_tables([state.table, rows.cast(state.table.schema)])
    state.event_us = np.concatenate([state.event_us, event_us])
    state.created_us = np.concatenate([state.created_us, created_us])
    index = state.index
    if trusted:
        index.update(zip(key_tuples, range(offset, offset + rows.num_rows), strict=True))
        state.by_universe = {}
        return
    for i, key in enumerate(key_tuples):
        current = index.get(key)
        newer = current is None or (event_us[i], created_us[i]) >= (
            state.event_us[current],
            state.created_us[current],
        )
        if newer:
            index[key] = offset + i
            for universe, found in state.by_universe.values():
                code = universe.code.get(key[0], -1) if len(key) == 1 else -1
                if code >= 0:
                    found[code] = offset + i


def dense_rows(array: pa.Array, dim: int) -> np.ndarray:
    """``(len(array), dim)`` float32 of a list-of-floats array; null or misfit rows are 0."""
    out = np.zeros((len(array), dim), dtype=np.float32)
    kind = array.type
    if len(array) == 0 or not (pa.types.is_list(kind) or pa.types.is_fixed_size_list(kind)):
        return out
    if array.offset:
        array = array.take(pa.array(np.arange(len(array)), type=pa.int64()))  # ``values`` from 0
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    values = array.values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    if pa.types.is_fixed_size_list(kind):
        if kind.list_size == dim:
            out[valid] = values.reshape(len(array), dim)[valid]
        return out
    offsets = array.offsets.to_numpy()
    fits = valid & (np.diff(offsets) == dim)
    out[fits] = values[offsets[:-1][fits, None] + np.arange(dim)]
    return out
