"""TTL: Feast's stores serve values older than a view's TTL; livecart's store hides them only
when its config says so (``enforce_ttl``, ``key_ttl_seconds``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from feast import FeatureStore

from tests.integration.online_store_contract.conftest import (
    NOW,
    Contract,
    frame,
    online_yaml,
    row,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def materialized(contract: Contract) -> Contract:
    contract.store.materialize(NOW - timedelta(days=2), NOW)  # rows of users 1, 2: an hour old
    contract.store.write_to_online_store("profile", frame([row(70)]))  # a fresh row
    return contract


def test_default__rows_older_than_ttl__are_served(materialized: Contract) -> None:
    assert materialized.read([1, 2], ["stale:score"])["score"] == [1.5, 3.0]


def _same_repo_with(contract: Contract, setting: str, tmp_path: Path) -> FeatureStore:
    if contract.kind == "sqlite":
        pytest.skip(f"{setting.split(':')[0]} is a setting of livecart's store; SQLite has none")
    (tmp_path / "feature_store.yaml").write_text(
        online_yaml(contract.kind, contract.root, f"  {setting}\n")
    )
    return FeatureStore(repo_path=str(tmp_path))


def test_enforce_ttl__rows_older_than_their_views_ttl__are_absent(
    materialized: Contract, tmp_path: Path
) -> None:
    store = _same_repo_with(materialized, "enforce_ttl: true", tmp_path)
    out = store.get_online_features(
        features=["stale:score", "profile:score"],
        entity_rows=[{"user_id": 1}],
        full_feature_names=True,
    ).to_dict()
    # profile's row is within its day-long TTL; stale's hour-old row is past its minute.
    assert out["profile__score"] == [1.5]
    assert out["stale__score"] == [None]


def test_key_ttl_seconds__rows_older_than_it__are_absent_in_every_view(
    materialized: Contract, tmp_path: Path
) -> None:
    store = _same_repo_with(materialized, "key_ttl_seconds: 1800", tmp_path)
    out = store.get_online_features(
        features=["profile:score"], entity_rows=[{"user_id": 1}, {"user_id": 70}]
    ).to_dict()
    assert out["score"] == [None, row(70)["score"]]
