"""The fast response encoder gives exactly Feast's own response, for every supported type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from feast.data_source import PushMode
from feast.infra.online_stores.online_store import OnlineStore

from livecart.online.response import varint
from livecart.online.store import DuckDBOnlineStore
from tests.integration.conftest import NOW, MiniRepo

pytestmark = pytest.mark.integration
ALL = ["items:score", "items:count", "items:label", "items:ratio", "items:flag", "items:small",
       "items:tags", "items:embedding"]


def test_varint__matches_protobuf_encoding() -> None:
    from google.protobuf.internal.encoder import _VarintBytes  # type: ignore[attr-defined]

    for value in (0, 1, 127, 128, 300, 2**31, 2**63 - 1):
        assert varint(value) == _VarintBytes(value)
    assert varint(-1) == _VarintBytes((1 << 64) - 1)


@pytest.mark.parametrize("full_names", [False, True])
def test_fast_path__same_proto_as_feast_generic_path(
    mini_repo: MiniRepo, monkeypatch: pytest.MonkeyPatch, full_names: bool
) -> None:
    mini_repo.store.materialize(NOW - timedelta(days=2), NOW)
    pushed = pd.DataFrame({
        "item_id": ["i5"], "score": [None], "count": [None], "label": ["ünïcode ✓"], "ratio": [0.25],
        "flag": [None], "small": [None], "tags": [None], "embedding": [[0.5, 0.5, 0.5, 0.5]],
        "event_timestamp": [datetime.now(UTC)], "created": [datetime.now(UTC)],
    })
    mini_repo.store.push("items_push", pushed, to=PushMode.ONLINE)
    rows = [{"item_id": i} for i in ["i1", "nobody", "i5", "i1", "i7", "i14"]]

    def read() -> object:
        return mini_repo.store.get_online_features(features=ALL, entity_rows=rows, full_feature_names=full_names).proto

    fast = read()
    monkeypatch.setattr(DuckDBOnlineStore, "_read_features_per_fv", OnlineStore._read_features_per_fv)
    generic = read()
    assert fast == generic
