"""Rows of a feature service from Feast's Redis online store, as livecart's store hands them out.

On Redis, serving's feature read through ``get_online_features`` took 57 of a feed request's 70 ms
(the Redis round trips 7 ms): Feast builds a response protobuf value by value, then converts it
again. :func:`redis_view_rows` instead asks Feast's own Redis store for the rows
(:meth:`RedisOnlineStore.online_read`: Feast's keys, hash fields, connection settings and
decoding; one pipelined round trip per view, for the distinct keys of the request only) and puts
them in the per-view row states that livecart's store keeps (:class:`ViewRows`), so frames,
rows and the ranker's columns come from the same code on every store
(:func:`livecart.online.frames.frame_of`, :func:`livecart.features.online_columns.columns_of`).
``tests/integration/test_redis_store.py`` checks both against ``get_online_features``, value for
value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
_UNSET = ValueProto()


def redis_view_rows(
    store: FeatureStore,
    online: RedisOnlineStore,
    plan: ServicePlan,
    entities: Mapping[str, Sequence[Any]],
) -> tuple[int, list[ViewRows]]:
    """(number of entity rows, :class:`ViewRows` per view of ``plan``) read from Redis."""
    n = entity_rows(plan, entities)
    distinct: dict[tuple[str, ...], tuple[list[tuple[Any, ...]], np.ndarray]] = {}
    out: list[ViewRows] = []
    for read in plan.views:
        keys = distinct.get(read.join_keys)
        if keys is None:
            keys = distinct[read.join_keys] = distinct_keys([entities[k] for k in read.join_keys])
        uniques, inverse = keys
        asked = [i for i, key in enumerate(uniques) if all(v is not None for v in key)]
        found: Found = []
        if asked:
            protos = [_entity_key(read.join_keys, uniques[i]) for i in asked]
            found = online.online_read(store.config, read.view, protos, list(read.features))
        state, positions = _state(read, [uniques[i] for i in asked], found)
        rows = np.full(len(uniques), -1, dtype=np.int64)
        rows[asked] = positions
        out.append(ViewRows(read, state, rows, inverse))
    return n, out


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
