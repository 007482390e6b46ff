"""Rows of a feature service from Feast's Redis online store, as livecart's store hands them out.

On Redis, serving's feature read through ``get_online_features`` took 57 of a feed request's 70 ms
(the Redis round trips 7 ms): Feast builds a response protobuf value by value, then converts it
again. :func:`redis_view_rows` instead reads the rows the way Feast's Redis store does inside
``get_online_features`` (``RedisOnlineStore._read_features_per_fv``): Feast's own keys, hash
fields and connection settings, in one pipelined round trip, for the distinct keys of the request
only. On top of that: the views of one entity live in the same Feast hash, so they share one
HMGET per key; Feast's Redis key of each entity is serialized once per process
(:data:`redis_keys.KEPT_KEYS`); and values are decoded a column at a time
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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from feast import FeatureStore, FeatureView
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from google.protobuf.timestamp_pb2 import Timestamp

from livecart.features.redis_cells import Cell, decoder_of
from livecart.features.redis_fetch import hash_fields
from livecart.features.redis_keys import RequestKeys, keys_of, request_keys
from livecart.features.redis_memo import StateMemo
from livecart.features.redis_near import Entry, NearCache, answer
from livecart.online.lookup import ViewRows, entity_rows
from livecart.online.plan import ServicePlan, ViewRead
from livecart.online.state import ViewState

if TYPE_CHECKING:  # Feast's Redis module needs the redis extra
    from feast.infra.online_stores.redis import RedisOnlineStore

KEPT_LAYOUTS = 1_000
"""Views' :class:`_Layout` kept (a few per plan; more only if the registry is read again)."""
_LAYOUTS: dict[tuple[str, tuple[str, ...], int], _Layout] = {}


def redis_view_rows(
    store: FeatureStore,
    online: RedisOnlineStore,
    plan: ServicePlan,
    entities: Mapping[str, Sequence[Any]],
    scripted: bool = True,
    near: NearCache | None = None,
    memo: StateMemo | None = None,
) -> tuple[int, list[ViewRows]]:
    """(number of entity rows, :class:`ViewRows` per view of ``plan``) read from Redis, every
    view's keys in one round trip (``scripted``: see :func:`redis_fetch.hash_fields`); views that
    ``near`` keeps are answered from it while their entry is young (:mod:`redis_near`); answers
    ``memo`` decoded before are not decoded again (:mod:`redis_memo`)."""
    n = entity_rows(plan, entities)
    keyed: dict[tuple[str, ...], RequestKeys] = {}  # the views of one entity share its keys
    asks: list[_Ask] = []
    for read in plan.views:
        keys = keyed.get(read.join_keys)
        if keys is None:
            keys = keyed[read.join_keys] = request_keys(store, online, read.join_keys, entities)
        asks.append(_Ask(read, keys, _layout(store, online, read)))
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
                rest = keys_of(store, online, ask.read.join_keys, missing)
                partial[i] = (entry, _Ask(ask.read, rest, ask.layout))
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
            grown = near.extend(ask.read, entry, sub.keys.uniques, *_rows(sub, next(answers), memo))
            state, rows = answer(grown, ask.keys.uniques)
        else:
            state, rows = _rows(ask, next(answers), memo)
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
        (asks[members[0]].keys.redis_keys, [n for i in members for n in asks[i].layout.fields])
        for members in groups.values()
    ]
    cells: list[list[list[Cell]]] = [[] for _ in asks]
    for members, answered in zip(
        groups.values(), hash_fields(store, online, requests, scripted), strict=True
    ):
        offset = 0
        for i in members:
            width = len(asks[i].layout.fields)
            cells[i] = [row[offset : offset + width] for row in answered]
            offset += width
    return cells


@dataclass(frozen=True)
class _Layout:
    """One view's features and hash fields as Feast names them (the view's ``_ts:`` field
    last), and the decoder of each feature's cells (:func:`redis_cells.decoder_of`)."""

    view: FeatureView  # what the decoders were chosen for (kept: its id stays unique)
    features: list[str]
    fields: list[str | bytes]
    decoders: list[Callable[[Sequence[Cell]], pa.Array]]


