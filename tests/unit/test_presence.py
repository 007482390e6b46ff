"""The ingest state's presence index: each viewer in the room of their latest entry."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from livecart.core import contract as c
from serving.presence import Presence


def test_latest_entry_wins__older_entries_never_move_a_viewer_back() -> None:
    index = Presence()
    index.enter([("a", "r1", 10.0), ("b", "r1", 11.0), ("a", "r2", 20.0), ("a", "r1", 15.0)])
    assert index.audience("r1", since=0) == ["b"]
    assert index.audience("r2", since=0) == ["a"]
    assert index.audience("r1", since=12.0) == [] and index.audience("nowhere", 0) == []


def test_forget_before__drops_old_entries_and_empty_rooms() -> None:
    index = Presence()
    index.enter([("a", "r1", 10.0), ("b", "r2", 30.0)])
    index.forget_before(20.0)
    assert index.audience("r1", 0) == [] and index.audience("r2", 0) == ["b"]
    index.enter([("a", "r2", 25.0)])
    assert sorted(index.audience("r2", 0)) == ["a", "b"]


def test_add_events__reads_enter_room_events_of_a_contract_batch() -> None:
    at = [datetime(2026, 1, 1, 0, 0, s, tzinfo=UTC) for s in (1, 2, 3, 4)]
    batch = pa.table(
        {
            c.EVENT_TYPE: ["enter_room", "click", "enter_room", "enter_room"],
            c.VIEWER_ID: ["a", "a", "b", None],
            c.ROOM_ID: ["r1", "r2", "r1", "r1"],
            c.EVENT_TIMESTAMP: pa.array(at, pa.timestamp("us", tz="UTC")),
        }
    )
    index = Presence()
    index.add_events(batch)
    assert index.audience("r1", since=at[0].timestamp()) == ["a", "b"]
    assert index.audience("r1", since=at[2].timestamp()) == ["b"]
    assert index.audience("r2", since=0) == []
