"""The near cache of Redis reads: kept for its TTL, never for views keyed by the viewer, and a
read asking for a key the entry lacks goes to Redis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from livecart.core import contract as c
from livecart.features.redis_near import NearCache
from livecart.online.state import ViewState


@dataclass(frozen=True)
class _View:
    name: str


@dataclass(frozen=True)
class _Read:
    view: _View
    features: tuple[str, ...]
    join_keys: tuple[str, ...]


PRODUCTS = _Read(_View("product_live_stats"), ("clicks",), (c.PRODUCT_ID,))
VIEWERS = _Read(_View("viewer_behavior"), ("clicks",), (c.VIEWER_ID,))
PAIRS = _Read(_View("affinity"), ("watch",), (c.VIEWER_ID, c.STREAMER_ID))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _state() -> ViewState:
    return ViewState(table=pa.table({c.PRODUCT_ID: ["p1"], "clicks": [3]}))


def test_near_cache__kept_until_its_ttl__then_read_again() -> None:
    clock = Clock()
    near = NearCache(0.5, clock=clock)
    keys = [("p1",), ("p2",)]
    assert near.get(PRODUCTS, keys) is None  # nothing kept yet
    state = _state()
    near.put(PRODUCTS, keys, state, np.array([0, -1]), read_at=clock())
    clock.now += 0.4
    found = near.get(PRODUCTS, [("p2",), ("p1",), ("p1",)])  # any order, repeats
    assert found is not None and found[0] is state and found[1].tolist() == [-1, 0, 0]
    clock.now += 0.2  # 0.6 s after the read
    assert near.get(PRODUCTS, keys) is None
    assert (near.hits, near.misses) == (1, 2)


def test_near_cache__a_key_it_lacks__goes_to_redis() -> None:
    near = NearCache(10.0, clock=Clock())
    near.put(PRODUCTS, [("p1",)], _state(), np.array([0]), read_at=100.0)
    assert near.get(PRODUCTS, [("p1",), ("p9",)]) is None


def test_near_cache__views_keyed_by_the_viewer__never_kept() -> None:
    near = NearCache(10.0)
    assert near.keeps(PRODUCTS)
    assert not near.keeps(VIEWERS) and not near.keeps(PAIRS)
    assert not NearCache(0.0).keeps(PRODUCTS)  # 0 turns it off
