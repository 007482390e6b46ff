"""The generic interactions adapter: every line lands as an event or in quarantine, never lost."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from livecart.core.contract import (
    END_TIMESTAMP,
    EVENT_ID,
    EVENT_TIMESTAMP,
    EVENT_TYPE,
    EVENT_TYPES,
    FOLLOWER_COUNT,
    QUARANTINE_REASON,
    ROOM_ID,
    SCHEMAS,
    SIGNUP_TIMESTAMP,
    START_TIMESTAMP,
    STREAMER_ID,
    VIEWER_ID,
    Table,
)
from livecart.core.errors import ContractError
from livecart.core.io import read_source, source_exists, write_source
from livecart.core.settings import LivecartSettings
from ray_jobs.ingest._parse import WHITESPACE_EPOCH, parse_timestamp
from ray_jobs.ingest.interactions import (
    LINE_NUMBER,
    QUARANTINE_FILE,
    RAW_LINE,
    InteractionsConfig,
    InteractionsFormat,
    InteractionsResult,
    run,
)

HEADER = b"user_id,item_id,timestamp,event_type\n"


def _ingest(tmp_path: Path, name: str, content: bytes, **options: object) -> InteractionsResult:
    path = tmp_path / name
    path.write_bytes(content)
    settings = _settings(tmp_path, **options)
    return run(InteractionsConfig(settings=settings, path=path, progress=False))


def _settings(tmp_path: Path, **options: object) -> LivecartSettings:
    """These tests are about each row's fate, not the gate's share of bad rows (that is
    tests/unit/test_ingest_no_loss.py): any share of quarantined rows is let through."""
    options.setdefault("max_quarantine_fraction", 1.0)
    return LivecartSettings(home=tmp_path / "home", **options)  # type: ignore[arg-type]


def _events(tmp_path: Path) -> pa.Table:
    return read_source(_settings(tmp_path).raw_dir, Table.EVENTS)


def _quarantine(result: InteractionsResult) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = pq.read_table(result.quarantine_path).to_pylist()
    return rows


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_interactions__csv_unix_seconds__every_row_an_event(tmp_path: Path) -> None:
    content = HEADER + b"u1,i1,1700000000,\nu2,i1,1700000001,\nu1,i2,1700000002.5,\n"
    result = _ingest(tmp_path, "log.csv", content)
    events = _events(tmp_path)
    assert (result.rows_read, result.events, result.quarantined) == (3, 3, 0)
    assert (result.viewers, result.items) == (2, 2)
    assert events.schema == SCHEMAS[Table.EVENTS]
    assert events[EVENT_TIMESTAMP].to_pylist() == [
        datetime.fromtimestamp(1700000000, UTC),
        datetime.fromtimestamp(1700000001, UTC),
        datetime.fromtimestamp(1700000002.5, UTC),
    ]
    assert events[EVENT_ID].to_pylist() == ["it-e2", "it-e3", "it-e4"]
    assert events[EVENT_TYPE].to_pylist() == ["watch"] * 3
    assert events[ROOM_ID].to_pylist() == ["it-ri1", "it-ri1", "it-ri2"]
    assert events[STREAMER_ID].to_pylist() == ["it-si1", "it-si1", "it-si2"]
    assert events[VIEWER_ID].to_pylist() == ["it-uu1", "it-uu2", "it-uu1"]


def test_interactions__csv_iso_with_offset__converted_to_utc_and_sorted(tmp_path: Path) -> None:
    content = HEADER + b"a,x,2024-01-01T03:00:00+02:00,like\nb,y,2024-01-01T00:30:00Z,\n"
    result = _ingest(tmp_path, "log.csv", content)
    events = _events(tmp_path)
    assert (result.events, result.quarantined) == (2, 0)
    assert events[EVENT_TIMESTAMP].to_pylist() == [_utc(2024, 1, 1, 0, 30), _utc(2024, 1, 1, 1)]
    assert events[EVENT_TYPE].to_pylist() == ["watch", "like"]
    assert events.schema.field(EVENT_TIMESTAMP).type.tz == "UTC"


def test_interactions__parquet__rows_become_events(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    data = {
        "user_id": [1, 2, None, 3],
        "item_id": [10, 10, 11, 12],
        "timestamp": [1_700_000_000, 1_700_000_005, 1_700_000_006, 1_700_000_009],
        "event_type": ["purchase", None, "like", "watch"],
    }
    pq.write_table(pa.table(data), path)
    settings = _settings(tmp_path)
    result = run(InteractionsConfig(settings=settings, path=path, progress=False))
    events = _events(tmp_path)
    assert (result.rows_read, result.events, result.quarantined) == (4, 3, 1)
    assert events[VIEWER_ID].to_pylist() == ["it-u1", "it-u2", "it-u3"]
    assert events[ROOM_ID].to_pylist() == ["it-r10", "it-r10", "it-r12"]
    assert events[EVENT_TYPE].to_pylist() == ["purchase", "watch", "watch"]
    (bad,) = _quarantine(result)
    assert bad[LINE_NUMBER] == 3
    assert bad[QUARANTINE_REASON] == "user_id: missing value"


def test_interactions__parquet_naive_timestamps__quarantined_unless_assume_utc(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log.parquet"
    naive = pa.array([datetime(2024, 1, 1), datetime(2024, 1, 2)], type=pa.timestamp("us"))
    pq.write_table(
        pa.table({"user_id": ["a", "b"], "item_id": ["x", "y"], "timestamp": naive}), path
    )
    settings = _settings(tmp_path)
    with pytest.raises(ContractError, match="no valid rows"):
        run(InteractionsConfig(settings=settings, path=path, progress=False))
    reasons = pq.read_table(settings.quarantine_dir / QUARANTINE_FILE)[QUARANTINE_REASON]
    assert len(reasons) == 2 and all("naive timestamp" in str(r) for r in reasons.to_pylist())
    lenient = run(InteractionsConfig(settings=settings, path=path, assume_utc=True, progress=False))
    assert (lenient.events, lenient.quarantined) == (2, 0)
    assert _events(tmp_path)[EVENT_TIMESTAMP][0].as_py() == _utc(2024, 1, 1)


def test_interactions__whitespace_user_item__one_second_apart_in_file_order(tmp_path: Path) -> None:
    result = _ingest(tmp_path, "seq.txt", b"1 5\n1 6\n2\t5\n2 7 9\n")
    events = _events(tmp_path)
    assert (result.rows_read, result.events, result.quarantined) == (4, 3, 1)
    start = WHITESPACE_EPOCH.timestamp()
    assert [t.timestamp() - start for t in events[EVENT_TIMESTAMP].to_pylist()] == [0, 1, 2]
    assert events[ROOM_ID].to_pylist() == ["it-r5", "it-r6", "it-r5"]
    (bad,) = _quarantine(result)
    assert (bad[LINE_NUMBER], bad[RAW_LINE]) == (4, "2 7 9")
    assert str(bad[QUARANTINE_REASON]).startswith("line: expected 2 whitespace-separated fields")


def test_interactions__invalid_utf8_line__quarantined_others_kept(tmp_path: Path) -> None:
    content = HEADER + b"a,x,1700000000,\n\xff\xfeb,y,1700000001,\nc,z,1700000002,\n"
    result = _ingest(tmp_path, "log.csv", content)
    assert (result.rows_read, result.events, result.quarantined) == (3, 2, 1)
    assert _events(tmp_path)[VIEWER_ID].to_pylist() == ["it-ua", "it-uc"]
    (bad,) = _quarantine(result)
    assert bad[LINE_NUMBER] == 3
    assert bad[RAW_LINE] == "\ufffd\ufffdb,y,1700000001,"
    assert str(bad[QUARANTINE_REASON]).startswith("line: not valid UTF-8")


def test_interactions__missing_item__quarantined_with_reason(tmp_path: Path) -> None:
    result = _ingest(tmp_path, "log.csv", HEADER + b"a,,1700000000,\nb,y,1700000001,\n")
    assert (result.events, result.quarantined) == (1, 1)
    (bad,) = _quarantine(result)
    assert (bad[LINE_NUMBER], bad[QUARANTINE_REASON]) == (2, "item_id: missing value")


def test_interactions__naive_iso_timestamp__quarantined(tmp_path: Path) -> None:
    result = _ingest(tmp_path, "log.csv", HEADER + b"a,x,2024-01-01T00:00:00,\nb,y,100,\n")
    assert (result.events, result.quarantined) == (1, 1)
    (bad,) = _quarantine(result)
    assert str(bad[QUARANTINE_REASON]).startswith("timestamp: naive timestamp")


def test_interactions__naive_iso_with_assume_utc__read_as_utc(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(HEADER + b"a,x,2024-01-01T00:00:00,\n")
    config = InteractionsConfig(
        settings=_settings(tmp_path), path=path, assume_utc=True, progress=False
    )
    result = run(config)
    assert (result.events, result.quarantined) == (1, 0)
    assert _events(tmp_path)[EVENT_TIMESTAMP][0].as_py() == _utc(2024, 1, 1)


def test_interactions__mixed_bad_rows__good_plus_quarantined_equals_lines(tmp_path: Path) -> None:
    lines = [
        b"a,x,1700000000,",  # good
        b"b,y,2024-01-01T00:00:00+00:00,comment",  # good (ISO with offset)
        b"\xc3\x28,y,1700000001,",  # invalid UTF-8
        b",y,1700000002,",  # missing user
        b"c,,1700000003,",  # missing item
        b"d,y,not-a-time,",  # unparseable
        b"e,y,2024-01-01 10:00:00,",  # naive
        b"f,y,1700000004",  # too few fields
        b'"g",y,1700000005,dance',  # good, quoted, unknown event type kept
        b"h,z,nan,",  # not finite
    ]
    result = _ingest(tmp_path, "log.csv", HEADER + b"\r\n".join(lines) + b"\r\n")
    quarantine = _quarantine(result)
    assert result.rows_read == len(lines)
    assert (result.events, result.quarantined, result.blank_lines) == (3, 7, 0)
    assert result.events + result.quarantined == len(lines)
    assert [r[LINE_NUMBER] for r in quarantine] == [4, 5, 6, 7, 8, 9, 11]
    reasons = [str(r[QUARANTINE_REASON]) for r in quarantine]
    assert [reason.split(":")[0] for reason in reasons] == [
        "line",
        "user_id",
        "item_id",
        "timestamp",
        "timestamp",
        "line",
        "timestamp",
    ]
    assert "naive timestamp" in reasons[4]
    events = _events(tmp_path)
    assert sorted(events[EVENT_ID].to_pylist()) == ["it-e10", "it-e2", "it-e3"]
    assert "dance" in events[EVENT_TYPE].to_pylist()
    assert "dance" not in EVENT_TYPES


def test_interactions__blank_lines__counted_not_quarantined(tmp_path: Path) -> None:
    result = _ingest(tmp_path, "log.csv", HEADER + b"a,x,1700000000,\n\n   \nb,y,1700000001,\n")
    assert (result.rows_read, result.events, result.quarantined, result.blank_lines) == (4, 2, 0, 2)


def test_interactions__catalog__rooms_span_data_and_followers_counted(tmp_path: Path) -> None:
    content = HEADER + b"a,x,100,\nb,x,300,\na,x,200,\nb,y,250,\n"
    _ingest(tmp_path, "log.csv", content)
    raw = _settings(tmp_path).raw_dir
    rooms = read_source(raw, Table.ROOMS).to_pylist()
    streamers = read_source(raw, Table.STREAMERS).to_pylist()
    viewers = read_source(raw, Table.VIEWERS).to_pylist()
    assert [r[ROOM_ID] for r in rooms] == ["it-rx", "it-ry"]
    assert {r[START_TIMESTAMP] for r in rooms} == {datetime.fromtimestamp(100, UTC)}
    assert {r[END_TIMESTAMP] for r in rooms} == {datetime.fromtimestamp(300, UTC)}
    assert [(s[STREAMER_ID], s[FOLLOWER_COUNT]) for s in streamers] == [("it-sx", 2), ("it-sy", 1)]
    signup = {v[VIEWER_ID]: v[SIGNUP_TIMESTAMP].timestamp() for v in viewers}
    assert signup == {"it-ua": 100, "it-ub": 250}
    assert not source_exists(raw, Table.PRODUCTS)


def test_interactions__hash_viewer_ids__pseudonyms_only(tmp_path: Path) -> None:
    salt = "unit-test-salt"
    content = HEADER + b"a,x,100,\nb,x,300,\na,y,200,\n"
    _ingest(tmp_path, "log.csv", content, hash_viewer_ids=True, id_salt=salt)
    raw = LivecartSettings(home=tmp_path / "home").raw_dir
    event_viewers = _events(tmp_path)[VIEWER_ID].to_pylist()
    viewer_ids = read_source(raw, Table.VIEWERS)[VIEWER_ID].to_pylist()
    assert not any("it-u" in v for v in event_viewers + viewer_ids)
    assert event_viewers[0] == event_viewers[1] != event_viewers[2]
    assert set(event_viewers) == set(viewer_ids)


def test_interactions__rerun__replaces_previous_world(tmp_path: Path) -> None:
    raw = _settings(tmp_path).raw_dir
    stale = SCHEMAS[Table.EVENTS].empty_table()
    write_source(raw, Table.EVENTS, stale, part="00099")
    write_source(raw, Table.PRODUCTS, SCHEMAS[Table.PRODUCTS].empty_table())
    _ingest(tmp_path, "log.csv", HEADER + b"a,x,100,\n")
    assert [p.name for p in (raw / "events").iterdir()] == ["part-00000.parquet"]
    assert not source_exists(raw, Table.PRODUCTS)
    assert (raw / "dataset.json").is_file()


def test_interactions__missing_required_column__contract_error_names_file_and_column(
    tmp_path: Path,
) -> None:
    with pytest.raises(ContractError) as error:
        _ingest(tmp_path, "log.csv", b"user_id,timestamp\na,100\n")
    assert error.value.column == "item_id"
    assert error.value.origin.endswith("log.csv")


def test_interactions__parquet_missing_column__contract_error(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"user_id": ["a"], "item_id": ["x"]}), path)
    with pytest.raises(ContractError) as error:
        run(InteractionsConfig(settings=_settings(tmp_path), path=path, progress=False))
    assert error.value.column == "timestamp"


def test_interactions__unknown_format__contract_error(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="unknown format"):
        _ingest(tmp_path, "log.json", b"{}")


def test_interactions__explicit_format__overrides_suffix(tmp_path: Path) -> None:
    path = tmp_path / "seq.dat"
    path.write_bytes(b"1 2\n3 4\n")
    config = InteractionsConfig(
        settings=_settings(tmp_path),
        path=path,
        format=InteractionsFormat.WHITESPACE,
        progress=False,
    )
    assert run(config).events == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        ("1.5", 1_500_000),
        ("1970-01-01T01:00:00+01:00", 0),
        ("1970-01-01T00:00:01Z", 1_000_000),
        (datetime(1970, 1, 1, 0, 0, 2, tzinfo=UTC), 2_000_000),
    ],
)
def test_parse_timestamp__valid__micros_since_epoch(value: object, expected: int) -> None:
    assert parse_timestamp(value, assume_utc=False) == expected


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (None, "missing value"),
        ("", "missing value"),
        ("yesterday", "unparseable timestamp"),
        ("inf", "not a finite number"),
        ("1970-01-01", "naive timestamp"),
        (True, "unsupported timestamp value"),
        (1e15, "out of range"),
    ],
)
def test_parse_timestamp__invalid__names_rule(value: object, rule: str) -> None:
    result = parse_timestamp(value, assume_utc=False)
    assert isinstance(result, str)
    assert result.startswith(rule)


def test_interactions__parquet_zoned_timestamps__converted_to_utc(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    zoned = pa.array([_utc(2024, 6, 1, 10)], type=pa.timestamp("ms", tz="Europe/Paris"))
    pq.write_table(pa.table({"user_id": ["a"], "item_id": ["x"], "timestamp": zoned}), path)
    result = run(InteractionsConfig(settings=_settings(tmp_path), path=path, progress=False))
    assert (result.events, result.quarantined) == (1, 0)
    assert _events(tmp_path)[EVENT_TIMESTAMP][0].as_py() == _utc(2024, 6, 1, 10)


def test_interactions__csv_with_bom_and_extra_columns__read(tmp_path: Path) -> None:
    content = b"\xef\xbb\xbfrating,item_id,user_id,timestamp\n5,x,a,100\n"
    result = _ingest(tmp_path, "log.csv", content)
    assert (result.events, result.quarantined) == (1, 0)
    assert _events(tmp_path)[ROOM_ID].to_pylist() == ["it-rx"]