@dataclass(frozen=True)
class _Ask:
    """One view's part of the read: its keys and its :class:`_Layout`."""

    read: ViewRead
    keys: RequestKeys
    layout: _Layout


def _rows(
    ask: _Ask, answered: list[list[Cell]], memo: StateMemo | None
) -> tuple[ViewState, np.ndarray]:
    """The state of what Redis answered for ``ask`` and each of its distinct keys' row (-1:
    none); decoded again only when ``memo`` has not seen that very answer."""
    keys, asked = ask.keys.uniques, ask.keys.asked
    found = None
    if memo is not None and memo.keeps(asked):
        kept = [keys[i] for i in asked]
        found = memo.get(ask.layout, kept, answered)
        if found is None:
            found = _state(ask, answered)
            memo.put(ask.layout, kept, answered, found)
    state, positions = found or _state(ask, answered)
    rows = np.full(len(keys), -1, dtype=np.int64)
    rows[asked] = positions
    return state, rows


def _layout(store: FeatureStore, online: RedisOnlineStore, read: ViewRead) -> _Layout:
    """Feast's names and hash fields of ``read``'s features and their decoders, made once per
    view object and feature list (Feast hashes every field name on every read otherwise, and
    choosing a decoder cost more than decoding a viewer's one-row column)."""
    from feast.infra.online_stores.redis import _versioned_fv_name

    return layout_of(online, read, _versioned_fv_name(read.view, store.config))


def layout_of(online: RedisOnlineStore, read: ViewRead, name: str) -> _Layout:
    """:func:`_layout` under Feast's (versioned) name of the view. Kept per view *object*: a
    registry read again may give a view of the same name other types."""
    key = (name, read.features, id(read.view))
    kept = _LAYOUTS.get(key)
    if kept is None:
        features, fields = online._generate_hset_keys_for_features(
            read.view, list(read.features), fv_name_override=name
        )
        by_name = {field.name: field for field in read.view.features}
        decoders = [decoder_of(by_name[feature]) for feature in features[:-1]]
        if len(_LAYOUTS) >= KEPT_LAYOUTS:
            _LAYOUTS.clear()
        kept = _LAYOUTS[key] = _Layout(read.view, features, fields, decoders)
    return kept


def _state(ask: _Ask, answered: list[list[Cell]]) -> tuple[ViewState, np.ndarray]:
    """The rows Redis held for the asked keys as a view state, and each key's row (-1: none).

    ``answered`` holds, per key, the feature cells and then the view's ``_ts:`` field, as Feast's
    ``_get_features_for_entity`` reads them; a key is held when its timestamp is past the epoch
    or any value is set (Feast answers a missing key with the epoch and unset values)."""
    uniques, asked = ask.keys.uniques, ask.keys.asked
    present: list[int] = []
    stamps: list[int] = []
    for i, row in enumerate(answered):
        moment = _moment(row[-1])
        if len(row) > 1 and (moment > 0 or any(_is_set(cell) for cell in row[:-1])):
            present.append(i)
            stamps.append(int(datetime.fromtimestamp(moment, tz=UTC).timestamp() * 1_000_000))
    positions = np.full(len(answered), -1, dtype=np.int64)
    positions[present] = np.arange(len(present), dtype=np.int64)
    keys = [uniques[asked[i]] for i in present]
    columns: dict[str, pa.Array] = {
        name: pa.array([key[j] for key in keys]) for j, name in enumerate(ask.read.join_keys)
    }
    rows = [answered[i] for i in present]
    layout = ask.layout
    for j, (name, decode) in enumerate(zip(layout.features, layout.decoders, strict=False)):
        columns[name] = decode([row[j] for row in rows])
    event_us = np.array(stamps, dtype=np.int64)
    state = ViewState(table=pa.table(columns), event_us=event_us, created_us=event_us.copy())
    return state, positions


def _moment(cell: Cell) -> float:
    """Seconds since the epoch of a ``_ts:`` field, as Feast computes them (0 when unset)."""
    if not cell:
        return 0.0
    stamp = Timestamp.FromString(cell)
    return float(stamp.seconds + stamp.nanos / 1_000_000_000.0)


def _is_set(cell: Cell) -> bool:
    return bool(cell) and ValueProto.FromString(cell).WhichOneof("val") is not None
