"""Each request's distinct entity keys and Feast's Redis key of each, serialized once per process.

Feast names an entity's Redis hash by its serialized entity key and the project
(``RedisOnlineStore._generate_redis_keys_for_entities``) and serializes every key of every view
on every read. A replica reads the same catalogue's products and streamers and the same viewers
again and again, so :func:`serialized_keys` keeps each key's Redis key (:data:`KEPT_KEYS`), made
by Feast's own method: what Feast writes is what is read. :func:`request_keys` finds a read's
distinct keys and those that can be asked (no null part).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import filterfalse
from typing import TYPE_CHECKING, Any

import numpy as np
from feast import FeatureStore
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

from livecart.core.errors import LivecartError
from livecart.online.lookup import distinct_keys

if TYPE_CHECKING:  # Feast's Redis module needs the redis extra
    from feast.infra.online_stores.redis import RedisOnlineStore

KEPT_KEYS = 200_000
"""Serialized Redis keys kept per project, key serialization and set of join keys (a catalogue's
products, viewers...): Feast serializes every key of every view on every read otherwise."""
_KEYS: dict[tuple[str, int, tuple[str, ...]], dict[tuple[Any, ...], bytes]] = {}
_KEYS_LOCK = threading.Lock()


@dataclass(frozen=True)
class RequestKeys:
    """A request's distinct keys of one set of join keys (and each row's), those asked (no null
    part), and Feast's Redis key of each asked one."""

    uniques: list[tuple[Any, ...]]
    inverse: np.ndarray
    asked: list[int]
    redis_keys: list[bytes]


def request_keys(
    store: FeatureStore,
    online: RedisOnlineStore,
    join_keys: tuple[str, ...],
    entities: Mapping[str, Sequence[Any]],
) -> RequestKeys:
    uniques, inverse = distinct_keys([entities[k] for k in join_keys])
    asked = [i for i, key in enumerate(uniques) if None not in key]
    redis_keys = serialized_keys(store, online, join_keys, [uniques[i] for i in asked])
    return RequestKeys(uniques, inverse, asked, redis_keys)


def keys_of(
    store: FeatureStore,
    online: RedisOnlineStore,
    join_keys: tuple[str, ...],
    keys: list[tuple[Any, ...]],
) -> RequestKeys:
    """:class:`RequestKeys` of distinct ``keys`` (those a near cache entry lacks)."""
    asked = [i for i, key in enumerate(keys) if None not in key]
    redis_keys = serialized_keys(store, online, join_keys, [keys[i] for i in asked])
    return RequestKeys(keys, np.arange(len(keys), dtype=np.int64), asked, redis_keys)


def serialized_keys(
    store: FeatureStore,
    online: RedisOnlineStore,
    join_keys: tuple[str, ...],
    keys: list[tuple[Any, ...]],
) -> list[bytes]:
    """Feast's Redis key of each entity key, serialized once per process (:data:`KEPT_KEYS`)."""
    with _KEYS_LOCK:
        config = store.config
        known = _KEYS.setdefault(
            (config.project, config.entity_key_serialization_version, join_keys), {}
        )
        missing = list(filterfalse(known.__contains__, keys))
        if missing:
            protos = [_entity_key(join_keys, key) for key in missing]
            made = online._generate_redis_keys_for_entities(store.config, protos)
            if len(known) + len(made) > KEPT_KEYS:
                known.clear()
            known.update(zip(missing, made, strict=True))
        return list(map(known.__getitem__, keys))


def _entity_key(names: Sequence[str], values: Sequence[Any]) -> EntityKeyProto:
    return EntityKeyProto(join_keys=list(names), entity_values=[_value(v) for v in values])


def _value(value: Any) -> ValueProto:
    if isinstance(value, str):
        return ValueProto(string_val=value)
    if isinstance(value, bool):
        return ValueProto(bool_val=value)
    if isinstance(value, int | np.integer):
        return ValueProto(int64_val=int(value))
    if isinstance(value, bytes):
        return ValueProto(bytes_val=value)
    raise LivecartError(f"entity key value {value!r}: only str, int, bool and bytes keys")
