"""An ANN index kept current from the online store that serves the vectors.

A :class:`LiveIndex` is built from a :class:`VectorSource` (every key and its vector, as the
online store serves them now) on first use, or when serving asks at replica start, and refreshed
when the source's :meth:`VectorSource.version` changes:

- livecart's store (:mod:`livecart.features.reader`'s ``CacheReader``): the version is the view's
  committed state (its snapshot and delta names), so a commit that touches the view (a push, a
  ``write_to_online_store``, a materialization) is followed within one refresh;
- any other Feast store (SQLite, Redis, ...): Feast's API has no "list the rows" and no change
  feed, so the source reads the vectors of a given key set (serving's catalogue) through
  ``get_online_features`` and its version moves every ``refresh_s`` seconds (an interval
  rebuild: a pushed vector is searchable within ``refresh_s`` plus one refresh).

A refresh never blocks a search: searches keep using the current index while a background
thread reads the source and compares it with what the index holds (:meth:`AnnIndex.diff`). A few
changes are applied in place (briefly under the lock searches take); once they and the ids
earlier changes left dead pass :data:`livecart.features.ann.DEAD_SHARE` of the index, it is
rebuilt aside from the snapshot and swapped in. Only the
first build happens in the caller. A failed refresh keeps the index as it was and is retried on
the first search after the source moves again; its error is kept in :attr:`LiveIndex.error`.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from livecart.features.ann import DEAD_SHARE, AnnIndex, Hit, Key, build
from livecart.features.ann_params import HnswParams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """Every key of a vector view and its vector, as the store serves them at ``version``."""

    version: object
    keys: list[Key]
    vectors: np.ndarray


class VectorSource(ABC):
    """Where a :class:`LiveIndex` reads its vectors."""

    dim: int
    metric: str | None

    @abstractmethod
    def version(self) -> object:
        """Cheap; changes (compared with ``!=``) whenever the vectors may have changed."""

    @abstractmethod
    def snapshot(self) -> Snapshot:
        """The current keys and vectors, with the version they are current for."""


class LiveIndex:
    """An :class:`AnnIndex` over a :class:`VectorSource`, refreshed in the background."""

    def __init__(self, source: VectorSource, params: HnswParams | None = None) -> None:
        self.source, self.params = source, params
        self.error: Exception | None = None
        self._index: AnnIndex | None = None
        self._version: object = None
        self._failed: object = None  # the version whose refresh failed (not retried)
        self._lock = threading.Lock()  # the index: searches and in-place changes
        self._refreshing = threading.Lock()  # one refresh at a time
        self._thread: threading.Thread | None = None

    def search(self, query: Sequence[float] | np.ndarray, top_k: int) -> list[Hit]:
        """The ``top_k`` held keys nearest to ``query`` (builds the index on first use; starts
        a background refresh when the source has moved)."""
        if self.ensure():  # built before: has the source moved since?
            version = self.source.version()
            if version != self._version and version != self._failed:
                self._refresh_in_background()
        with self._lock:
            assert self._index is not None
            return self._index.search(query, top_k)

    def ensure(self) -> bool:
        """Build the index now if it is not yet; whether it was built before."""
        if self._index is not None:
            return True
        self._refresh(first=True)
        return False

    def refresh(self) -> int:
        """Bring the index up to the source's current vectors now; the number of keys changed
        (added, replaced or removed)."""
        return self._refresh(first=False)

    def _refresh(self, first: bool) -> int:
        with self._refreshing:
            if first and self._index is not None:
                return 0  # built meanwhile by a concurrent first search
            snapshot = self.source.snapshot()
            index = self._index
            if index is None or len(snapshot.keys) == 0:
                fresh = self._build(snapshot)
                changed = len(fresh) + (len(index) if index is not None else 0)
            else:
                changes = index.diff(snapshot.keys, snapshot.vectors)
                changed = len(changes)
                # Past the dead share, the index would rebuild itself in place, under the lock.
                if index.dead + changed > DEAD_SHARE * max(len(index), 1):
                    fresh = self._build(snapshot)  # aside: searches go on meanwhile
                else:
                    with self._lock:
                        index.apply(changes)
                    fresh = index
            with self._lock:
                self._index, self._version = fresh, snapshot.version
            self.error = None
            return changed

    def wait(self, timeout_s: float | None = None) -> None:
        """Wait for a background refresh in flight (tests and benchmarks)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    def __len__(self) -> int:
        return len(self._index) if self._index is not None else 0

    def _build(self, snapshot: Snapshot) -> AnnIndex:
        return build(
            snapshot.keys, snapshot.vectors, self.source.dim, self.source.metric, self.params
        )

    def _refresh_in_background(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=self._refresh_quietly, name="ann-index-refresh", daemon=True
            )
            self._thread.start()

    def _refresh_quietly(self) -> None:
        version = self.source.version()
        try:
            self.refresh()
        except Exception as exc:  # the index stays as it was; retried once the source moves
            self.error, self._failed = exc, version
            log.warning("vector index refresh failed: %s: %s", type(exc).__name__, exc)
