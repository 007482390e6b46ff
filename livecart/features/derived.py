"""Model-shaped values derived from an online view's rows, kept by the reader, not the store.

The store's :class:`~livecart.online.state.ViewState` holds rows and row-shaped caches (columns,
numeric matrices, vectors). What the ranker asks of them per label set (a category's position in
the model's category list, one-hot declared interests) is computed here once per state and
dropped when the state's rows change (:attr:`ViewState.version`) or the state is gone.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from livecart.online.state import ViewState

_Memo = dict[Hashable, np.ndarray]
_MEMOS: dict[int, tuple[weakref.ref[ViewState], int, _Memo]] = {}


def _memo(state: ViewState) -> _Memo:
    """This state's derived values at its current version (a new memo after an append)."""
    key = id(state)
    entry = _MEMOS.get(key)
    if entry is None or entry[0]() is not state or entry[1] != state.version:
        ref = weakref.ref(state, lambda _, key=key: _MEMOS.pop(key, None))  # type: ignore[misc]
        entry = _MEMOS[key] = (ref, state.version, {})
    return entry[2]


def _cached(state: ViewState, key: Hashable, build: Callable[[], np.ndarray]) -> np.ndarray:
    memo = _memo(state)
    found = memo.get(key)
    if found is None:
        found = memo[key] = build()
    return found


def codes(state: ViewState, name: str, labels: tuple[str, ...]) -> np.ndarray:
    """int64 position of each stored row's string in ``labels``, -1 where null or unknown."""

    def build() -> np.ndarray:
        found = pc.index_in(state.column(name), value_set=pa.array(labels, pa.string()))
        out: np.ndarray = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        return out

    return _cached(state, ("codes", name, labels), build)


def memberships(state: ViewState, name: str, labels: tuple[str, ...]) -> np.ndarray:
    """``(rows, len(labels))`` float32: 1 where the row's list of strings holds the label."""

    def build() -> np.ndarray:
        column = state.column(name)
        items = pc.list_flatten(column)
        owner = pc.list_parent_indices(column).to_numpy()
        found = pc.index_in(items, value_set=pa.array(labels, pa.string()))
        label = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        out = np.zeros((len(column), len(labels)), dtype=np.float32)
        hit = label >= 0
        out[owner[hit], label[hit]] = 1.0
        return out

    return _cached(state, ("memberships", name, labels), build)
