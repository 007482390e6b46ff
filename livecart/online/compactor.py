"""The background compactor: one thread per store directory and writing process.

A write that takes a view past ``compact_after_deltas`` requests a merge here and returns. This
thread has the process's compaction worker (:mod:`livecart.online.compact_worker`: another
interpreter at the lowest priority, sharing neither the writer's interpreter lock nor a busy core)
write the merged snapshot, then commits it itself (:func:`compaction.commit_merge`: a short step
under the writer lock, at this thread's normal priority). Where no worker is available it merges
in this process, on a helper thread at nice 19 (per thread on Linux).

Measured before the worker, on the ingest replica's path (in-process, one event per batch, 2 cores,
another job running): with merges at default priority a batch took p90 174-316 ms against 101-112
ms with compaction off; a merge thread at nice 19 on one DuckDB thread took it from 466 / 249 to
285 / 149 ms (two interleaved pairs of 150 batches). What the worker then removed is in
:mod:`livecart.online.compact_worker`.

A process that exits waits for its compaction to finish (the thread is not a daemon).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from livecart.online import compact_worker
from livecart.online.compact_server import NICENESS
from livecart.online.compaction import Layout, Merged, commit_merge, merge_view

log = logging.getLogger(__name__)


def _nice_thread() -> None:
    if sys.platform == "linux":  # per-thread nice (elsewhere the id could name a process)
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)


class Compactor:
    """One background thread per store directory and process, compacting requested views."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.error: Exception | None = None
        self._pending: dict[str, Layout] = {}
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._here: ThreadPoolExecutor | None = None

    def request(self, view: str, layout: Layout) -> None:
        with self._lock:
            self._pending[view] = layout
            self._idle.clear()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="online-store-compactor", daemon=False
                )
                self._thread.start()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until no compaction is pending or running; False on timeout."""
        return self._idle.wait(timeout_s)

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._thread = None
                    self._idle.set()
                    return
                view, layout = self._pending.popitem()
            try:
                merged = self._merge(view, layout)
                if merged is not None:
                    commit_merge(self.directory, merged)
                self.error = None
            except Exception as error:  # the next request (or a synchronous compaction) retries
                self.error = error
                log.warning("compaction of %s in %s failed: %s", view, self.directory, error)

    def _merge(self, view: str, layout: Layout) -> Merged | None:
        worker = compact_worker.shared()
        if worker is not None:
            with contextlib.suppress(compact_worker.WorkerUnavailable):
                return worker.merge(self.directory, view, layout)
        if self._here is None:
            self._here = ThreadPoolExecutor(
                1, thread_name_prefix="online-store-merge", initializer=_nice_thread
            )
        return self._here.submit(merge_view, self.directory, view, layout).result()


_COMPACTORS: dict[Path, Compactor] = {}
_REGISTRY_LOCK = threading.Lock()


def compactor(directory: Path) -> Compactor:
    """This process's compactor of ``directory``."""
    with _REGISTRY_LOCK:
        found = _COMPACTORS.get(directory)
        if found is None:
            found = _COMPACTORS[directory] = Compactor(directory)
        return found
