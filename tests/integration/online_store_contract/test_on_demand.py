"""On-demand views with ``write_to_online_store=True``: materialized, written, read back."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from feast.data_source import PushMode

from tests.integration.online_store_contract.conftest import NOW, Contract, frame, row

pytestmark = pytest.mark.integration
PLUS = ["profile_plus:double_score"]


def test_materialize__on_demand_view__serves_its_transformed_rows(contract: Contract) -> None:
    contract.store.materialize(NOW - timedelta(days=2), NOW)
    assert contract.read([1, 2, 99], PLUS)["double_score"] == [3.0, 6.0, None]


def test_write_to_online_store__on_demand_view__transforms_on_write(contract: Contract) -> None:
    written = pd.DataFrame({"user_id": [50, 51], "score": [4.0, 0.5], "event_timestamp": [NOW] * 2})
    contract.store.write_to_online_store("profile_plus", written)
    assert contract.read([50, 51], PLUS)["double_score"] == [8.0, 1.0]


def test_write_to_online_store__without_transform__stores_values_as_given(
    contract: Contract,
) -> None:
    given = pd.DataFrame({"user_id": [52], "double_score": [-1.0], "event_timestamp": [NOW]})
    contract.store.write_to_online_store("profile_plus", given, transform_on_write=False)
    assert contract.read([52], PLUS)["double_score"] == [-1.0]


def test_push__transform_on_write__writes_the_views_of_the_push_source(
    contract: Contract,
) -> None:
    contract.store.write_to_online_store(
        "profile_plus", frame([row(53)])[["user_id", "score", "event_timestamp"]]
    )
    contract.store.push(
        "profile_push", frame([row(53, score=10.0)]), to=PushMode.ONLINE, transform_on_write=True
    )
    out = contract.read([53], ["profile:score", *PLUS])
    # The push source feeds ``profile``; the on-demand view keeps its own last write.
    assert out["score"] == [10.0]
    assert out["double_score"] == [2 * row(53)["score"]]
