"""The Twitch adapter on the real shared log: published counts, valid rooms, UTC, pseudonyms."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from livecart.core.contract import (
    END_TIMESTAMP,
    EVENT_TIMESTAMP,
    ROOM_ID,
    SCHEMAS,
    START_TIMESTAMP,
    STREAMER_ID,
    VIEWER_ID,
    Table,
)
from livecart.core.io import read_source
from livecart.core.settings import LivecartSettings
from ray_jobs.ingest.twitch import DEFAULT_TWITCH_PATH, TwitchConfig, TwitchResult, run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not DEFAULT_TWITCH_PATH.is_file(),
        reason=f"shared Twitch log not present at {DEFAULT_TWITCH_PATH}",
    ),
]


def _ingest(home: Path, **options: object) -> tuple[TwitchResult, Path]:
    settings = LivecartSettings(home=home, **options)  # type: ignore[arg-type]
    return run(TwitchConfig(settings=settings, progress=False)), settings.raw_dir


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[TwitchResult, Path]:
    return _ingest(tmp_path_factory.mktemp("twitch"))


def test_twitch__real_log__published_counts(ingested: tuple[TwitchResult, Path]) -> None:
    result, raw = ingested
    assert (result.viewers, result.streamers, result.events) == (2_000, 1_742, 105_745)
    assert read_source(raw, Table.VIEWERS).num_rows == 2_000
    assert read_source(raw, Table.STREAMERS).num_rows == 1_742
    assert read_source(raw, Table.EVENTS).num_rows == 105_745
    for table in (Table.VIEWERS, Table.STREAMERS, Table.ROOMS, Table.EVENTS):
        assert read_source(raw, table).schema == SCHEMAS[table]


def test_twitch__real_log__every_event_inside_an_existing_room(
    ingested: tuple[TwitchResult, Path],
) -> None:
    _, raw = ingested
    events = read_source(raw, Table.EVENTS)
    rooms = read_source(raw, Table.ROOMS)
    con = duckdb.connect()
    con.register("events", events)
    con.register("rooms", rooms)
    orphans, outside, wrong_streamer = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE r.{ROOM_ID} IS NULL),
               count(*) FILTER (WHERE e.{EVENT_TIMESTAMP} < r.{START_TIMESTAMP}
                                   OR e.{EVENT_TIMESTAMP} > r.{END_TIMESTAMP}),
               count(*) FILTER (WHERE e.{STREAMER_ID} <> r.{STREAMER_ID})
        FROM events e LEFT JOIN rooms r ON e.{ROOM_ID} = r.{ROOM_ID}
        """
    ).fetchone() or (None, None, None)
    assert (orphans, outside, wrong_streamer) == (0, 0, 0)
    assert len(rooms[ROOM_ID].unique()) == rooms.num_rows


def test_twitch__real_log__timestamps_utc_and_sorted(ingested: tuple[TwitchResult, Path]) -> None:
    _, raw = ingested
    events = read_source(raw, Table.EVENTS)
    column = events[EVENT_TIMESTAMP]
    assert column.type == pa.timestamp("us", tz="UTC")
    times = column.to_pylist()
    assert times == sorted(times)
    assert all(t.utcoffset().total_seconds() == 0 for t in times[:: len(times) // 50])
    rooms = read_source(raw, Table.ROOMS)
    assert rooms.schema.field(START_TIMESTAMP).type.tz == "UTC"
    assert rooms.schema.field(END_TIMESTAMP).type.tz == "UTC"


def test_twitch__hash_viewer_ids__no_clear_ids_and_stable(tmp_path: Path) -> None:
    first, raw_a = _ingest(tmp_path / "a", hash_viewer_ids=True, id_salt="integration-salt")
    _, raw_b = _ingest(tmp_path / "b", hash_viewer_ids=True, id_salt="integration-salt")
    ids_a = read_source(raw_a, Table.EVENTS)[VIEWER_ID].to_pylist()
    ids_b = read_source(raw_b, Table.EVENTS)[VIEWER_ID].to_pylist()
    viewers = read_source(raw_a, Table.VIEWERS)[VIEWER_ID].to_pylist()
    assert not any("tw-u" in v for v in ids_a + viewers)
    assert ids_a == ids_b
    assert len(set(viewers)) == first.viewers == 2_000
    assert set(ids_a) == set(viewers)
