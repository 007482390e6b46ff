"""Event ids the offline store already holds, however old: duplicates for the API's gate.

Remembering every stored id as a Python string costs about 70 bytes each (the gate's
:class:`~validation.gate.SeenKeys`), so only ids admitted since start are kept that way. The
offline store's ids are kept as a sorted array of 64-bit DuckDB hashes (8 bytes an id, read and
hashed in one DuckDB scan of the ``event_id`` column at start; a torn part is skipped and named); a batch costs one small DuckDB
query for its ids not seen since start, and a binary search. Two distinct ids share a hash with
odds of about n / 2**64 (1e-12 for ten million stored ids); such an event is quarantined as a
duplicate with its payload, never dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
from pathlib import Path

import duckdb
import numpy as np
import numpy.typing as npt

from livecart.core import contract as c
from livecart.core.io import event_parts
from serving.offline_events import query_event_parts
from validation.gate import SeenKeys


class StoredEventIds(SeenKeys):
    """:class:`SeenKeys` of the API's events: ids admitted since start, plus the offline store's."""

    def __init__(self, clean_dir: Path) -> None:
        super().__init__()
        self.clean_dir = clean_dir
        self._con = duckdb.connect()
        self._lock = threading.Lock()  # one DuckDB connection, batches from any thread
        self._stored: npt.NDArray[np.uint64] = np.empty(0, dtype=np.uint64)
        self.reload()

    @property
    def stored(self) -> int:
        """How many stored ids the index holds."""
        return len(self._stored)

    def reload(self) -> None:
        """Index every event part now in the offline store (after an ingest, say)."""
        parts = [str(p) for p in event_parts(self.clean_dir)]
        found = query_event_parts(
            f"SELECT hash({c.EVENT_ID}) AS h FROM read_parquet(?, union_by_name = true) "
            f"WHERE {c.EVENT_ID} IS NOT NULL",
            parts,
        )  # a torn part is skipped and named, as at the live state's start
        if found is None:
            self._stored = np.empty(0, dtype=np.uint64)
            return
        hashes = found.column("h").to_numpy().astype(np.uint64, copy=False)
        self._stored = np.sort(hashes)

    def contains(self, keys: Sequence[Hashable]) -> npt.NDArray[np.bool_]:
        found = super().contains(keys)
        ask = [i for i, k in enumerate(keys) if not found[i] and isinstance(k, str)]
        stored = self._stored
        if ask and len(stored):
            with self._lock:
                hashes = self._con.execute(
                    "SELECT hash(k) AS h FROM unnest(?::VARCHAR[]) WITH ORDINALITY t(k, i) "
                    "ORDER BY i",
                    [[keys[i] for i in ask]],
                ).fetchnumpy()["h"]
            hashes = np.asarray(hashes, dtype=np.uint64)
            at = np.minimum(np.searchsorted(stored, hashes), len(stored) - 1)
            found[np.asarray(ask)] = stored[at] == hashes
        return found
