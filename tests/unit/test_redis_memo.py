"""States decoded from Redis answers are reused only for the very same answer
(:class:`livecart.features.redis_memo.StateMemo`).

A reused state must be the one the same view layout, keys and cells decoded into: a changed cell,
another view's layout or other keys must decode anew, and the memo stays within its bounds.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from livecart.features.redis_memo import StateMemo
from livecart.online.state import ViewState


def _decoded(value: int) -> tuple[ViewState, np.ndarray]:
    return ViewState(table=pa.table({"x": [value]})), np.zeros(1, dtype=np.int64)


def test_state_memo__same_answer_reused__changed_cell_other_view_or_keys_decoded_anew() -> None:
    memo = StateMemo()
    profile, behavior = object(), object()  # two views' layouts
    keys = [("v1",)]
    answered = [[b"\x08\x01", b"ts"]]
    first = _decoded(1)
    assert memo.get(profile, keys, answered) is None
    memo.put(profile, keys, answered, first)
    assert memo.get(profile, keys, [[b"\x08\x01", b"ts"]]) is first  # equal cells, new lists
    assert memo.get(profile, keys, [[b"\x08\x02", b"ts"]]) is None  # a value changed
    assert memo.get(profile, keys, [[b"\x08\x01", b"ts2"]]) is None  # only its timestamp
    assert memo.get(profile, keys, [[None, b"ts"]]) is None  # a value deleted
    assert memo.get(behavior, keys, answered) is None  # another view, same key and cells
    assert memo.get(profile, [("v2",)], answered) is None  # another viewer, same cells
    assert (memo.hits, memo.misses) == (1, 6)
    changed = _decoded(2)
    memo.put(profile, keys, [[b"\x08\x02", b"ts"]], changed)
    assert memo.get(profile, keys, [[b"\x08\x02", b"ts"]]) is changed
    assert memo.get(profile, keys, answered) is None  # the older answer is gone


def test_state_memo__bounded__least_recently_used_out_and_large_reads_not_kept() -> None:
    memo = StateMemo(kept=2, max_keys=3)
    layout = object()
    cells = [[b"a", b"t"]]
    for name in ("v1", "v2"):
        memo.put(layout, [(name,)], cells, _decoded(0))
    assert memo.get(layout, [("v1",)], cells) is not None  # v1 now the most recent
    memo.put(layout, [("v3",)], cells, _decoded(0))
    assert memo.get(layout, [("v2",)], cells) is None  # evicted
    assert memo.get(layout, [("v1",)], cells) is not None
    assert memo.keeps([("a",)] * 3) and not memo.keeps([("a",)] * 4) and not memo.keeps([])
