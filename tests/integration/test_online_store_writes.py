"""Writes through the store's own API: columns in any order, unknown or missing ones named; rows
staged as Parquet files (materialize's way) loaded one view at a time, inside the one commit."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

from livecart.online.access import UnknownColumns, write_arrow, write_staged
from livecart.online.bookkeeping import CREATED_TS, EVENT_TS
from livecart.online.files import MANIFEST, read_manifest
from livecart.online.store import DuckDBOnlineStore
from livecart.online.writer import SnapshotWriter, ViewWrite
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


def test_write_staged__parquet_file__same_as_write_arrow(
    mini_repo: MiniRepo, tmp_path: Path
) -> None:
    rows = _rows(mini_repo)
    pq.write_table(rows.select(rows.column_names[::-1]), tmp_path / "staged.parquet")
    write_staged(mini_repo.store.config, [(mini_repo.view, tmp_path / "staged.parquet")])
    out = mini_repo.store.get_online_features(
        ["items:score", "items:label"], [{"item_id": "i0"}, {"item_id": "i1"}]
    ).to_dict()
    expected = rows.to_pydict()
    assert out["score"] == expected["score"] and out["label"] == expected["label"]


SCHEMA = pa.schema(
    [("id", pa.string()), ("x", pa.float64()), (EVENT_TS, pa.int64()), (CREATED_TS, pa.int64())]
)


def _table(x: float) -> pa.Table:
    return pa.table({"id": ["a", "b"], "x": [x, x], EVENT_TS: [1, 1], CREATED_TS: [1, 1]}, SCHEMA)


def test_loaded_rows__one_view_at_a_time__a_failed_load_commits_nothing(tmp_path: Path) -> None:
    writer = SnapshotWriter(tmp_path, background=False)
    writer.write({v: ViewWrite(_table(0.0), SCHEMA, ["id"], "sig") for v in "abc"}, compact=True)
    before = (tmp_path / MANIFEST).read_bytes()
    loaded: list[str] = []

    def load(view: str, fail: bool = False) -> ViewWrite:
        def rows() -> pa.Table:
            # The views before this one were written before this one was loaded.
            assert len(list(tmp_path.glob("?.0000000002.*"))) >= len(loaded)
            loaded.append(view)
            if fail:
                raise OSError(f"staged file of {view} unreadable")
            return _table(1.0)

        return ViewWrite(rows, SCHEMA, ["id"], "sig")

    with pytest.raises(OSError, match="staged file of c"):
        writer.write({"a": load("a"), "b": load("b"), "c": load("c", fail=True)}, compact=True)
    assert loaded == ["a", "b", "c"]
    assert (tmp_path / MANIFEST).read_bytes() == before  # nothing committed, a and b included
    loaded.clear()
    writer.write({v: load(v) for v in "abc"}, compact=True)
    assert loaded == ["a", "b", "c"] and read_manifest(tmp_path).version == 2
