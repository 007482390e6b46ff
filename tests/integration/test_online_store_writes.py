"""Writes through the store's own API: columns in any order, unknown or missing ones named."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

from livecart.online.access import UnknownColumns, write_arrow
from livecart.online.bookkeeping import CREATED_TS, EVENT_TS
from livecart.online.store import DuckDBOnlineStore
from tests.integration.conftest import NOW, MiniRepo, offline_frame

pytestmark = pytest.mark.integration


def _rows(repo: MiniRepo) -> pa.Table:
    frame = offline_frame(2, NOW - timedelta(minutes=1)).rename(
        columns={"event_timestamp": EVENT_TS, "created": CREATED_TS}
    )
    return pa.Table.from_pandas(frame, preserve_index=False)


def test_write_arrow__columns_in_any_order__written(mini_repo: MiniRepo) -> None:
    rows = _rows(mini_repo)
    write_arrow(mini_repo.store.config, [(mini_repo.view, rows.select(rows.column_names[::-1]))])
    out = mini_repo.store.get_online_features(["items:score"], [{"item_id": "i1"}]).to_dict()
    assert out["score"] == [1.0]


def test_write_arrow__unknown_and_missing_columns__named_in_the_error(mini_repo: MiniRepo) -> None:
    rows = _rows(mini_repo).drop_columns(["label"]).append_column("colour", pa.array(["r", "g"]))
    with pytest.raises(UnknownColumns, match=r"items.*missing columns \['label'\].*\['colour'\]"):
        write_arrow(mini_repo.store.config, [(mini_repo.view, rows)])


def test_online_write_batch__unknown_feature__named_in_the_error(mini_repo: MiniRepo) -> None:
    key = EntityKeyProto(join_keys=["item_id"], entity_values=[ValueProto(string_val="i1")])
    data = [
        (key, {"score": ValueProto(double_val=1.0), "sore": ValueProto(double_val=2.0)}, NOW, None)
    ]
    with pytest.raises(UnknownColumns, match=r"view 'items': \['sore'\] are not features"):
        DuckDBOnlineStore().online_write_batch(mini_repo.store.config, mini_repo.view, data, None)
