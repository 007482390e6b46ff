"""Feast's async API: ``get_online_features_async``, ``push_async``, ``write_to_online_store_async``."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.online_store_contract.conftest import (
    FEATURE_NAMES,
    FEATURES,
    Contract,
    frame,
    row,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def async_contract(contract: Contract) -> Contract:
    if contract.kind == "sqlite":
        pytest.skip(
            "Feast 0.67's SQLite store implements neither online_read_async nor "
            "online_write_batch_async (NotImplementedError)"
        )
    return contract


def test_async__write_push_and_read__same_as_sync(async_contract: Contract) -> None:
    store = async_contract.store

    async def scenario() -> dict[str, list[object]]:
        await store.write_to_online_store_async("profile", frame([row(60, attrs={})]))
        await store.push_async("profile_push", frame([row(61, doc=None)]))
        response = await store.get_online_features_async(
            features=FEATURES, entity_rows=[{"user_id": i} for i in (60, 61, 99)]
        )
        return response.to_dict()

    out = asyncio.run(scenario())
    assert out == async_contract.read([60, 61, 99])
    assert out["attrs"][0] == {} and out["doc"][1] is None
    assert {n: out[n][1] for n in FEATURE_NAMES} == {
        n: v for n, v in row(61, doc=None).items() if n in FEATURE_NAMES
    }
