"""A near cache for serving's reads from Redis: the rows of views not keyed by the viewer, kept
for a fraction of a second.

livecart's own store is read from memory: each replica holds the store's rows and follows its
commits every few milliseconds. On Redis every request read every view of its ~500 candidates,
and decoding those rows was most of a replica's CPU (README, "Serving on Redis"). Candidates
come from the live rooms, the same few hundred products, rooms and streamers for every viewer, so
their rows are kept here for ``ttl_s`` (``LIVECART_REDIS_NEAR_CACHE_S``) and read again after:
what an event changes for a product, room or streamer (live counters pushed by event ingest) is
visible within ``ttl_s``. Views keyed by the viewer (behaviour, affinities, recent visits) are
never kept: a viewer's own actions show in the next request, as on livecart's store.

An entry serves a read when it is younger than ``ttl_s`` and holds every key the read asks for
(a read with a key it lacks goes to Redis, and its answer replaces the entry). ``ttl_s`` 0 turns
the cache off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from livecart.core import contract as c
from livecart.online.plan import ViewRead
from livecart.online.state import ViewState


@dataclass(frozen=True)
class _Entry:
    expires: float
    state: ViewState
    rows: dict[tuple[Any, ...], int]  # key -> its row in ``state`` (-1: Redis holds none)


class NearCache:
    """Rows of views not keyed by the viewer, per view and feature list, for ``ttl_s``."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[tuple[str, tuple[str, ...]], _Entry] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def keeps(self, read: ViewRead) -> bool:
        """Whether reads of ``read``'s view are kept (never for a view keyed by the viewer)."""
        return self.ttl_s > 0 and c.VIEWER_ID not in read.join_keys

    def get(
        self, read: ViewRead, keys: Sequence[tuple[Any, ...]]
    ) -> tuple[ViewState, np.ndarray] | None:
        """The kept state and each of ``keys``' rows in it, or None (expired, or a key missing)."""
        entry = self._entries.get(_name(read))
        if entry is None or entry.expires <= self._clock():
            self.misses += 1
            return None
        rows = entry.rows
        try:
            found = np.fromiter((rows[key] for key in keys), dtype=np.int64, count=len(keys))
        except KeyError:
            self.misses += 1
            return None
        self.hits += 1
        return entry.state, found

    def put(
        self,
        read: ViewRead,
        keys: Sequence[tuple[Any, ...]],
        state: ViewState,
        rows: np.ndarray,
        read_at: float,
    ) -> None:
        """Keep what Redis answered for ``keys`` (read at ``read_at`` on this cache's clock)."""
        entry = _Entry(read_at + self.ttl_s, state, dict(zip(keys, rows.tolist(), strict=True)))
        with self._lock:
            self._entries[_name(read)] = entry

    def now(self) -> float:
        return self._clock()


def _name(read: ViewRead) -> tuple[str, tuple[str, ...]]:
    return read.view.name, tuple(read.features)
