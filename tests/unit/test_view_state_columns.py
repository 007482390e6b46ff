"""Per-state column caches of the online store's reader (livecart.online.state.ViewState)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from livecart.online.state import ViewState


def _state(lists: list[list[str | None] | None]) -> ViewState:
    column = pa.array(lists, type=pa.list_(pa.string()))
    return ViewState(table=pa.table({"tags": column, "k": list(range(len(lists)))}))


def test_memberships__list_column__one_hot_per_row_nulls_and_unknown_ignored() -> None:
    state = _state([["b", "a"], None, ["x", None, "b", "b"], [], ["c"]])
    found = state.memberships("tags", ("a", "b", "c"))
    assert found.dtype == np.float32
    assert found.tolist() == [[1, 1, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]]
    assert state.memberships("tags", ("a", "b", "c")) is found  # cached for this state
    assert state.memberships("tags", ("c",)).tolist() == [[0], [0], [0], [0], [1]]


def test_oldest_event__empty_state__expires_nothing() -> None:
    assert ViewState().oldest_event_us() == np.iinfo(np.int64).max
    state = ViewState(event_us=np.array([30, 10, 20], dtype=np.int64))
    assert state.oldest_event_us() == 10
