"""Rows of a feature service from Feast's Redis online store, as livecart's store hands them out.

On Redis, serving's feature read through ``get_online_features`` took 57 of a feed request's 70 ms
(the Redis round trips 7 ms): Feast builds a response protobuf value by value, then converts it
again. :func:`redis_view_rows` instead reads the rows the way Feast's Redis store does inside
``get_online_features`` (``RedisOnlineStore._read_features_per_fv``): Feast's own keys, hash
fields and connection settings, in one pipelined round trip, for the distinct keys of the request
only. On top of that: the views of one entity live in the same Feast hash, so they share one
HMGET per key; Feast's Redis key of each entity is serialized once per process
(:data:`KEPT_KEYS`); and values are decoded a column at a time
(:mod:`livecart.features.redis_cells`) instead of a ValueProto per value. The Feast helpers used
are the store's underscored methods; through the public ``online_read`` (one round trip per view,
12 on a feed request, and every key of every view serialized on every read) a feed's feature read
took 43 ms in a replica against 31 ms with one pipeline and kept keys (README, "Serving on
Redis", has this round's figures). The rows go into the per-view row states that livecart's
store keeps (:class:`ViewRows`), so frames, rows and the ranker's columns come from the same code
on every store (:func:`livecart.online.frames.frame_of`,
:func:`livecart.features.online_columns.columns_of`). ``tests/integration/test_redis_store.py``
checks both against ``get_online_features``, value for value.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from feast import FeatureStore
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from google.protobuf.timestamp_pb2 import Timestamp

from livecart.core.errors import LivecartError
from livecart.features.redis_cells import Cell, column_of
from livecart.features.redis_fetch import hash_fields
from livecart.features.redis_near import Entry, NearCache, answer
from livecart.online.lookup import ViewRows, distinct_keys, entity_rows
from livecart.online.plan import ServicePlan, ViewRead
from livecart.online.state import ViewState

if TYPE_CHECKING:  # Feast's Redis module needs the redis extra
    from feast.infra.online_stores.redis import RedisOnlineStore

KEPT_KEYS = 200_000
"""Serialized Redis keys kept per project, key serialization and set of join keys (a catalogue's
products, viewers...): Feast serializes every key of every view on every read otherwise."""
_KEYS: dict[tuple[str, int, tuple[str, ...]], dict[tuple[Any, ...], bytes]] = {}
_KEYS_LOCK = threading.Lock()
_FIELDS: dict[tuple[str, tuple[str, ...]], tuple[list[str], list[str | bytes]]] = {}
"""Feast's feature names and hash fields per (versioned view name, features): a few per plan."""


def redis_view_rows(
    store: FeatureStore,
    online: RedisOnlineStore,
    plan: ServicePlan,
    entities: Mapping[str, Sequence[Any]],
    scripted: bool = True,
    near: NearCache | None = None,
) -> tuple[int, list[ViewRows]]:
    """(number of entity rows, :class:`ViewRows` per view of ``plan``) read from Redis, every
    view's keys in one round trip (``scripted``: see :func:`redis_fetch.hash_fields`); views that
    ``near`` keeps are answered from it while their entry is young (:mod:`redis_near`)."""
    n = entity_rows(plan, entities)
    keyed: dict[tuple[str, ...], _Keys] = {}  # the views of one entity share its keys
    asks: list[_Ask] = []
    for read in plan.views:
        keys = keyed.get(read.join_keys)
        if keys is None:
            keys = keyed[read.join_keys] = _keys(store, online, read.join_keys, entities)
        asks.append(_Ask(read, keys, *_fields(store, online, read)))
    kept: dict[int, tuple[ViewState, np.ndarray]] = {}
    partial: dict[int, tuple[Entry, _Ask]] = {}  # an entry, and the read of the keys it lacks
    if near is not None:
        for i, ask in enumerate(asks):
            if not near.keeps(ask.read):
                continue
            entry, missing = near.find(ask.read, ask.keys.uniques)
            if entry is None:
                continue
            if not missing:
                kept[i] = answer(entry, ask.keys.uniques)
            else:
                rest = _keys_of(store, online, ask.read.join_keys, missing)
                partial[i] = (entry, _Ask(ask.read, rest, ask.features, ask.fields))
    read_at = near.now() if near is not None else 0.0
    fetched = [partial[i][1] if i in partial else a for i, a in enumerate(asks) if i not in kept]
    answers = iter(_hmget(store, online, fetched, scripted) if fetched else [])
    out: list[ViewRows] = []
    for i, ask in enumerate(asks):
        if i in kept:
            state, rows = kept[i]
        elif i in partial:
            assert near is not None
            entry, sub = partial[i]
            grown = near.extend(ask.read, entry, sub.keys.uniques, *_rows(sub, next(answers)))
            state, rows = answer(grown, ask.keys.uniques)
        else:
            state, rows = _rows(ask, next(answers))
            if near is not None and near.keeps(ask.read):
                near.put(ask.read, ask.keys.uniques, state, rows, read_at)
        out.append(ViewRows(ask.read, state, rows, ask.keys.inverse))
    return n, out


