"""Feast's Redis keys serialized once per process (:func:`livecart.features.redis_keys.serialized_keys`).

The kept keys must be Feast's own (``RedisOnlineStore._generate_redis_keys_for_entities``: the
entity key serialized, then the project), per project and set of join keys, and the table must stay
within :data:`KEPT_KEYS`.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from feast.infra.online_stores.redis import RedisOnlineStore

from livecart.features import redis_keys


def _store(project: str) -> Any:
    return SimpleNamespace(
        config=SimpleNamespace(project=project, entity_key_serialization_version=3)
    )


def test_redis_keys__feast_own_serialization__made_once_per_project_and_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    online = RedisOnlineStore()
    made: list[int] = []
    original = online._generate_redis_keys_for_entities

    def counted(config: Any, protos: list[Any]) -> list[bytes]:
        made.append(len(protos))
        return original(config, protos)

    monkeypatch.setattr(online, "_generate_redis_keys_for_entities", counted)
    monkeypatch.setattr(redis_keys, "_KEYS", {})
    keys = [("p1",), ("p2",), ("p3",)]
    a = _store("shop")
    first = redis_keys.serialized_keys(a, online, ("product_id",), keys)
    protos = [redis_keys._entity_key(("product_id",), k) for k in keys]
    assert first == original(a.config, protos)
    assert redis_keys.serialized_keys(a, online, ("product_id",), keys[::-1]) == first[::-1]
    assert made == [3]  # the second read serialized nothing
    other = redis_keys.serialized_keys(_store("other"), online, ("product_id",), keys[:1])
    assert other != first[:1] and made == [3, 1]  # another project: other keys
    monkeypatch.setattr(redis_keys, "KEPT_KEYS", 4)
    redis_keys.serialized_keys(a, online, ("product_id",), [("p4",), ("p5",)])
    assert len(redis_keys._KEYS[("shop", 3, ("product_id",))]) <= 4
