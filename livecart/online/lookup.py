"""Where a batch of entity rows is in each view's committed state: one position per distinct key.

A request's 500 candidate rows share one viewer key (looked up once), and product or streamer
keys given as :class:`CodedKeys` are found with one numpy take on the view's per-state position
array instead of a dictionary probe per row. The store's expiry settings (expiry.py) are applied
here, vectorized, so every reader (frames, columns, single rows) sees what
``get_online_features`` on the same store sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
from feast import FeatureStore

from livecart.core.errors import LivecartError
from livecart.online.access import read_cache, table_name
from livecart.online.expiry import cutoff_us
from livecart.online.keys import CodedKeys
from livecart.online.plan import ServicePlan, ViewRead
from livecart.online.state import ViewState


@dataclass(frozen=True)
class ViewRows:
    """Where one view's rows for a batch of entity rows are: the view's state as this process
    sees it, the distinct entity keys' positions (-1: absent or expired) and, per entity row,
    which distinct key it has (``identity``: row i has key i, the usual case for coded keys)."""

    read: ViewRead
    state: ViewState | None
    unique: np.ndarray  # int64 positions in ``state.table`` of the distinct keys
    inverse: np.ndarray  # int64 per entity row: its key's index in ``unique``
    identity: bool = False

    @property
    def rows(self) -> np.ndarray:
        """Per entity row, its position in ``state.table`` (-1: absent or expired)."""
        if self.identity:
            return self.unique
        rows: np.ndarray = self.unique[self.inverse]
        return rows


def entity_rows(plan: ServicePlan, entities: Mapping[str, Sequence[Any]]) -> int:
    """How many entity rows ``entities`` holds; a clear error when its columns differ in length
    or lack one that ``plan`` needs."""
    lengths = {len(v) for v in entities.values()}
    if len(lengths) > 1:
        raise LivecartError(f"entity columns differ in length: {sorted(lengths)}")
    missing = [k for k in plan.entity_columns if k not in entities]
    if missing:
        raise LivecartError(f"feature service {plan.name!r} needs entity columns {missing}")
    return lengths.pop() if lengths else 0


def view_rows(
    store: FeatureStore, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]
) -> tuple[int, list[ViewRows]]:
    """(number of entity rows, :class:`ViewRows` per view of ``plan``) on this online store."""
    n = entity_rows(plan, entities)
    cache = read_cache(store.config)
    manifest = cache.manifest()
    if plan.views and not manifest.views:
        # A store with no tables at all is gone (or never materialized): say so instead of
        # answering "no features" for everyone, which callers would mistake for new entities.
        raise LivecartError(
            f"the online store at {cache.directory} has no tables; run `livecart materialize`"
        )
    distinct: dict[tuple[str, ...], tuple[list[tuple[Any, ...]], np.ndarray]] = {}
    out: list[ViewRows] = []
    for read in plan.views:
        state = cache.view(table_name(store.config, read.view), read.join_keys, manifest)
        table = state.table if state is not None else None
        columns = [entities[k] for k in read.join_keys]
        cutoff = cutoff_us(store.config.online_store, read.view)
        if n and table is not None and state is not None:
            coded = _coded(read, state, columns, n, cutoff)
            if coded is not None:
                out.append(coded)
                continue
        if n and table is None:  # no such table here: every row absent, no key walk needed
            absent = np.full(1, -1, dtype=np.int64)
            out.append(ViewRows(read, state, absent, np.zeros(n, dtype=np.int64)))
            continue
        keys = distinct.get(read.join_keys)
        if keys is None:
            keys = distinct[read.join_keys] = distinct_keys(columns)
        uniques, inverse = keys
        positions = np.full(len(uniques), -1, dtype=np.int64)
        if state is not None and table is not None and uniques:
            positions = _lookup(state, uniques)
            positions = expire(state, positions, cutoff)
        out.append(ViewRows(read, state, positions, inverse))
    return n, out


def _coded(
    read: ViewRead,
    state: ViewState,
    columns: Sequence[Sequence[Any]],
    n: int,
    cutoff: float | None,
) -> ViewRows | None:
    """Fast paths for coded keys beside constant ones: a single key of a lasting universe (one
    take on the state's position array), one probe when every key is constant (one request's
    viewer), otherwise one probe per distinct combination of codes (a batch's viewers times
    their candidates' streamers); None without coded keys."""
    if not any(isinstance(col, CodedKeys) for col in columns):
        return None
    varying = [
        i for i, col in enumerate(columns) if isinstance(col, CodedKeys) and not _one_key(col)
    ]
    steady = [col for i, col in enumerate(columns) if i not in varying]
    if not all(isinstance(col, CodedKeys) or _same(col, n) for col in steady):
        return None
    if not varying:
        key = tuple(col[0] for col in columns)
        positions = expire(state, _lookup(state, [key]), cutoff)
        return ViewRows(read, state, positions, np.zeros(n, dtype=np.int64))
    coded = [col for i, col in enumerate(columns) if i in varying and isinstance(col, CodedKeys)]
    if len(columns) == 1 and coded[0].universe.lasting:
        codes = coded[0].codes
        positions = state.positions(coded[0].universe)
        rows = np.where(codes >= 0, positions[np.maximum(codes, 0)], -1)
        rows = expire(state, rows, cutoff)
        return ViewRows(read, state, rows, np.arange(n, dtype=np.int64), identity=True)
    seen, inverse = _distinct_codes(coded)
    found = iter(
        [[(col.universe.values[c] if c >= 0 else None) for c in codes] for col, codes in seen]
    )
    key_columns = [next(found) if i in varying else repeat(col[0]) for i, col in enumerate(columns)]
    keys = list(zip(*key_columns, strict=False))
    positions = expire(state, _lookup(state, keys), cutoff)
    return ViewRows(read, state, positions, inverse)


def _one_key(column: CodedKeys) -> bool:
    """Whether every row has the universe's only key (one request's viewer)."""
    return len(column.universe) == 1 and len(column.codes) > 0 and not column.codes.any()


def _distinct_codes(
    coded: Sequence[CodedKeys],
) -> tuple[list[tuple[CodedKeys, list[int]]], np.ndarray]:
    """The distinct code combinations of coded columns (per column, its codes in each), and
    each row's combination: codes packed into one int64 (mixed radix), one ``np.unique``."""
    bases = [len(col.universe) + 1 for col in coded]  # codes -1 .. len-1, shifted by one
    if float(np.prod(np.asarray(bases, dtype=np.float64))) >= 2.0**62:
        stacked = np.stack([col.codes for col in coded], axis=1)
        rows, inverse = np.unique(stacked, axis=0, return_inverse=True)
        return [(col, rows[:, j].tolist()) for j, col in enumerate(coded)], inverse.reshape(-1)
    packed = np.zeros(len(coded[0].codes), dtype=np.int64)
    for col, base in zip(coded, bases, strict=True):
        packed = packed * base + (col.codes + 1)
    unique, inverse = np.unique(packed, return_inverse=True)
    out: list[tuple[CodedKeys, list[int]]] = []
    for col, base in zip(reversed(coded), reversed(bases), strict=True):
        out.append((col, (unique % base - 1).tolist()))
        unique = unique // base
    return out[::-1], inverse.astype(np.int64).reshape(-1)


def _lookup(state: ViewState, keys: Sequence[tuple[Any, ...]]) -> np.ndarray:
    get = state.index.get
    return np.fromiter((get(key, -1) for key in keys), dtype=np.int64, count=len(keys))


def distinct_keys(
    columns: Sequence[Sequence[Any]],
) -> tuple[list[tuple[Any, ...]], np.ndarray]:
    """The distinct key tuples of the entity rows, first-seen order, and each row's index.

    Columns holding one value throughout (the viewer of a request's candidate rows) are not
    walked row by row: only the varying ones are."""
    n = len(columns[0]) if columns else 0
    if n == 0:
        return [], np.zeros(0, dtype=np.int64)
    constant = [_same(col, n) for col in columns]
    moving = [col for col, same in zip(columns, constant, strict=True) if not same]
    if not moving:
        return [tuple(col[0] for col in columns)], np.zeros(n, dtype=np.int64)
    if len(moving) == 1 and isinstance(moving[0], CodedKeys):
        distinct, inverse = _first_seen(moving[0])
    else:
        distinct, inverse = _distinct_values([list(col) for col in moving], n)
    parts = iter([distinct] if len(moving) == 1 else [list(x) for x in zip(*distinct, strict=True)])
    key_columns_ = [
        repeat(col[0], len(distinct)) if same else next(parts)
        for col, same in zip(columns, constant, strict=True)
    ]
    return list(zip(*key_columns_, strict=False)), inverse


def _same(column: Sequence[Any], n: int) -> bool:
    """Whether all ``n`` rows hold one key (a coded column: from its codes)."""
    if isinstance(column, CodedKeys):
        return column.constant()
    return len(column) > 0 and list(column).count(column[0]) == n


def _first_seen(column: CodedKeys) -> tuple[list[Any], np.ndarray]:
    """A coded column's distinct values in first-seen order and each row's index among them,
    from its codes (numpy) rather than a dictionary probe per row."""
    codes = column.codes
    unique, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    if len(unique) == len(codes):  # all distinct (a request's candidate products)
        return column.tolist(), np.arange(len(codes), dtype=np.int64)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    distinct: list[Any] = column.universe.objects()[unique[order]].tolist()
    return distinct, rank[inverse.reshape(-1)]


def _distinct_values(varying: list[list[Any]], n: int) -> tuple[list[Any], np.ndarray]:
    values = varying[0] if len(varying) == 1 else list(zip(*varying, strict=True))
    if len(set(values)) == n:  # all distinct (a request's candidate products): no dedupe walk
        distinct, inverse = list(values), np.arange(n, dtype=np.int64)
    else:
        first: dict[Any, int] = {}
        setdefault = first.setdefault
        inverse = np.fromiter((setdefault(v, len(first)) for v in values), dtype=np.int64, count=n)
        distinct = list(first)
    return distinct, inverse


def expire(state: ViewState, rows: np.ndarray, cutoff: float | None) -> np.ndarray:
    """``rows`` with positions whose event time is before ``cutoff`` (``expiry.cutoff_us``)
    set to -1; None expires nothing."""
    if cutoff is None:
        return rows
    if state.oldest_event_us() >= cutoff:  # no row of this state is that old
        return rows
    found = rows >= 0
    stale = np.zeros(len(rows), dtype=bool)
    stale[found] = state.event_us[rows[found]] < cutoff
    return np.where(stale, -1, rows)
