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

from livecart.online import cache as cache_module
from livecart.online.cache import ReadCache
from livecart.online.files import read_manifest
from livecart.online.frames import read_frame
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


def test_plan_only__reads_the_named_features_as_the_whole_plan_does(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", n=30)
    repo.store.materialize(NOW - timedelta(days=2), NOW)
    plan = _plan(repo.store)
    only = plan.only({"score", "not_a_feature"}, "scores")
    assert only.name == f"{plan.name}:scores" and only.feature_names == ("score",)
    items = {"item_id": ["i4", "missing", "i7"]}
    whole = read_frame(repo.store, plan, items).select(["item_id", "score"])
    assert read_frame(repo.store, only, items).equals(whole)

def test_compaction__a_reader_holding_the_state_catches_up_without_reloading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer compacts every 3 deltas (in the push, here); a reader that held the previous
    base and deltas applies the compacting write's delta instead of loading the new snapshot,
    and ends up with the same rows as a reader that loads it."""
    repo = make_repo(tmp_path / "repo", n=30)
    config = repo.directory.parent / "feature_store.yaml"
    text = config.read_text()
    settings = "online_store:\n  compact_after_deltas: 3\n  compact_in_background: false\n"
    config.write_text(text.replace("online_store:\n", settings))
    store = FeatureStore(repo_path=str(config.parent))
    repo = MiniRepo(store, store.get_feature_view("items"), repo.source_path, repo.directory)
    store.materialize(NOW - timedelta(days=2), NOW)
    reader, view, keys = ReadCache(repo.directory), "mini__items", ["item_id"]
    reader.view(view, keys)
    loaded: list[str] = []
    real = cache_module.read_snapshot
    monkeypatch.setattr(
        cache_module, "read_snapshot", lambda d, name: loaded.append(name) or real(d, name)
    )
    for k in range(5):  # deltas 1, 2, then a compaction, then deltas again
        _push(repo, f"i{k}", 100.0 + k, NOW)
        reader.view(view, keys)
    entry = read_manifest(repo.directory).views[view]
    assert entry.folded is not None and len(entry.deltas) == 2
    caught_up = reader.view(view, keys)
    assert loaded == [] and caught_up is not None  # never reloaded the compacted snapshot
    fresh = ReadCache(repo.directory).view(view, keys)
    assert fresh is not None and loaded == [entry.base]
    assert caught_up.base == fresh.base and caught_up.deltas == fresh.deltas
    assert set(caught_up.index) == set(fresh.index)
    for key, row in fresh.index.items():
        assert caught_up.table is not None and fresh.table is not None
        mine = caught_up.table.slice(caught_up.index[key], 1).to_pylist()
        assert mine == fresh.table.slice(row, 1).to_pylist(), key
