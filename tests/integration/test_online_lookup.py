"""Coded entity keys read the same rows as plain ones: after materialize, after pushes that the
per-state position arrays must follow (newer, older and brand-new keys), and past the TTL."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from feast import FeatureService, FeatureStore
from feast.data_source import PushMode

from livecart.online.frames import read_frame, read_row
from livecart.online.keys import KeyUniverse
from livecart.online.plan import ServicePlan, plan_service
from tests.integration.conftest import NOW, MiniRepo, make_repo

pytestmark = pytest.mark.integration

UNIVERSE = KeyUniverse([f"i{k}" for k in range(40)] + ["new-item"])
ASKED = ["i3", "i0", "i3", "new-item", "i29", "i39", "i1"]


def _plan(store: FeatureStore) -> ServicePlan:
    store.apply([FeatureService(name="items_service", features=[store.get_feature_view("items")])])
    return plan_service(store, "items_service")


def _both(store: FeatureStore, plan: ServicePlan) -> tuple[dict[str, Any], dict[str, Any]]:
    plain = read_frame(store, plan, {"item_id": ASKED}).to_pydict()
    coded = read_frame(store, plan, {"item_id": UNIVERSE.encode(ASKED)}).to_pydict()
    return plain, coded


def _push(repo: MiniRepo, item: str, score: float, at: datetime) -> None:
    frame = pd.DataFrame({
        "item_id": [item], "score": [score], "count": [7], "label": ["pushed"], "tags": [["p"]],
        "ratio": [0.5], "flag": [True], "small": [3],
        "embedding": [[1.0, 0.0, 0.0, 0.0]], "event_timestamp": [at], "created": [at],
    })
    repo.store.push("items_push", frame, to=PushMode.ONLINE)


def test_coded_keys__after_materialize_and_pushes__same_rows_as_plain_keys(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", n=30)
    repo.store.materialize(NOW - timedelta(days=2), NOW)
    plan = _plan(repo.store)
    plain, coded = _both(repo.store, plan)  # caches the position array of this state
    assert coded == plain and plain["score"][3] is None  # "new-item" not stored yet
    _push(repo, "i3", 100.0, NOW)  # newer: replaces
    _push(repo, "i0", -5.0, NOW - timedelta(days=1))  # older than the stored row: ignored
    _push(repo, "new-item", 7.5, NOW)  # a key the snapshot did not have
    plain, coded = _both(repo.store, plan)
    assert coded == plain
    assert plain["score"][:4] == [100.0, 0.0, 100.0, 7.5]


def test_coded_keys__past_ttl__absent_like_plain_keys(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", n=30, ttl=timedelta(minutes=30))  # rows are 1 h old
    repo.store.materialize(NOW - timedelta(days=2), NOW)
    plan = _plan(repo.store)
    _push(repo, "i29", 1.0, NOW)
    plain, coded = _both(repo.store, plan)
    assert coded == plain and plain["score"] == [None, None, None, None, 1.0, None, None]


def test_read_row__equals_the_frame_row(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", n=30)
    repo.store.materialize(NOW - timedelta(days=2), NOW)
    plan = _plan(repo.store)
    for item in ("i4", "missing"):
        frame_row = read_frame(repo.store, plan, {"item_id": [item]}).to_pylist()[0]
        assert read_row(repo.store, plan, {"item_id": item}) == frame_row
