"""Time-ordered splits and candidate sets on a toy log, and reading interactions from the contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from livecart.core.contract import (
    EVENT_ID,
    EVENT_TIMESTAMP,
    EVENT_TYPE,
    ROOM_ID,
    SCHEMAS,
    STREAMER_ID,
    VIEWER_ID,
    EventType,
    Table,
)
from livecart.core.errors import ContractError
from livecart.core.io import write_source
from livecart.model.interaction_log import from_arrays, load_interactions
from ray_jobs.evaluation.protocols import (
    Split,
    leave_last_out,
    live_now,
    live_summary,
    sampled_negatives,
)

# (user, item, time): user a's last row is x at 10; b is active around it; c is old; d has 1 row.
TOY = [
    ("a", "y", 2),
    ("c", "q", 3),
    ("b", "z", 7),
    ("a", "y", 8),
    ("a", "x", 10),
    ("b", "r", 10),
    ("b", "s", 11),
    ("d", "z", 5),
]


def toy_split() -> Split:
    users, items, times = zip(*TOY, strict=True)
    return leave_last_out(from_arrays(users, items, times))


def _target_of(split: Split, user: str) -> int:
    index = split.observed.user_ids.index(user)
    return int(np.flatnonzero(split.targets.users == index)[0])


def test_leave_last_out__toy__last_row_per_user_is_target() -> None:
    split = toy_split()
    log = split.observed
    found = {
        log.user_ids[u]: (log.item_ids[i], int(t))
        for u, i, t in zip(
            split.targets.users, split.targets.items, split.targets.times, strict=True
        )
    }
    # c and d have one row each: no target, their rows stay in training.
    assert found == {"a": ("x", 10), "b": ("s", 11)}
    assert len(split.train) == len(TOY) - 2


def test_leave_last_out__toy__target_never_in_own_history_and_history_earlier() -> None:
    split = toy_split()
    train_keys = set(zip(split.train.users, split.train.items, split.train.times, strict=True))
    for k in range(len(split.targets)):
        user, row = int(split.targets.users[k]), int(split.targets.rows[k])
        history = split.train.user_rows(user)
        assert split.train.times[history].max() <= split.targets.times[k]
        assert split.observed.users[row] == user
        key = (user, split.targets.items[k], split.targets.times[k])
        assert key not in train_keys
    a = _target_of(split, "a")
    assert split.targets.history_length[a] == 2
    assert not split.targets.repeat[a]  # x is new for a
    assert split.targets.cold[a]


def test_leave_last_out__same_time__written_order_decides() -> None:
    data = from_arrays(["u", "u", "u"], ["first", "second", "third"], [5, 9, 9])
    split = leave_last_out(data)
    assert data.item_ids[int(split.targets.items[0])] == "third"
    assert split.targets.history_length[0] == 2


def test_leave_last_out__repeat_target__flagged() -> None:
    split = leave_last_out(from_arrays(["u"] * 3, ["a", "b", "a"], [1, 2, 3]))
    assert split.targets.repeat[0]


def test_live_now__excludes_target_users_rows_and_future() -> None:
    split = toy_split()
    a = _target_of(split, "a")
    names = split.observed.item_ids
    mask = live_now(split, window=6, include_current=True, include_target=False, rows=np.array([a]))
    live = {names[i] for i in np.flatnonzero(mask[0])}
    # z (b at 7) and r (b at 10, same unit) are live; y is only a's own row; q (3) is too old;
    # s (b at 11) is in the future.
    assert live == {"z", "r"}
    strict = live_now(split, 6, include_current=False, include_target=False, rows=np.array([a]))
    assert {names[i] for i in np.flatnonzero(strict[0])} == {"z"}
    with_target = live_now(split, 6, include_current=True, include_target=True, rows=np.array([a]))
    assert {names[i] for i in np.flatnonzero(with_target[0])} == {"z", "r", "x"}


def test_live_now__own_target_row__never_makes_itself_live() -> None:
    split = leave_last_out(from_arrays(["u", "u", "v"], ["a", "b", "c"], [1, 5, 5]))
    share, median = live_summary(split, window=6)
    assert (share, median) == (0.0, 2.0)  # v's c is live; b only through the target
    mask = live_now(split, 6, include_target=False)
    assert not mask[0, split.observed.item_ids.index("b")]


def test_sampled_negatives__outside_history__seeded_and_batch_independent() -> None:
    rng = np.random.default_rng(1)
    users = [f"u{k % 20}" for k in range(400)]
    items = [f"i{rng.integers(0, 300)}" for _ in range(400)]
    split = leave_last_out(from_arrays(users, items, list(range(400))))
    whole = sampled_negatives(split, n_negatives=100, seed=4)
    assert (whole.sum(axis=1) == 101).all()
    assert whole[np.arange(len(split.targets)), split.targets.items].all()
    for k in range(len(split.targets)):
        user = int(split.targets.users[k])
        history = set(split.train.items[split.train.user_rows(user)]) - {split.targets.items[k]}
        assert not whole[k, sorted(history)].any()
    part = sampled_negatives(split, 100, seed=4, rows=np.array([3, 7]))
    assert np.array_equal(part, whole[[3, 7]])
    assert not np.array_equal(sampled_negatives(split, 100, seed=5), whole)


def _events(rows: list[tuple[str, str, str, datetime]]) -> pa.Table:
    schema = SCHEMAS[Table.EVENTS]
    columns = {
        EVENT_ID: [f"e{k}" for k in range(len(rows))],
        EVENT_TYPE: [r[0] for r in rows],
        EVENT_TIMESTAMP: [r[3] for r in rows],
        VIEWER_ID: [r[1] for r in rows],
        ROOM_ID: ["room" for _ in rows],
        STREAMER_ID: [r[2] for r in rows],
    }
    arrays = [
        pa.array(columns[f.name], type=f.type) if f.name in columns else pa.nulls(len(rows), f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def test_load_interactions__contract_events__filtered_sorted_in_units(tmp_path: Path) -> None:
    t0 = datetime(2019, 10, 1, tzinfo=UTC)
    watch, like = EventType.WATCH.value, EventType.LIKE.value
    rows = [
        (watch, "v2", "s1", t0 + timedelta(minutes=25)),
        (watch, "v1", "s2", t0 + timedelta(minutes=5)),
        (like, "v1", "s3", t0),
        (watch, "v1", "s1", t0 + timedelta(minutes=5)),  # same time: written order kept
    ]
    write_source(tmp_path, Table.EVENTS, _events(rows))
    data = load_interactions(tmp_path, (watch,), time_unit_seconds=600)
    assert len(data) == 3
    assert [data.item_ids[i] for i in data.items] == ["s2", "s1", "s1"]
    assert [data.user_ids[u] for u in data.users] == ["v1", "v1", "v2"]
    base = int(t0.timestamp()) // 600
    assert list(data.times - base) == [0, 0, 2]


def test_load_interactions__unknown_type_or_no_events__contract_error(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="no events"):
        load_interactions(tmp_path)
    write_source(tmp_path, Table.EVENTS, _events([("watch", "v", "s", datetime.now(UTC))]))
    with pytest.raises(ContractError, match="unknown event types"):
        load_interactions(tmp_path, ("binge",))
