"""The validation job end to end on a tiny raw world written under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from rich.console import Console

from livecart.core.contract import (
    EVENT_ID,
    PRODUCT_ID,
    QUARANTINE_REASON,
    QUARANTINE_SOURCE,
    ROOM_ID,
    STREAMER_ID,
    TEXT,
    EventType,
    Table,
)
from livecart.core.errors import ContractError, GateBlocked
from livecart.core.io import event_parts, read_source, table_path, write_source
from livecart.core.settings import LivecartSettings
from tests.data.builders import NOW, event, room, streamer, table, valid_rows, write_world
from validation.gate import load_references
from validation.report import print_summary
from validation.run import quarantine_path, run

pytestmark = pytest.mark.data


@pytest.fixture
def lenient(tmp_path: Path) -> LivecartSettings:
    """Settings that never block, for tests about what lands where."""
    return LivecartSettings(home=tmp_path, max_quarantine_fraction=1.0)


def quarantined_reasons(settings: LivecartSettings, source: Table) -> list[str]:
    data = pq.read_table(quarantine_path(settings, source))
    return [str(r) for r in data.column(QUARANTINE_REASON).to_pylist()]


def test_run__valid_world__all_rows_clean_and_quarantines_empty(
    settings: LivecartSettings,
) -> None:
    write_world(settings.raw_dir)
    report = run(settings, now=NOW)
    assert [t.table for t in report.tables] == list(Table)
    for source in Table:
        item = report.table(source)
        assert (item.total, item.good, item.quarantined) == (len(valid_rows(source)),) * 2 + (0,)
        assert read_source(settings.clean_dir, source).num_rows == len(valid_rows(source))
        assert pq.read_table(quarantine_path(settings, source)).num_rows == 0
    assert report.failed_checks == ()


def test_run__data_docs__index_html_written(settings: LivecartSettings) -> None:
    write_world(settings.raw_dir)
    report = run(settings, now=NOW)
    assert report.data_docs_index == settings.reports_dir / "data_docs" / "index.html"
    assert report.data_docs_index.is_file()
    html = report.data_docs_index.read_text(encoding="utf-8")
    assert "events.rows" in html and "viewers.table" in html


@pytest.mark.parametrize("missing", [Table.VIEWERS, Table.STREAMERS, Table.ROOMS, Table.EVENTS])
def test_run__required_source_missing__raises_contract_error_naming_file(
    settings: LivecartSettings, missing: Table
) -> None:
    write_world(settings.raw_dir, skip=(missing,))
    with pytest.raises(ContractError, match=missing.value):
        run(settings, now=NOW)


def test_run__without_products__skips_product_reference_checks(
    settings: LivecartSettings,
) -> None:
    write_world(settings.raw_dir, skip=(Table.PRODUCTS, Table.ROOM_PRODUCTS))
    report = run(settings, now=NOW)
    assert report.skipped == (Table.PRODUCTS, Table.ROOM_PRODUCTS)
    assert report.table(Table.EVENTS).quarantined == 0
    assert not table_path(settings.clean_dir, Table.PRODUCTS).exists()


def test_run__events_parts__clean_keeps_part_names(lenient: LivecartSettings) -> None:
    write_world(lenient.raw_dir, parts=3)
    report = run(lenient, now=NOW)
    raw_names = [p.name for p in event_parts(lenient.raw_dir)]
    assert [p.name for p in event_parts(lenient.clean_dir)] == raw_names
    assert report.table(Table.EVENTS).batches == 3


def test_run__stale_clean_event_part__removed(lenient: LivecartSettings) -> None:
    write_world(lenient.raw_dir)
    write_source(lenient.clean_dir, Table.EVENTS, table(Table.EVENTS, [event(50)]), part="99999")
    run(lenient, now=NOW)
    clean = read_source(lenient.clean_dir, Table.EVENTS)
    assert "e50" not in clean.column(EVENT_ID).to_pylist()


def test_run__child_of_quarantined_parent__quarantined_as_unknown_id(
    lenient: LivecartSettings,
) -> None:
    write_world(lenient.raw_dir)
    streamers = [streamer(0), streamer(1, display_name=None)]
    write_source(lenient.raw_dir, Table.STREAMERS, table(Table.STREAMERS, streamers))
    report = run(lenient, now=NOW)
    assert quarantined_reasons(lenient, Table.STREAMERS) == ["display_name: not null"]
    expected = f"{STREAMER_ID}: unknown id (not in clean streamers)"
    assert quarantined_reasons(lenient, Table.ROOMS) == [expected]
    assert report.table(Table.ROOMS).reason_counts == {expected: 1}
    room_ids = read_source(lenient.clean_dir, Table.ROOMS).column(ROOM_ID).to_pylist()
    assert room_ids == [room(0)[ROOM_ID]]


def test_run__event_id_repeated_in_later_part__quarantined_as_duplicate(
    lenient: LivecartSettings,
) -> None:
    write_world(lenient.raw_dir, skip=(Table.EVENTS,))
    write_source(lenient.raw_dir, Table.EVENTS, table(Table.EVENTS, [event(1)]), part="00000")
    copy = table(Table.EVENTS, [event(1, text="again"), event(2)])
    write_source(lenient.raw_dir, Table.EVENTS, copy, part="00001")
    run(lenient, now=NOW)
    quarantine = pq.read_table(quarantine_path(lenient, Table.EVENTS))
    assert quarantine.column(TEXT).to_pylist() == ["again"]
    assert quarantined_reasons(lenient, Table.EVENTS) == [f"{EVENT_ID}: duplicate"]
    assert read_source(lenient.clean_dir, Table.EVENTS).num_rows == 2


def test_run__events_quarantine__one_file_across_parts(lenient: LivecartSettings) -> None:
    write_world(lenient.raw_dir, skip=(Table.EVENTS,))
    for part in range(2):
        rows = [event(10 * part, EventType.CLICK), event(10 * part + 1, viewer_id="ghost")]
        write_source(lenient.raw_dir, Table.EVENTS, table(Table.EVENTS, rows), part=f"{part:05d}")
    report = run(lenient, now=NOW)
    quarantine = pq.read_table(quarantine_path(lenient, Table.EVENTS))
    assert quarantine.column(EVENT_ID).to_pylist() == ["e1", "e11"]
    assert set(quarantine.column(QUARANTINE_SOURCE).to_pylist()) == {Table.EVENTS.value}
    events = report.table(Table.EVENTS)
    assert (events.total, events.good, events.quarantined) == (4, 2, 2)


def test_run__quarantined_share_above_threshold__blocks_after_writing_quarantine(
    tmp_path: Path,
) -> None:
    settings = LivecartSettings(home=tmp_path, max_quarantine_fraction=0.2)
    write_world(settings.raw_dir, skip=(Table.EVENTS,))
    rows = [event(1), event(2, room_id="ghost"), event(3, room_id="ghost"), event(4)]
    write_source(settings.raw_dir, Table.EVENTS, table(Table.EVENTS, rows), part="00000")
    with pytest.raises(GateBlocked) as blocked:
        run(settings, now=NOW)
    message = str(blocked.value)
    where = quarantine_path(settings, Table.EVENTS)
    for part in ("events", "50.0%", "20.0%", f"{ROOM_ID}: unknown id", str(where)):
        assert part in message
    assert pq.read_table(where).num_rows == 2
    assert event_parts(settings.clean_dir) == []
    assert (settings.reports_dir / "data_docs" / "index.html").is_file()


def test_run__catalog_share_above_threshold__blocks_and_removes_clean_file(
    tmp_path: Path,
) -> None:
    settings = LivecartSettings(home=tmp_path, max_quarantine_fraction=0.1)
    write_world(settings.raw_dir)
    products = [dict(r, **{PRODUCT_ID: "p0"}) for r in valid_rows(Table.PRODUCTS)]
    write_source(settings.raw_dir, Table.PRODUCTS, table(Table.PRODUCTS, products))
    stale = table(Table.PRODUCTS, valid_rows(Table.PRODUCTS))
    write_source(settings.clean_dir, Table.PRODUCTS, stale)
    with pytest.raises(GateBlocked, match="products"):
        run(settings, now=NOW)
    assert pq.read_table(quarantine_path(settings, Table.PRODUCTS)).num_rows == 2
    assert not table_path(settings.clean_dir, Table.PRODUCTS).exists()


def test_print_summary__prints_counts_and_reasons(lenient: LivecartSettings) -> None:
    write_world(lenient.raw_dir)
    write_source(lenient.raw_dir, Table.ROOMS, table(Table.ROOMS, [room(0), room(1, title=None)]))
    report = run(lenient, now=NOW)
    console = Console(record=True, width=200)
    print_summary(report, console)
    text = console.export_text()
    assert "title: not null (1)" in text
    for source in Table:
        assert source.value in text


def test_load_references__after_run__knows_clean_parent_ids_only(
    lenient: LivecartSettings,
) -> None:
    write_world(lenient.raw_dir)
    streamers = [streamer(0), streamer(1, display_name=None)]
    write_source(lenient.raw_dir, Table.STREAMERS, table(Table.STREAMERS, streamers))
    run(lenient, now=NOW)
    references = load_references(lenient.clean_dir)
    assert references.parents == {Table.VIEWERS, Table.STREAMERS, Table.ROOMS, Table.PRODUCTS}
    assert references.ids[Table.STREAMERS].to_pylist() == ["s0"]
