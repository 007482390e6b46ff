"""The Twitch adapter's mapping on a hand-made log in the same layout (no shared data needed)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from livecart.core.contract import (
    CATEGORY,
    END_TIMESTAMP,
    EVENT_ID,
    EVENT_TIMESTAMP,
    FOLLOWER_COUNT,
    INTEREST_CATEGORIES,
    MAIN_CATEGORY,
    ROOM_ID,
    SIGNUP_TIMESTAMP,
    START_TIMESTAMP,
    STREAMER_ID,
    TITLE,
    VIEWER_ID,
    Table,
)
from livecart.core.errors import ContractError
from livecart.core.io import read_source, source_exists
from livecart.core.settings import LivecartSettings
from ray_jobs.ingest.twitch import TWITCH_EPOCH, TwitchConfig, run

# index,user_id,streamer_name,start_time,community
LOG = """,user_id,streamer_name,start_time,community
10,1,7,0,3
11,2,7,2,3
12,1,7,8,3
13,1,7,20,3
14,2,9,5,4
15,1,9,5,4
16,1,9,30,4
"""


def _step(step: int) -> object:
    return TWITCH_EPOCH + timedelta(minutes=10 * step)


def _run(tmp_path: Path, gap: int = 6) -> LivecartSettings:
    path = tmp_path / "twitch.csv"
    path.write_text(LOG)
    settings = LivecartSettings(home=tmp_path / "home")
    config = TwitchConfig(
        settings=settings, path=path, session_gap_steps=gap, expected_sha256=None, progress=False
    )
    result = run(config)
    assert (result.rows, result.events, result.viewers, result.streamers) == (7, 7, 2, 2)
    return settings


def test_twitch__gap_of_more_than_six_steps__splits_rooms(tmp_path: Path) -> None:
    rooms = read_source(_run(tmp_path).raw_dir, Table.ROOMS).to_pylist()
    spans = [(r[ROOM_ID], r[START_TIMESTAMP], r[END_TIMESTAMP]) for r in rooms]
    assert spans == [
        ("tw-r7-0", _step(0), _step(9)),  # steps 0, 2, 8: gaps 2 and 6 stay in one room
        ("tw-r7-1", _step(20), _step(21)),
        ("tw-r9-0", _step(5), _step(6)),
        ("tw-r9-1", _step(30), _step(31)),
    ]
    assert rooms[0][TITLE] == "streamer 7 live (community-3)"
    assert rooms[0][CATEGORY] == "community-3"


def test_twitch__gap_setting__changes_room_count(tmp_path: Path) -> None:
    rooms = read_source(_run(tmp_path, gap=5).raw_dir, Table.ROOMS)
    assert rooms[ROOM_ID].to_pylist() == ["tw-r7-0", "tw-r7-1", "tw-r7-2", "tw-r9-0", "tw-r9-1"]


def test_twitch__events__in_time_order_inside_their_room(tmp_path: Path) -> None:
    raw = _run(tmp_path).raw_dir
    events = read_source(raw, Table.EVENTS).to_pylist()
    rooms = {r[ROOM_ID]: r for r in read_source(raw, Table.ROOMS).to_pylist()}
    assert [e[EVENT_ID] for e in events] == [f"tw-e{n}" for n in (10, 11, 14, 15, 12, 13, 16)]
    times = [e[EVENT_TIMESTAMP] for e in events]
    assert times == sorted(times)
    for event in events:
        room = rooms[event[ROOM_ID]]
        assert room[STREAMER_ID] == event[STREAMER_ID]
        assert room[START_TIMESTAMP] <= event[EVENT_TIMESTAMP] <= room[END_TIMESTAMP]


def test_twitch__viewers_and_streamers__derived_from_watches(tmp_path: Path) -> None:
    raw = _run(tmp_path).raw_dir
    viewers = {v[VIEWER_ID]: v for v in read_source(raw, Table.VIEWERS).to_pylist()}
    streamers = {s[STREAMER_ID]: s for s in read_source(raw, Table.STREAMERS).to_pylist()}
    assert viewers["tw-u1"][SIGNUP_TIMESTAMP] == _step(0)
    assert viewers["tw-u2"][SIGNUP_TIMESTAMP] == _step(2)
    assert viewers["tw-u1"][INTEREST_CATEGORIES] == ["community-3", "community-4"]
    assert viewers["tw-u2"][INTEREST_CATEGORIES] == ["community-3", "community-4"]
    assert streamers["tw-s7"][MAIN_CATEGORY] == "community-3"
    assert streamers["tw-s9"][FOLLOWER_COUNT] == 2
    assert not source_exists(raw, Table.PRODUCTS)
    manifest = json.loads((raw / "dataset.json").read_text())
    assert (manifest["name"], manifest["rows"]) == ("twitch", 7)


def test_twitch__sha256_mismatch__contract_error(tmp_path: Path) -> None:
    path = tmp_path / "twitch105k.csv"
    path.write_text(LOG)
    config = TwitchConfig(settings=LivecartSettings(home=tmp_path / "home"), path=path)
    with pytest.raises(ContractError, match="sha256 mismatch"):
        run(config)
    assert not (tmp_path / "home" / "raw").exists()


def test_twitch__missing_column__contract_error(tmp_path: Path) -> None:
    path = tmp_path / "twitch.csv"
    path.write_text(",user_id,streamer_name,start_time\n1,1,1,1\n")
    config = TwitchConfig(
        settings=LivecartSettings(home=tmp_path / "home"), path=path, expected_sha256=None
    )
    with pytest.raises(ContractError) as error:
        run(config)
    assert error.value.column == "community"