def _hmget(
    store: FeatureStore, online: RedisOnlineStore, asks: list[_Ask], scripted: bool
) -> list[list[list[Cell]]]:
    """Each view's hash fields for each of its keys, in one round trip
    (:func:`livecart.features.redis_fetch.hash_fields`).

    Feast keeps every view of an entity in that entity's hash, so the views with the same join
    keys are read together (a feed request: ~290 HMGETs instead of ~580)."""
    groups: dict[tuple[tuple[str, ...], int], list[int]] = {}
    for index, ask in enumerate(asks):  # a near cache's partial reads have key sets of their own
        groups.setdefault((ask.read.join_keys, id(ask.keys)), []).append(index)
    requests = [
        (asks[members[0]].keys.redis_keys, [name for i in members for name in asks[i].fields])
        for members in groups.values()
    ]
    cells: list[list[list[Cell]]] = [[] for _ in asks]
    for members, answered in zip(
        groups.values(), hash_fields(store, online, requests, scripted), strict=True
    ):
        offset = 0
        for i in members:
            width = len(asks[i].fields)
            cells[i] = [row[offset : offset + width] for row in answered]
            offset += width
    return cells


@dataclass(frozen=True)
class _Keys:
    """A request's distinct keys of one set of join keys (and each row's), those asked (no null
    part), and Feast's Redis key of each asked one."""

    uniques: list[tuple[Any, ...]]
    inverse: np.ndarray
    asked: list[int]
    redis_keys: list[bytes]


@dataclass(frozen=True)
class _Ask:
    """One view's part of the read: its keys, and its features and hash fields as Feast names
    them (the view's ``_ts:`` field last)."""

    read: ViewRead
    keys: _Keys
    features: list[str]
    fields: list[str | bytes]


def _keys(
    store: FeatureStore,
    online: RedisOnlineStore,
    join_keys: tuple[str, ...],
    entities: Mapping[str, Sequence[Any]],
) -> _Keys:
    uniques, inverse = distinct_keys([entities[k] for k in join_keys])
    asked = [i for i, key in enumerate(uniques) if all(v is not None for v in key)]
    redis_keys = _redis_keys(store, online, join_keys, [uniques[i] for i in asked])
    return _Keys(uniques, inverse, asked, redis_keys)


def _keys_of(
    store: FeatureStore,
    online: RedisOnlineStore,
    join_keys: tuple[str, ...],
    keys: list[tuple[Any, ...]],
) -> _Keys:
    """:class:`_Keys` of distinct ``keys`` (those a near cache entry lacks)."""
    asked = [i for i, key in enumerate(keys) if all(v is not None for v in key)]
    redis_keys = _redis_keys(store, online, join_keys, [keys[i] for i in asked])
    return _Keys(keys, np.arange(len(keys), dtype=np.int64), asked, redis_keys)


def _rows(ask: _Ask, answered: list[list[Cell]]) -> tuple[ViewState, np.ndarray]:
    """The state of what Redis answered for ``ask`` and each of its distinct keys' row (-1:
    none)."""
    state, positions = _state(ask, answered)
    rows = np.full(len(ask.keys.uniques), -1, dtype=np.int64)
    rows[ask.keys.asked] = positions
    return state, rows


def _fields(
    store: FeatureStore, online: RedisOnlineStore, read: ViewRead
) -> tuple[list[str], list[str | bytes]]:
    """Feast's names and hash fields of ``read``'s features, computed once per view name and
    feature list (Feast hashes every field name on every read otherwise)."""
    from feast.infra.online_stores.redis import _versioned_fv_name

    name = _versioned_fv_name(read.view, store.config)
    key = (name, tuple(read.features))
    kept = _FIELDS.get(key)
    if kept is None:
        kept = _FIELDS[key] = online._generate_hset_keys_for_features(
            read.view, list(read.features), fv_name_override=name
        )
    return kept


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


def _state(ask: _Ask, answered: list[list[Cell]]) -> tuple[ViewState, np.ndarray]:
    """The rows Redis held for the asked keys as a view state, and each key's row (-1: none).

    ``answered`` holds, per key, the feature cells and then the view's ``_ts:`` field, as Feast's
    ``_get_features_for_entity`` reads them; a key is held when its timestamp is past the epoch
    or any value is set (Feast answers a missing key with the epoch and unset values)."""
    keys = [ask.keys.uniques[i] for i in ask.keys.asked]
    moments = [_moment(row[-1]) for row in answered]
    present = [
        i
        for i, row in enumerate(answered)
        if len(row) > 1 and (moments[i] > 0 or any(_is_set(cell) for cell in row[:-1]))
    ]
    positions = np.full(len(keys), -1, dtype=np.int64)
    positions[present] = np.arange(len(present), dtype=np.int64)
    read = ask.read
    columns: dict[str, pa.Array] = {
        name: pa.array([keys[i][j] for i in present]) for j, name in enumerate(read.join_keys)
    }
    fields = {field.name: field for field in read.view.features}
    for j, name in enumerate(ask.features[:-1]):
        columns[name] = column_of([answered[i][j] for i in present], fields[name])
    stamps = np.array(
        [int(datetime.fromtimestamp(moments[i], tz=UTC).timestamp() * 1_000_000) for i in present],
        dtype=np.int64,
    )
    return ViewState(table=pa.table(columns), event_us=stamps, created_us=stamps.copy()), positions


def _moment(cell: Cell) -> float:
    """Seconds since the epoch of a ``_ts:`` field, as Feast computes them (0 when unset)."""
    if not cell:
        return 0.0
    stamp = Timestamp.FromString(cell)
    return float(stamp.seconds + stamp.nanos / 1_000_000_000.0)


def _is_set(cell: Cell) -> bool:
    return bool(cell) and ValueProto.FromString(cell).WhichOneof("val") is not None
