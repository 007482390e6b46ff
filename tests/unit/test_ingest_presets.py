"""`livecart ingest tables PATH --preset NAME`: the Twitch log and an interactions file read by
their presets and written by the one ingest path, the same world as `ingest twitch` and
`ingest interactions` write; bad rows quarantined with file, line and reason, never dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from livecart.cli import choices
from livecart.cli.main import app
from livecart.core import contract as c
from livecart.core.errors import ContractError, GateBlocked, LivecartError
from livecart.core.io import read_source
from livecart.core.settings import LivecartSettings
from livecart.model.interaction_log import DATASET_MANIFEST, visit_event_types
from ray_jobs.ingest.interactions import LINE_NUMBER, QUARANTINE_FILE, RAW_LINE
from ray_jobs.ingest.presets import PRESETS, TWITCH, get_preset
from ray_jobs.ingest.tables import TablesConfig, TablesResult, run
from ray_jobs.ingest.twitch import TWITCH_SHA256, TwitchConfig
from ray_jobs.ingest.twitch import run as run_twitch

# index,user_id,streamer_name,start_time,community (tests/unit/test_ingest_twitch.py's layout)
TWITCH_LOG = """,user_id,streamer_name,start_time,community
10,1,7,0,3
11,2,7,2,3
12,1,7,8,3
13,1,7,20,3
14,2,9,5,4
"""
INTERACTIONS = (
    "user_id,item_id,timestamp\n"
    "a,x,1700000000\n"
    "b,x,1700000060\n"
    "c,y,not-a-time\n"  # line 4: quarantined
    "a,y,1700000120\n"
)
EVENTS = ("event_id", "event_timestamp", "viewer_id", "room_id", "streamer_id")


def _preset(settings: LivecartSettings, path: Path, preset: str, **options: object) -> TablesResult:
    config = TablesConfig(settings=settings, directory=path, preset=preset, preset_options=options)
    return run(config)


def _twitch_log(tmp_path: Path) -> Path:
    path = tmp_path / "twitch.csv"
    path.write_text(TWITCH_LOG)
    return path


def _manifest(settings: LivecartSettings) -> dict[str, object]:
    found: dict[str, object] = json.loads((settings.raw_dir / DATASET_MANIFEST).read_text())
    return found


def _world(settings: LivecartSettings) -> dict[c.Table, list[dict[str, object]]]:
    tables = (c.Table.VIEWERS, c.Table.STREAMERS, c.Table.ROOMS, c.Table.EVENTS)
    return {t: read_source(settings.raw_dir, t).to_pylist() for t in tables}


def test_preset_interactions__bad_line__quarantined_with_line_and_reason_rest_kept(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    path = tmp_path / "log.csv"
    path.write_text(INTERACTIONS)
    result = _preset(settings, path, "interactions")
    assert result.rows == {"events": 3, "viewers": 2, "streamers": 2, "rooms": 2}
    assert result.quarantined == {"events": 1}
    assert result.quarantine_path == settings.quarantine_dir / QUARANTINE_FILE
    (bad,) = pq.read_table(result.quarantine_path).to_pylist()
    assert (bad[LINE_NUMBER], bad[RAW_LINE], bad["file"]) == (4, "c,y,not-a-time", str(path))
    assert bad[c.QUARANTINE_REASON].startswith("timestamp: unparseable timestamp 'not-a-time'")
    world = _world(settings)
    assert [e[c.EVENT_ID] for e in world[c.Table.EVENTS]] == ["it-e2", "it-e3", "it-e5"]
    assert [r[c.ROOM_ID] for r in world[c.Table.ROOMS]] == ["it-rx", "it-ry"]
    assert [s[c.FOLLOWER_COUNT] for s in world[c.Table.STREAMERS]] == [2, 1]
    manifest = _manifest(settings)
    assert (manifest["name"], manifest["preset"], manifest["rows"]) == (
        "interactions",
        "interactions",
        4,
    )
    assert visit_event_types(settings) == ("watch",)


def test_preset_interactions__too_many_bad_lines__gate_blocks_before_writing(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user_id,item_id,timestamp\na,x,1700000000\nb,x,never\nc,y,soon\n")
    with pytest.raises(GateBlocked, match=r"log\.csv: 2 of 3 rows quarantined"):
        _preset(settings, path, "interactions")
    assert not (settings.raw_dir / DATASET_MANIFEST).exists()
    assert pq.read_table(settings.quarantine_dir / QUARANTINE_FILE).num_rows == 2


def test_preset_twitch__tiny_log__sessions_timestamps_and_same_world_as_ingest_twitch(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    path = _twitch_log(tmp_path)
    result = _preset(settings, path, "twitch", expected_sha256=None, session_gap_steps=6)
    assert result.rows == {"events": 5, "viewers": 2, "streamers": 2, "rooms": 3}
    via_preset = _world(settings)
    rooms = [(r[c.ROOM_ID], r[c.CATEGORY]) for r in via_preset[c.Table.ROOMS]]
    assert rooms == [
        ("tw-r7-0", "community-3"),
        ("tw-r7-1", "community-3"),
        ("tw-r9-0", "community-4"),
    ]
    assert _manifest(settings)["name"] == "twitch"
    run_twitch(TwitchConfig(settings=settings, path=path, expected_sha256=None, progress=False))
    assert _world(settings) == via_preset


def test_preset_twitch__options__reach_the_reader(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    path = _twitch_log(tmp_path)
    with pytest.raises(ContractError, match=f"sha256 mismatch: expected {TWITCH_SHA256}"):
        _preset(settings, path, "twitch")  # the published hash is checked by default
    _preset(settings, path, "twitch", expected_sha256=None, session_gap_steps=5)
    rooms = read_source(settings.raw_dir, c.Table.ROOMS)[c.ROOM_ID].to_pylist()
    assert rooms == ["tw-r7-0", "tw-r7-1", "tw-r7-2", "tw-r9-0"]  # gap 6 (2 -> 8) now splits


def test_preset__unknown_name__error_lists_the_presets(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    with pytest.raises(
        LivecartError, match="unknown preset 'bogus': use one of interactions, twitch"
    ):
        _preset(settings, tmp_path / "log.csv", "bogus")
    assert get_preset("twitch") is TWITCH


def test_preset__unknown_option_or_mapping__refused(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    path = _twitch_log(tmp_path)
    with pytest.raises(ValueError, match="session_gap"):
        _preset(settings, path, "twitch", session_gap=3)
    config = TablesConfig(
        settings=settings, directory=path, preset="twitch", mapping=tmp_path / "m.yaml"
    )
    with pytest.raises(ContractError, match="a mapping is for export directories"):
        run(config)


def test_cli_ingest_tables__preset_option__ingests_the_file(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    path = tmp_path / "log.csv"
    path.write_text(INTERACTIONS)
    args = ["ingest", "tables", str(path), "--preset", "interactions", "--name", "mine", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["rows"]["events"], out["quarantined"]["events"]) == (3, 1)
    assert _manifest(settings)["name"] == "mine"


def test_cli_ingest_tables__unknown_preset__usage_error_names_the_presets(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["ingest", "tables", str(tmp_path), "--preset", "bogus"])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "'bogus' is not one of" in message
    assert all(f"'{name}'" in message for name in PRESETS)


def test_cli_choices__presets_match_the_registry() -> None:
    assert [p.value for p in choices.IngestPreset] == list(PRESETS)
