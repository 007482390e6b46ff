"""An ingest never wipes a world: a file with no usable rows, or too many bad ones, is refused
with a clear error and the home's raw world stays as it was; a row the reader cannot parse (a
stray carriage return, a field over the csv module's limit) is quarantined with its reason while
the rows beside it go through; old-Mac (CR-only) files are read line by line."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from livecart.core.contract import (
    EVENT_ID,
    PRODUCT_ID,
    QUARANTINE_REASON,
    ROOM_ID,
    Table,
)
from livecart.core.errors import ContractError, GateBlocked
from livecart.core.io import read_source, source_exists, write_source
from livecart.core.settings import LivecartSettings
from ray_jobs.ingest._common import to_contract, write_world
from ray_jobs.ingest.interactions import LINE_NUMBER, InteractionsConfig, InteractionsResult, run
from ray_jobs.ingest.tables import TablesConfig, TablesResult
from ray_jobs.ingest.tables import run as run_tables
from ray_jobs.ingest.twitch import TwitchConfig
from ray_jobs.ingest.twitch import run as run_twitch

HEADER = b"user_id,item_id,timestamp\n"
GOOD = b"a,x,1700000000\nb,x,1700000001\nc,y,1700000002\nd,y,1700000003\n"
EVENTS_HEADER = "event_id,event_type,event_timestamp,viewer_id,room_id,streamer_id\n"
EVENTS = "".join(
    f"e{i},watch,2026-01-01T00:0{i}:00Z,v{i % 2},r1,s1\n" for i in range(1, 5)
)  # four good rows


def _world(settings: LivecartSettings) -> LivecartSettings:
    """A home whose raw world has 2 events and 1 product (as a generated world would)."""
    events = to_contract(pa.table({EVENT_ID: ["old-1", "old-2"]}), Table.EVENTS)
    write_source(settings.raw_dir, Table.EVENTS, events)
    product = to_contract(pa.table({PRODUCT_ID: ["p1"]}), Table.PRODUCTS)
    write_source(settings.raw_dir, Table.PRODUCTS, product)
    return settings


def _assert_world_kept(settings: LivecartSettings) -> None:
    events = read_source(settings.raw_dir, Table.EVENTS)
    assert sorted(events[EVENT_ID].to_pylist()) == ["old-1", "old-2"]
    assert source_exists(settings.raw_dir, Table.PRODUCTS)


def _interactions(
    settings: LivecartSettings, tmp_path: Path, name: str, content: bytes
) -> InteractionsResult:
    path = tmp_path / name
    path.write_bytes(content)
    return run(InteractionsConfig(settings=settings, path=path, progress=False))


def test_interactions__header_only__error_and_world_kept(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    _world(settings)
    with pytest.raises(ContractError, match=r"log\.csv: no valid rows.*unchanged"):
        _interactions(settings, tmp_path, "log.csv", HEADER)
    _assert_world_kept(settings)


def test_interactions__every_row_bad__gate_blocks_and_world_kept(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    _world(settings)
    with pytest.raises(GateBlocked, match=r"2 of 2 rows quarantined.*max_quarantine_fraction"):
        _interactions(settings, tmp_path, "log.csv", HEADER + b"a,,1\nb,x,\n")
    _assert_world_kept(settings)
    reasons = pq.read_table(settings.quarantine_dir / "ingest_interactions.parquet")
    assert reasons[QUARANTINE_REASON].to_pylist() == [
        "item_id: missing value",
        "timestamp: missing value",
    ]


def test_interactions__bad_share_over_the_setting__blocked_under_it__written(
    tmp_path: Path,
) -> None:
    content = HEADER + GOOD[:30] + b"bad,,1\n"  # 2 good, 1 bad: a third
    strict = LivecartSettings(home=tmp_path / "strict", max_quarantine_fraction=0.3)
    with pytest.raises(GateBlocked, match=r"1 of 3 rows quarantined \(33\.3%\)"):
        _interactions(strict, tmp_path, "log.csv", content)
    assert not source_exists(strict.raw_dir, Table.EVENTS)
    lenient = LivecartSettings(home=tmp_path / "lenient", max_quarantine_fraction=0.34)
    _interactions(lenient, tmp_path, "log.csv", content)
    assert read_source(lenient.raw_dir, Table.EVENTS).num_rows == 2


def test_interactions__cr_only_line_endings__every_line_a_row(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    content = (HEADER + GOOD).replace(b"\n", b"\r")
    result = _interactions(settings, tmp_path, "mac.csv", content)
    assert (result.rows_read, result.events, result.quarantined) == (4, 4, 0)


@pytest.mark.parametrize(
    "bad",
    [b'e,"x",17000\r00004', b"e,x\ry,1700000004", b'e,"x\ry",1700000004'],
    ids=["cr-unquoted-beside-quotes", "cr-unquoted", "cr-quoted"],
)
def test_interactions__stray_cr_inside_a_row__row_quarantined_others_kept(
    settings: LivecartSettings, tmp_path: Path, bad: bytes
) -> None:
    result = _interactions(settings, tmp_path, "log.csv", HEADER + GOOD + bad + b"\n")
    assert (result.events, result.quarantined) == (4, 1)
    (row,) = pq.read_table(result.quarantine_path).to_pylist()
    assert row[LINE_NUMBER] == 6
    assert row[QUARANTINE_REASON] == "line: carriage return (CR) inside the row"


@pytest.mark.parametrize("quote", [b'"', b""], ids=["quoted", "unquoted"])
def test_interactions__field_over_the_csv_limit__row_quarantined_others_kept(
    settings: LivecartSettings, tmp_path: Path, quote: bytes
) -> None:
    limit = csv.field_size_limit()
    huge = quote + b"x" * (limit + 1) + quote
    result = _interactions(settings, tmp_path, "log.csv", HEADER + GOOD + b"e," + huge + b",1\n")
    assert (result.events, result.quarantined) == (4, 1)
    (row,) = pq.read_table(result.quarantine_path).to_pylist()
    assert row[QUARANTINE_REASON] == (
        f"line: a field of {limit + 1 + 2 * len(quote)} characters, over the CSV field size "
        f"limit ({limit})"
    )


def test_interactions__directory_given__error_says_directory(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    (tmp_path / "log.csv").mkdir()
    with pytest.raises(ContractError, match=r"log\.csv: a directory, not a file"):
        run(InteractionsConfig(settings=settings, path=tmp_path / "log.csv", progress=False))


def test_write_world__a_table_fails_to_write__previous_world_untouched(
    settings: LivecartSettings,
) -> None:
    _world(settings)
    events = to_contract(pa.table({EVENT_ID: ["new"]}), Table.EVENTS)
    broken = pa.table({ROOM_ID: pa.array([[1]], type=pa.list_(pa.int64()))})  # cannot cast
    with pytest.raises(ValueError, match="field names"):
        write_world(settings.raw_dir, {Table.EVENTS: events, Table.ROOMS: broken}, {"name": "x"})
    _assert_world_kept(settings)
    assert sorted(p.name for p in settings.raw_dir.iterdir()) == ["events", "products.parquet"]


def test_twitch__header_only_log__error_and_world_kept(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    _world(settings)
    path = tmp_path / "twitch.csv"
    path.write_text(",user_id,streamer_name,start_time,community\n")
    config = TwitchConfig(settings=settings, path=path, expected_sha256=None, progress=False)
    with pytest.raises(ContractError, match=r"twitch\.csv: no valid rows.*unchanged"):
        run_twitch(config)
    _assert_world_kept(settings)


def test_twitch__directory_given__error_says_directory(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    (tmp_path / "twitch.csv").mkdir()
    config = TwitchConfig(settings=settings, path=tmp_path / "twitch.csv", progress=False)
    with pytest.raises(ContractError, match=r"twitch\.csv: a directory, not a file"):
        run_twitch(config)


def _tables(settings: LivecartSettings, tmp_path: Path, events: str) -> TablesResult:
    exports = tmp_path / "exports"
    exports.mkdir(exist_ok=True)
    (exports / "events.csv").write_bytes(events.encode())
    return run_tables(TablesConfig(settings=settings, directory=exports))


def test_tables__header_only_events__error_and_world_kept(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    _world(settings)
    with pytest.raises(ContractError, match=r"events\.csv: no valid rows.*unchanged"):
        _tables(settings, tmp_path, EVENTS_HEADER)
    _assert_world_kept(settings)


def test_tables__every_event_bad__gate_blocks_and_world_kept(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    _world(settings)
    bad = EVENTS_HEADER + "e1,watch,yesterday,v1,r1,s1\ne2,watch,today,v1,r1,s1\n"
    with pytest.raises(GateBlocked, match=r"events\.csv: 2 of 2 rows quarantined"):
        _tables(settings, tmp_path, bad)
    _assert_world_kept(settings)


def test_tables__stray_cr_or_wrong_field_count__that_row_quarantined_others_kept(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    content = (
        EVENTS_HEADER
        + EVENTS  # rows 1-4
        + "e9,wa\rtch,2026-01-01T00:09:00Z,v1,r1,s1\n"  # row 5: a stray CR
        + EVENTS.replace("e", "f")  # rows 6-9
        + "g1,watch,2026-01-01T00:09:00Z,v1,r1,s1,extra\n"  # row 10: 7 fields
        + "g2,watch,2026-01-01T99:00:00Z,v1,r1,s1\n"  # row 11: not a timestamp
        + EVENTS.replace("e", "h")  # rows 12-15
    )
    result = _tables(settings, tmp_path, content)
    assert result.rows["events"] == 12
    quarantine = pq.read_table(result.quarantine_path).to_pylist()
    assert [(q["row"], q[QUARANTINE_REASON]) for q in quarantine] == [
        (5, "line: carriage return (CR) inside the row"),
        (10, "line: expected 6 columns, found 7"),
        (11, "event_timestamp: not a timestamp in format ISO-8601"),
    ]
    assert all(str(q["file"]).endswith("events.csv") for q in quarantine)


def test_tables__events_file_is_a_directory__error_says_directory(
    settings: LivecartSettings, tmp_path: Path
) -> None:
    (tmp_path / "exports" / "events.csv").mkdir(parents=True)
    with pytest.raises(ContractError, match=r"events\.csv: a directory, not a file"):
        run_tables(TablesConfig(settings=settings, directory=tmp_path / "exports"))
