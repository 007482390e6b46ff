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

An entry serves a read while it is younger than ``ttl_s``. Keys it lacks (a viewer's own
candidates beside the live rooms') are read from Redis and join the entry until it expires (no
row outlives the TTL of its own read); an expired entry is read again whole. ``ttl_s`` 0 turns the cache off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import filterfalse
from typing import Any

import numpy as np
import pyarrow as pa

from livecart.core import contract as c
from livecart.online.plan import ViewRead
from livecart.online.state import ViewState


@dataclass(frozen=True)
class Entry:
    expires: float
    state: ViewState
    rows: dict[tuple[Any, ...], int]  # key -> its row in ``state`` (-1: Redis holds none)


class NearCache:
    """Rows of views not keyed by the viewer, per view and feature list, for ``ttl_s``."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[tuple[str, tuple[str, ...]], Entry] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.partial = 0
        """Reads answered from an entry plus Redis for the keys it lacked."""

    def keeps(self, read: ViewRead) -> bool:
        """Whether reads of ``read``'s view are kept (never for a view keyed by the viewer)."""
        return self.ttl_s > 0 and c.VIEWER_ID not in read.join_keys

    def find(
        self, read: ViewRead, keys: Sequence[tuple[Any, ...]]
    ) -> tuple[Entry | None, list[tuple[Any, ...]]]:
        """``read``'s view's entry while it is younger than the TTL (None: read it whole), and
        those of ``keys`` it lacks; counts a hit when it lacks none, a miss when there is none."""
        entry = self._entries.get(_name(read))
        if entry is None or entry.expires <= self._clock():
            self.misses += 1
            return None, list(keys)
        missing = lacking(entry, keys)
        if not missing:
            self.hits += 1
        return entry, missing

    def get(
        self, read: ViewRead, keys: Sequence[tuple[Any, ...]]
    ) -> tuple[ViewState, np.ndarray] | None:
        """The kept state and each of ``keys``' rows in it, or None (expired, or a key missing)."""
        entry, missing = self.find(read, keys)
        if entry is None:
            return None
        if missing:
            self.misses += 1
            return None
        return answer(entry, keys)

    def put(
        self,
        read: ViewRead,
        keys: Sequence[tuple[Any, ...]],
        state: ViewState,
        rows: np.ndarray,
        read_at: float,
    ) -> None:
        """Keep what Redis answered for ``keys`` (read at ``read_at`` on this cache's clock)."""
        entry = Entry(read_at + self.ttl_s, state, dict(zip(keys, rows.tolist(), strict=True)))
        with self._lock:
            self._entries[_name(read)] = entry

    def extend(
        self,
        read: ViewRead,
        entry: Entry,
        keys: Sequence[tuple[Any, ...]],
        state: ViewState,
        rows: np.ndarray,
    ) -> Entry:
        """``entry`` with what Redis answered for the ``keys`` it lacked, kept until ``entry``
        expires (the rows added were read later: none outlives the TTL of its own read)."""
        offset = entry.state.table.num_rows if entry.state.table is not None else 0
        tables = [t for t in (entry.state.table, state.table) if t is not None]
        merged = ViewState(
            table=pa.concat_tables(tables, promote_options="default"),
            event_us=np.concatenate([entry.state.event_us, state.event_us]),
            created_us=np.concatenate([entry.state.created_us, state.created_us]),
        )
        positions = dict(entry.rows)
        positions.update(
            (key, row + offset if row >= 0 else -1)
            for key, row in zip(keys, rows.tolist(), strict=True)
        )
        grown = Entry(entry.expires, merged, positions)
        with self._lock:
            self._entries[_name(read)] = grown
        self.partial += 1
        return grown

    def now(self) -> float:
        return self._clock()


def lacking(entry: Entry, keys: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Those of ``keys`` the entry holds nothing about (not even "Redis has no row")."""
    return list(filterfalse(entry.rows.__contains__, keys))


def answer(entry: Entry, keys: Sequence[tuple[Any, ...]]) -> tuple[ViewState, np.ndarray]:
    """The entry's state and each of ``keys``' row in it (every key held)."""
    rows = map(entry.rows.__getitem__, keys)
    return entry.state, np.fromiter(rows, dtype=np.int64, count=len(keys))


def _name(read: ViewRead) -> tuple[str, tuple[str, ...]]:
    return read.view.name, tuple(read.features)
