"""The catalogue's lists come out in one order on every load (candidate order decides the draws).

DuckDB returns grouped and windowed rows in no fixed order, and a set's order differs between
processes; the item-CF neighbours of a product, the streamers a viewer follows and the live rooms'
streamers are ordered by similarity, then by id, so two replicas, or two replays of one seed, see
the same candidates in the same order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from livecart.core import contract as c
from livecart.core.io import table_path
from livecart.core.settings import LivecartSettings
from serving.catalog import Catalog, _from_events

pytestmark = pytest.mark.data

PRODUCTS = [f"p{i:02d}" for i in range(24)]
STREAMERS = [f"s{i:02d}" for i in range(12)]


def _write_events(settings: LivecartSettings) -> None:
    at = datetime(2026, 6, 1, 12, tzinfo=UTC)
    rows = []
    # One viewer clicks every product the same day: every pair co-occurs once, all cosines 1.
    for i, product in enumerate(reversed(PRODUCTS)):
        rows.append((f"c{i}", "click", at + timedelta(seconds=i), "v0", product, STREAMERS[0]))
    for i, streamer in enumerate(reversed(STREAMERS)):
        rows.append((f"f{i}", "follow", at + timedelta(seconds=i), "v1", None, streamer))
    columns = {
        c.EVENT_ID: [r[0] for r in rows],
        c.EVENT_TYPE: [r[1] for r in rows],
        c.EVENT_TIMESTAMP: [r[2] for r in rows],
        c.VIEWER_ID: [r[3] for r in rows],
        c.ROOM_ID: ["r0"] * len(rows),
        c.STREAMER_ID: [r[5] for r in rows],
        c.PRODUCT_ID: [r[4] for r in rows],
    }
    schema = c.SCHEMAS[c.Table.EVENTS]
    table = pa.table(
        {name: columns.get(name, [None] * len(rows)) for name in schema.names}, schema=schema
    )
    directory = table_path(settings.clean_dir, c.Table.EVENTS)
    directory.mkdir(parents=True)
    pq.write_table(table, directory / "part-00000.parquet")


def test_catalog_lists__tied_neighbours_and_follows__by_id_on_every_load(
    settings: LivecartSettings,
) -> None:
    _write_events(settings)
    loads = [_from_events(settings, set(PRODUCTS)) for _ in range(3)]
    for _, neighbours, follows in loads:
        # 20 neighbours kept (CF_NEIGHBOURS), all tied: the 20 smallest other ids, in order.
        assert neighbours["p05"] == [p for p in PRODUCTS if p != "p05"][:20]
        assert follows["v1"] == STREAMERS
    assert all(load[1:] == loads[0][1:] for load in loads)


def test_live_room_of__streamers_by_id_whatever_the_set_order() -> None:
    streamers = [f"s{i:02d}" for i in (7, 3, 11, 0, 5)]
    products = pd.DataFrame(
        {
            c.PRODUCT_ID: [f"p{s}" for s in streamers],
            c.STREAMER_ID: streamers,
            c.CATEGORY: "x",
            c.PRICE: 1.0,
            c.STOCK: 1.0,
            c.TITLE: "t",
        }
    ).set_index(c.PRODUCT_ID)
    rooms = pd.DataFrame(
        {c.ROOM_ID: [f"r{s}" for s in streamers], c.STREAMER_ID: streamers, c.TITLE: "t"}
    ).set_index(c.ROOM_ID)
    catalog = Catalog(
        products=products,
        rooms=rooms,
        room_products={},
        streamer_products={},
        streamer_rooms={s: [f"r{s}"] for s in streamers},
        popular=[],
        popular_by_category={},
        neighbours={},
        follows={},
    )
    for live in ({f"r{s}" for s in streamers}, frozenset(f"r{s}" for s in reversed(streamers))):
        assert list(catalog.live_room_of(live)) == sorted(streamers)
