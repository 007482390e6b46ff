"""Every value type, Map and Json included, round trips through each write path (issue 19)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from feast.data_source import PushMode

from tests.integration.online_store_contract.conftest import (
    FEATURE_NAMES,
    NOW,
    OFFLINE_AT,
    Contract,
    frame,
    row,
)

pytestmark = pytest.mark.integration


def expected(values: dict[str, Any]) -> dict[str, Any]:
    """What ``to_dict`` gives back for a written row (timestamps are whole UTC seconds)."""
    return {name: values[name] for name in FEATURE_NAMES}


def read_one(contract: Contract, user_id: int) -> dict[str, Any]:
    out = contract.read([user_id])
    return {name: out[name][0] for name in FEATURE_NAMES}


def test_materialize__every_type__serves_the_offline_rows(contract: Contract) -> None:
    contract.store.materialize(NOW - timedelta(days=2), NOW)
    out = contract.read([1, 2, 99])
    assert out["attrs"] == [{"tier": "gold1"}, {"tier": "x"}, None]
    assert out["doc"] == [{"k": 1, "nested": [1, "x"]}, [1, 2], None]
    assert out["seen_at"][:2] == [OFFLINE_AT, OFFLINE_AT]
    assert {name: out[name][0] for name in FEATURE_NAMES} == expected(row(1))
    assert all(out[name][2] is None for name in FEATURE_NAMES)


@pytest.mark.parametrize("path", ["write_to_online_store", "push"])
def test_write__every_type_with_nulls_and_empties__round_trips(
    contract: Contract, path: str
) -> None:
    base = 10 if path == "push" else 20
    rows = [
        row(base),
        # Empty map, empty JSON object, empty list and nulls: each comes back as written.
        row(base + 1, attrs={}, doc={}, tags=[], score=None, name=None),
        row(base + 2, attrs=None, doc=None, blob=None, counts=None, seen_at=None),
        row(base + 3, doc="text", attrs={"a": "1", "b": ""}),
    ]
    for one in rows:  # one frame per row: pandas would widen maps to one struct per frame
        if path == "push":
            contract.store.push("profile_push", frame([one]), to=PushMode.ONLINE)
        else:
            contract.store.write_to_online_store("profile", frame([one]))
    for one in rows:
        assert read_one(contract, one["user_id"]) == expected(one)


def test_write__entity_and_extra_columns_in_any_order__are_accepted(contract: Contract) -> None:
    one = row(30)
    shuffled = frame([one])
    shuffled["note"] = "not a feature"  # an extra column: ignored, as by Feast's stores
    shuffled = shuffled[
        ["note", "doc", "event_timestamp", *reversed(FEATURE_NAMES[:-1]), "user_id"]
    ]
    contract.store.write_to_online_store("profile", shuffled)
    pushed = row(31)
    contract.store.push("profile_push", frame([pushed])[list(reversed(frame([pushed]).columns))])
    assert read_one(contract, 30) == expected(one)
    assert read_one(contract, 31) == expected(pushed)
