"""Decoded view states kept by what Redis answered: the same cells are decoded only once.

A feed request on Redis reads the viewer's own rows of eight views (the viewer's context, the
ranker's features, the visit signals; two views twice), and a returning viewer's rows rarely
change between requests. Decoding them into row states (an Arrow table per view, a fixed cost
per read) was the largest part of a replica's feature read (README, "Serving on Redis").
:class:`StateMemo` keeps the state decoded for a small read (at most ``max_keys`` keys) with the
very cells Redis answered; a later read of the same view layout and keys whose answer is equal,
cell for cell, gets that state back instead of decoding it again. Redis is still read every
time: a changed value is a changed answer, decoded anew, so nothing is served older than a read
without the memo would serve. Unlike :mod:`livecart.features.redis_near`, it keeps no rows
for a time; it only spares decoding identical bytes twice.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from livecart.features.redis_cells import Cell
from livecart.online.state import ViewState

KEPT_STATES = 4_096
"""States kept (least recently used out first): a few per viewer of the last few thousand."""
MEMO_KEYS = 64
"""Largest read kept (keys): a viewer's rows and their ~50 streamer affinities, not a request's
500 candidate products (those are :mod:`livecart.features.redis_near`'s)."""

Decoded = tuple[ViewState, np.ndarray]
"""A read's state and each asked key's row in it (-1: Redis held none)."""


@dataclass(frozen=True)
class _Entry:
    layout: object  # the view layout decoded with (kept: its id stays unique while kept)
    answered: list[list[Cell]]
    decoded: Decoded


class StateMemo:
    """States decoded from Redis answers, per view layout and keys, while the answer is equal."""

    def __init__(self, kept: int = KEPT_STATES, max_keys: int = MEMO_KEYS) -> None:
        self.kept = kept
        self.max_keys = max_keys
        self._entries: OrderedDict[tuple[int, tuple[Any, ...]], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def keeps(self, keys: Sequence[object]) -> bool:
        """Whether a read of ``keys`` (or of their positions) is kept."""
        return 0 < len(keys) <= self.max_keys and self.kept > 0

    def get(
        self, layout: object, keys: Sequence[tuple[Any, ...]], answered: list[list[Cell]]
    ) -> Decoded | None:
        """The state decoded before for ``layout`` and ``keys`` when Redis answered the same
        cells then; None otherwise (never read, evicted, or any cell differs)."""
        name = (id(layout), tuple(keys))
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None and entry.layout is layout and entry.answered == answered:
                self._entries.move_to_end(name)
                self.hits += 1
                return entry.decoded
            self.misses += 1
            return None

    def put(
        self,
        layout: object,
        keys: Sequence[tuple[Any, ...]],
        answered: list[list[Cell]],
        decoded: Decoded,
    ) -> None:
        """Keep ``decoded``, what ``answered`` decoded into for ``layout`` and ``keys``."""
        name = (id(layout), tuple(keys))
        with self._lock:
            self._entries[name] = _Entry(layout, answered, decoded)
            self._entries.move_to_end(name)
            while len(self._entries) > self.kept:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
