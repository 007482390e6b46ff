"""Contract tests of the DuckDB online store through Feast's own API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from feast import FeatureStore
from feast.data_source import PushMode
from feast.protos.feast.serving.ServingService_pb2 import FieldStatus

from livecart.online.cache import ReadCache
from livecart.online.files import read_manifest
from tests.forked import forked_processes
from tests.integration.conftest import (
    EMBEDDING_DIM,
    NOW,
    MiniRepo,
    item_entity,
    make_repo,
    mini_view,
    offline_frame,
)

pytestmark = pytest.mark.integration
FEATURES = ["items:score", "items:count", "items:label", "items:tags", "items:embedding"]


def _read(
    repo: MiniRepo, ids: list[str], features: list[str] = FEATURES
) -> dict[str, list[object]]:
    return repo.store.get_online_features(
        features=features, entity_rows=[{"item_id": i} for i in ids]
    ).to_dict()


def _push(
    repo: MiniRepo, item: str, score: float, at: datetime, created: datetime | None = None
) -> None:
    frame = pd.DataFrame(
        {
            "item_id": [item],
            "score": [score],
            "count": [7],
            "label": ["pushed"],
            "tags": [["p"]],
            "ratio": [0.5],
            "flag": [True],
            "small": [3],
            "embedding": [[1.0, 0.0, 0.0, 0.0]],
            "event_timestamp": [at],
            "created": [created or at],
        }
    )
    repo.store.push("items_push", frame, to=PushMode.ONLINE)


def test_store__feast_materialize__serves_typed_values_and_missing_keys(
    mini_repo: MiniRepo,
) -> None:
    mini_repo.store.materialize(NOW - timedelta(days=2), NOW)
    out = _read(mini_repo, ["i3", "nobody"])
    assert out["score"] == [3.0, None]
    assert out["count"] == [3, None]
    assert out["label"] == ["label 3", None]
    assert out["tags"] == [["a", "t3"], None]
    assert out["embedding"][0] == pytest.approx([3.0, 1.0, 0.0, 0.0])
    assert len(out["embedding"][0]) == EMBEDDING_DIM
    statuses = mini_repo.store.get_online_features(
        features=["items:score"], entity_rows=[{"item_id": "nobody"}]
    )
    assert statuses.proto.results[1].statuses[0] == FieldStatus.NOT_FOUND


def test_store__older_write__never_overwrites_newer(mini_repo: MiniRepo) -> None:
    _push(mini_repo, "i1", 10.0, NOW - timedelta(minutes=1))
    _push(mini_repo, "i1", 5.0, NOW - timedelta(minutes=5))  # older event: ignored
    assert _read(mini_repo, ["i1"], ["items:score"])["score"] == [10.0]
    same = NOW - timedelta(minutes=1)
    _push(mini_repo, "i1", 11.0, same, created=NOW)  # same event time, later created: wins
    _push(mini_repo, "i1", 12.0, same, created=NOW - timedelta(hours=1))  # earlier created: loses
    assert _read(mini_repo, ["i1"], ["items:score"])["score"] == [11.0]
    mini_repo.store.materialize(NOW - timedelta(days=2), NOW)  # offline rows are an hour old
    assert _read(mini_repo, ["i1"], ["items:score"])["score"] == [11.0]


def test_store__ttl__expired_values_not_served(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "ttl", ttl=timedelta(minutes=10))
    repo.store.materialize(NOW - timedelta(days=2), NOW)  # rows are an hour old: past the TTL
    assert _read(repo, ["i2"], ["items:score"])["score"] == [None]
    _push(repo, "i2", 42.0, datetime.now(UTC))
    assert _read(repo, ["i2"], ["items:score"])["score"] == [42.0]


def test_store__naive_and_foreign_timezones__treated_consistently(mini_repo: MiniRepo) -> None:
    utc_moment = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    _push(mini_repo, "i4", 1.0, utc_moment.replace(tzinfo=None))  # naive = UTC
    later_in_tokyo = (utc_moment + timedelta(seconds=30)).astimezone(
        pd.Timestamp.now(tz="Asia/Tokyo").tzinfo
    )
    _push(mini_repo, "i4", 2.0, later_in_tokyo)
    assert _read(mini_repo, ["i4"], ["items:score"])["score"] == [2.0]
    _push(mini_repo, "i4", 3.0, utc_moment.replace(tzinfo=None))  # older (naive UTC): ignored
    assert _read(mini_repo, ["i4"], ["items:score"])["score"] == [2.0]


def test_store__teardown__removes_views(mini_repo: MiniRepo) -> None:
    mini_repo.store.materialize(NOW - timedelta(days=2), NOW)
    assert "mini__items" in read_manifest(mini_repo.directory).views
    mini_repo.store.teardown()
    assert read_manifest(mini_repo.directory).views == {}
    assert ReadCache(mini_repo.directory).view("mini__items", ["item_id"]) is None


def test_store__reapply_changed_schema__drops_stale_rows(mini_repo: MiniRepo) -> None:
    mini_repo.store.materialize(NOW - timedelta(days=2), NOW)
    frame = offline_frame(50, NOW - timedelta(hours=1))
    frame["extra"] = 0.5
    frame.to_parquet(mini_repo.source_path)
    view = mini_view(mini_repo.store.get_data_source("items_push"), item_entity(), extra=True)  # type: ignore[arg-type]
    mini_repo.store.apply([view])
    out = _read(mini_repo, ["i1"], ["items:score", "items:extra"])
    assert out["score"] == [None] and out["extra"] == [None]
    mini_repo.store.materialize(NOW - timedelta(days=2), NOW)
    out = _read(mini_repo, ["i1"], ["items:score", "items:extra"])
    assert out["score"] == [1.0] and out["extra"] == [0.5]


def _fresh_reader(repo_path: str, out: Any) -> None:
    """In a process of its own: i9 as a new FeatureStore on the repo serves it."""
    store = FeatureStore(repo_path=repo_path)
    rows = [{"item_id": "i9"}]
    out.put(store.get_online_features(features=["items:score"], entity_rows=rows).to_dict())


def test_store__push__visible_to_reader_in_another_process(mini_repo: MiniRepo) -> None:
    mini_repo.store.materialize(NOW - timedelta(days=2), NOW)
    _push(mini_repo, "i9", 99.5, datetime.now(UTC))
    ctx = forked_processes()  # a process of its own that has opened no store yet
    out = ctx.Queue()
    reader = ctx.Process(target=_fresh_reader, args=(str(mini_repo.directory.parent), out))
    reader.start()
    try:
        assert out.get(timeout=120)["score"] == [99.5]
    finally:
        reader.join(60)
    assert reader.exitcode == 0


@pytest.mark.parametrize("metric", ["cosine", "inner_product", "l2"])
def test_store__vector_search__nearest_first_with_filters(mini_repo: MiniRepo, metric: str) -> None:
    from feast.filter_models import ComparisonFilter

    mini_repo.store.materialize(NOW - timedelta(days=2), NOW)
    response = mini_repo.store.retrieve_online_documents_v2(
        features=["items:embedding", "items:label", "items:count"],
        query=[7.0, 1.0, 0.0, 1.0],
        top_k=3,
        distance_metric=metric,
    ).to_dict()
    ranked = sorted(zip(response["distance"], response["item_id"], response["count"], strict=True))
    assert ranked[0][1] == "i7" and ranked[0][2] == 7  # values stay aligned with their entity
    assert all(f"i{count}" == item for _, item, count in ranked)
    filtered = mini_repo.store.retrieve_online_documents_v2(
        features=["items:count"],
        query=[7.0, 1.0, 0.0, 1.0],
        top_k=5,
        distance_metric=metric,
        filters=ComparisonFilter(type="lt", key="count", value=5),
    ).to_dict()
    assert filtered["count"] and all(c < 5 for c in filtered["count"])
    assert "i7" not in filtered["item_id"]


def test_fast_materialize__same_as_feast_materialize_and_idempotent(tmp_path: Path) -> None:
    from livecart.core.settings import LivecartSettings
    from ray_jobs.materialize import run as fast_materialize

    stock, fast = make_repo(tmp_path / "stock"), make_repo(tmp_path / "fast")
    stock.store.materialize(NOW - timedelta(days=2), NOW)
    settings = LivecartSettings(home=tmp_path / "home")
    first = fast_materialize(
        settings, start=NOW - timedelta(days=2), end=NOW, store=fast.store, use_ray=False
    )
    assert first.rows["items"] == 50
    ids = [f"i{k}" for k in range(50)] + ["nobody"]
    assert _read(stock, ids) == _read(fast, ids)
    fast_materialize(
        settings, start=NOW - timedelta(days=2), end=NOW, store=fast.store, use_ray=False
    )
    assert _read(stock, ids) == _read(fast, ids)
    intervals = fast.store.get_feature_view("items").materialization_intervals
    assert len(intervals) == 2 and intervals[-1][1] == NOW
    assert not any((settings.home / ".staging").iterdir())  # the staged rows are removed
