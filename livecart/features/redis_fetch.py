"""Hash fields of many Feast Redis keys in one round trip, with one command per field list.

Feast reads its Redis store with one HMGET per entity key, pipelined
(``RedisOnlineStore._read_hash_fields``). A feed request asks ~290 keys: redis-py then builds and
parses ~290 commands in Python, the largest part of a Redis replica's CPU after decoding. Where
the store is a single Redis (or a Sentinel's master) read through redis-py, :func:`hash_fields`
sends each group of keys that share a field list as one ``EVALSHA`` of :data:`SCRIPT` (the same
HMGETs, run by Redis itself), all groups in one pipeline (one round trip: no ``SCRIPT EXISTS``
before it, as redis-py's registered scripts send), and hiredis parses the nested answer in C. A Redis Cluster (keys on several nodes), Feast's GLIDE
client, or a server that refuses scripts is read through Feast's own pipeline instead, with the
same answer. ``tests/integration/test_redis_store.py`` checks both ways against
``get_online_features``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, cast

from feast import FeatureStore

from livecart.features.redis_cells import Cell

if TYPE_CHECKING:  # Feast's Redis module needs the redis extra
    from feast.infra.online_stores.redis import RedisOnlineStore

Request = tuple[Sequence[bytes], list[str | bytes]]
"""Redis keys and the hash fields to read from each of them."""
log = logging.getLogger(__name__)
SCRIPT: Final = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HMGET', key, unpack(ARGV)) end
return out
"""
_SHA: Final = hashlib.sha1(SCRIPT.encode()).hexdigest()
"""What Redis names :data:`SCRIPT` by (``SCRIPT LOAD`` answers the same)."""
_REFUSED: set[int] = set()
"""Clients (by id) whose server refused the script: read through the pipeline from then on."""


def hash_fields(
    store: FeatureStore,
    online: RedisOnlineStore,
    requests: Sequence[Request],
    scripted: bool = True,
) -> list[list[list[Cell]]]:
    """Per request, per key, the fields' values (None where unset); one round trip."""
    if scripted and _scriptable(store, online):
        from redis.exceptions import ResponseError  # Feast's Redis client (the redis extra)

        try:
            return _scripted(store, online, requests)
        except ResponseError as exc:  # scripting off (an ACL, a managed Redis): Feast's pipeline
            log.warning("Redis refused the read script (%s); reading key by key", exc)
            _REFUSED.add(id(online._get_client(store.config.online_store)))
    commands = [(key, fields) for keys, fields in requests for key in keys]
    values = online._read_hash_fields(store.config, commands) if commands else []
    out: list[list[list[Cell]]] = []
    start = 0
    for keys, _ in requests:
        out.append([cast(list[Cell], row) for row in values[start : start + len(keys)]])
        start += len(keys)
    return out


def _scriptable(store: FeatureStore, online: RedisOnlineStore) -> bool:
    from feast.infra.online_stores.redis import RedisClient, RedisType

    config: Any = store.config.online_store
    if config.redis_type == RedisType.redis_cluster or config.client != RedisClient.redis:
        return False
    return id(online._get_client(config)) not in _REFUSED


def _scripted(
    store: FeatureStore, online: RedisOnlineStore, requests: Sequence[Request]
) -> list[list[list[Cell]]]:
    """``EVALSHA`` of :data:`SCRIPT` per request in one pipeline. redis-py's registered scripts
    would ask ``SCRIPT EXISTS`` before every pipeline (a second round trip per read); the script
    is loaded only when Redis answers ``NOSCRIPT`` (first use, a restart, ``SCRIPT FLUSH``)."""
    from redis.exceptions import NoScriptError

    client = online._get_client(store.config.online_store)
    asked = [(keys, fields) for keys, fields in requests if keys]
    try:
        answered = _evalsha(client, asked)
    except NoScriptError:
        client.script_load(SCRIPT)  # refused (no scripting): hash_fields reads key by key
        answered = _evalsha(client, asked)
    answers = iter(answered)
    return [cast(list[list[Cell]], next(answers)) if keys else [] for keys, _ in requests]


def _evalsha(client: Any, asked: Sequence[Request]) -> list[Any]:
    with client.pipeline(transaction=False) as pipe:
        for keys, fields in asked:
            pipe.execute_command("EVALSHA", _SHA, len(keys), *keys, *fields)
        return cast(list[Any], pipe.execute())
