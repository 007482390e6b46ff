"""Rows of a feature service from Feast's Redis online store, as livecart's store hands them out.

On Redis, serving's feature read through ``get_online_features`` took 57 of a feed request's 70 ms
(the Redis round trips 7 ms): Feast builds a response protobuf value by value, then converts it
again. :func:`redis_view_rows` instead reads the rows the way Feast's Redis store does inside
``get_online_features`` (``RedisOnlineStore._read_features_per_fv``): Feast's own keys, hash
fields, connection settings and decoding, every view's HMGETs in one pipelined round trip, for the
distinct keys of the request only, and Feast's Redis key of each entity serialized once per
process (:data:`KEPT_KEYS`). Those helpers are the store's underscored methods; through the public
``online_read`` (one round trip per view, 12 on a feed request, and every key of every view
serialized on every read) a feed's feature read took 43 ms in a replica against 31 ms this way
(README, "Serving on Redis"). The rows go
into the per-view row states that livecart's store keeps (:class:`ViewRows`), so frames, rows and
the ranker's columns come from the same code on every store
(:func:`livecart.online.frames.frame_of`, :func:`livecart.features.online_columns.columns_of`).
``tests/integration/test_redis_store.py`` checks both against ``get_online_features``, value for
value.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from feast import FeatureStore
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

from livecart.core.errors import LivecartError
from livecart.online.codec import arrow_type, is_opaque, scalar_of
from livecart.online.lookup import ViewRows, distinct_keys, entity_rows
from livecart.online.plan import ServicePlan, ViewRead
from livecart.online.state import ViewState

if TYPE_CHECKING:  # Feast's Redis module needs the redis extra
    from feast.infra.online_stores.redis import RedisOnlineStore

Found = list[tuple[datetime | None, dict[str, ValueProto] | None]]
KEPT_KEYS = 200_000
"""Serialized Redis keys kept per project, key serialization and set of join keys (a catalogue's
products, viewers...): Feast serializes every key of every view on every read otherwise."""
_KEYS: dict[tuple[str, int, tuple[str, ...]], dict[tuple[Any, ...], bytes]] = {}
_KEYS_LOCK = threading.Lock()
_UNSET = ValueProto()


def redis_view_rows(
    store: FeatureStore,
    online: RedisOnlineStore,
    plan: ServicePlan,
    entities: Mapping[str, Sequence[Any]],
) -> tuple[int, list[ViewRows]]:
    """(number of entity rows, :class:`ViewRows` per view of ``plan``) read from Redis, every
    view's keys in one pipelined round trip."""
    n = entity_rows(plan, entities)
    distinct: dict[tuple[str, ...], tuple[list[tuple[Any, ...]], np.ndarray]] = {}
    asks: list[_Ask] = []
    commands: list[tuple[bytes, list[str | bytes]]] = []
    for read in plan.views:
        keys = distinct.get(read.join_keys)
        if keys is None:
            keys = distinct[read.join_keys] = distinct_keys([entities[k] for k in read.join_keys])
        uniques, inverse = keys
        asked = [i for i, key in enumerate(uniques) if all(v is not None for v in key)]
        ask = _ask(store, online, read, uniques, inverse, asked)
        commands += [(key, ask.fields) for key in ask.redis_keys]
        asks.append(ask)
    # Feast's own batched read (one HMGET per key and view, one pipeline: what its
    # get_online_features does on Redis), then its own decoding, view by view.
    values = online._read_hash_fields(store.config, commands) if commands else []
    out: list[ViewRows] = []
    start = 0
    for ask in asks:
        mine = values[start : start + len(ask.redis_keys)]
        start += len(ask.redis_keys)
        found: Found = online._convert_redis_values_to_protobuf(mine, ask.name, ask.features)
        state, positions = _state(ask.read, [ask.uniques[i] for i in ask.asked], found)
        rows = np.full(len(ask.uniques), -1, dtype=np.int64)
        rows[ask.asked] = positions
        out.append(ViewRows(ask.read, state, rows, ask.inverse))
    return n, out


@dataclass(frozen=True)
class _Ask:
    """One view's part of the pipelined read: its Redis keys and hash fields, as Feast names them."""

    read: ViewRead
    uniques: list[tuple[Any, ...]]
    inverse: np.ndarray
    asked: list[int]
    name: str
    features: list[str]
    fields: list[str | bytes]
    redis_keys: list[bytes]


def _ask(
    store: FeatureStore,
    online: RedisOnlineStore,
    read: ViewRead,
    uniques: list[tuple[Any, ...]],
    inverse: np.ndarray,
    asked: list[int],
) -> _Ask:
    from feast.infra.online_stores.redis import _versioned_fv_name

    name = _versioned_fv_name(read.view, store.config)
    features, fields = online._generate_hset_keys_for_features(
        read.view, list(read.features), fv_name_override=name
    )
    return _Ask(
        read,
        uniques,
        inverse,
        asked,
        name,
        features,
        fields,
        _redis_keys(store, online, read.join_keys, [uniques[i] for i in asked]),
    )


def _redis_keys(
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
        missing = [key for key in keys if key not in known]
        if missing:
            protos = [_entity_key(join_keys, key) for key in missing]
            made = online._generate_redis_keys_for_entities(store.config, protos)
            if len(known) + len(made) > KEPT_KEYS:
                known.clear()
            known.update(zip(missing, made, strict=True))
        return [known[key] for key in keys]


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


def _state(
    read: ViewRead, keys: list[tuple[Any, ...]], found: Found
) -> tuple[ViewState, np.ndarray]:
    """The rows Redis held for ``keys`` as a view state, and each key's row (-1: none)."""
    present = [i for i, (moment, values) in enumerate(found) if _stored(moment, values)]
    positions = np.full(len(keys), -1, dtype=np.int64)
    positions[present] = np.arange(len(present), dtype=np.int64)
    columns: dict[str, pa.Array] = {
        name: pa.array([keys[i][j] for i in present]) for j, name in enumerate(read.join_keys)
    }
    fields = {field.name: field for field in read.view.features}
    for name in read.features:
        field = fields[name]
        cells = [(found[i][1] or {}).get(name, _UNSET) for i in present]
        if is_opaque(field):  # kept serialized, as livecart's store keeps it
            values: list[Any] = [
                c.SerializeToString() if c.WhichOneof("val") else None for c in cells
            ]
        else:
            values = [scalar_of(c) for c in cells]
        columns[name] = pa.array(values, type=arrow_type(field))
    moments = [found[i][0] for i in present]
    stamps = np.array(
        [int(m.timestamp() * 1_000_000) if m is not None else 0 for m in moments], dtype=np.int64
    )
    return ViewState(table=pa.table(columns), event_us=stamps, created_us=stamps.copy()), positions


def _stored(moment: datetime | None, values: dict[str, ValueProto] | None) -> bool:
    """Whether Redis held the key: Feast answers a missing one with the epoch and unset values."""
    if values is None:
        return False
    return bool(moment and moment.timestamp() > 0) or any(
        v.WhichOneof("val") for v in values.values()
    )
