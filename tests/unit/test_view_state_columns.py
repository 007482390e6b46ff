"""Per-state caches: the store's ViewState and the reader's derived values (livecart.features.derived)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from livecart.features import derived
from livecart.online.bookkeeping import CREATED_TS, EVENT_TS
from livecart.online.state import ViewState, append_rows


def _state(lists: list[list[str | None] | None]) -> ViewState:
    column = pa.array(lists, type=pa.list_(pa.string()))
    return ViewState(table=pa.table({"tags": column, "k": list(range(len(lists)))}))


def test_memberships__list_column__one_hot_per_row_nulls_and_unknown_ignored() -> None:
    state = _state([["b", "a"], None, ["x", None, "b", "b"], [], ["c"]])
    found = derived.memberships(state, "tags", ("a", "b", "c"))
    assert found.dtype == np.float32
    assert found.tolist() == [[1, 1, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]]
    assert derived.memberships(state, "tags", ("a", "b", "c")) is found  # cached for this state
    assert derived.memberships(state, "tags", ("c",)).tolist() == [[0], [0], [0], [0], [1]]


def _rows(tags: list[list[str]], keys: list[int]) -> pa.Table:
    stamp = pa.array([1] * len(keys), type=pa.timestamp("us", tz="UTC"))
    return pa.table(
        {
            "tags": pa.array(tags, type=pa.list_(pa.string())),
            "k": keys,
            EVENT_TS: stamp,
            CREATED_TS: stamp,
        }
    )


def test_derived__rows_appended__recomputed_for_the_new_rows() -> None:
    state = ViewState()
    append_rows(state, _rows([["a"], ["b"]], [0, 1]), ["k"], trusted=True)
    found = derived.memberships(state, "tags", ("a", "b"))
    assert found.tolist() == [[1, 0], [0, 1]]
    append_rows(state, _rows([["b"]], [2]), ["k"], trusted=False)
    assert derived.memberships(state, "tags", ("a", "b")).tolist() == [[1, 0], [0, 1], [0, 1]]


def test_derived__codes__label_positions_nulls_and_unknown_minus_one() -> None:
    state = ViewState(table=pa.table({"c": pa.array(["b", None, "zz", "a"])}))
    assert derived.codes(state, "c", ("a", "b")).tolist() == [1, -1, -1, 0]


def test_oldest_event__empty_state__expires_nothing() -> None:
    assert ViewState().oldest_event_us() == np.iinfo(np.int64).max
    state = ViewState(event_us=np.array([30, 10, 20], dtype=np.int64))
    assert state.oldest_event_us() == 10
