"""Background merges in a helper process at the lowest priority (see :mod:`compaction`).

A merge in the writing process, even on a thread at nice 19, shares that process's interpreter lock
with the writer's own Python: reading the parts, handing them to DuckDB and back are Python calls,
and no thread priority orders who holds the lock. On the event ingest replica that put every
compaction on the push path. Measured (demo world, 300 freshness probes in a row, one event each,
2 cores): with ``compact_after_deltas`` 32 every 33rd probe, the one beside a compaction, was among
the slowest 5 % (its recompute 30-45 ms against a median of 20), so a p99 over 100 probes was
always such a probe. In a process of its own at nice 19 the merge takes the lock of nobody and a
core only when the writer's processes leave it free.

One worker per process (:func:`shared`), started on the first merge: a new interpreter (``python
-m livecart.online.compact_server FD``, never a fork of a process running Ray or threads) on one
end of a pipe, which exits when the pipe closes. The worker only writes the merged snapshot; the
writer's compactor thread commits it (a short step under the writer lock, which a process at the
lowest priority must never hold: anyone waiting for the lock would wait for an idle core). Until
the worker is ready, or if it cannot start, or dies, :meth:`CompactWorker.merge` raises
:class:`WorkerUnavailable` and the compactor merges in the writing process: a worker can keep
merges off the writer, never lose one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
from multiprocessing import Pipe
from pathlib import Path
from typing import Any, Final

from livecart.core.errors import LivecartError
from livecart.online.compaction import Layout, Merged

log = logging.getLogger(__name__)
READY: Final = "ready"
STARTUP_S = 60.0
ANSWER_S = 600.0
SERVER = "livecart.online.compact_server"


class CompactionFailed(LivecartError):
    """The worker's merge raised (its type and message, as the worker reported them)."""


class WorkerUnavailable(Exception):
    """The worker is not there to merge: not started in time, dead, or silent."""


class CompactWorker:
    """One helper process; :meth:`merge` a view there, one merge at a time."""

    def __init__(self, module: str = SERVER) -> None:
        self._conn, child = Pipe()
        fd = child.fileno()
        # The worker imports the code this process runs (a Ray worker's runtime_env included).
        paths = os.pathsep.join(p for p in sys.path if p)
        self._process = subprocess.Popen(
            [sys.executable, "-m", module, str(fd)],
            pass_fds=(fd,),
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": paths},
        )
        child.close()
        self._lock = threading.Lock()
        self._ready = False
        self.pid: int | None = None
        self.policy: str | None = None
        self.merged = 0
        """Snapshots this worker merged."""

    def alive(self) -> bool:
        return self._process.poll() is None

    def merge(self, directory: Path, view: str, layout: Layout) -> Merged | None:
        """The worker's merge of ``view`` (:func:`compaction.merge_view`: a snapshot written,
        not committed; None: nothing to merge). Raises :class:`WorkerUnavailable` when the
        worker is not there (not started within :data:`STARTUP_S`, dead, or silent for
        :data:`ANSWER_S`) and :class:`CompactionFailed` when its merge raised."""
        with self._lock:
            if not self._wait_ready():
                raise WorkerUnavailable("the compaction worker is not running")
            try:
                self._conn.send((str(directory), view, layout))
                if not self._conn.poll(ANSWER_S):
                    raise TimeoutError(f"no answer within {ANSWER_S:.0f} s")
                kind, value = self._conn.recv()
            except (EOFError, OSError, ValueError, TimeoutError) as exc:
                log.warning("compaction worker lost: %s", exc)
                self.close()
                raise WorkerUnavailable(str(exc)) from exc
        if kind == "error":
            raise CompactionFailed(f"compaction of {view} in {directory} failed: {value}")
        self.merged += value is not None
        merged: Merged | None = value
        return merged

    def _wait_ready(self) -> bool:
        if self._ready:
            return self.alive()
        try:
            if self.alive() and self._conn.poll(STARTUP_S):
                message: Any = self._conn.recv()
                if isinstance(message, tuple) and message[0] == READY:
                    self._ready, self.pid, self.policy = True, message[1], message[2]
                    return self.alive()
        except (EOFError, OSError):
            pass
        log.warning("compaction worker not running; merging in the writing process")
        self.close()
        return False

    def kill(self) -> None:
        """End the worker at once, as a crash would."""
        self._process.kill()
        self._process.wait()

    def close(self) -> None:
        self._ready = False
        with contextlib.suppress(OSError):
            self._conn.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


_WORKER: CompactWorker | None = None
_FAILED_STARTS = 0
MAX_FAILED_STARTS = 3
_LOCK = threading.Lock()


def shared() -> CompactWorker | None:
    """This process's worker, started (or restarted after it died) on demand; None once
    :data:`MAX_FAILED_STARTS` workers died before they were ready (the compactor then merges
    itself)."""
    global _WORKER, _FAILED_STARTS
    with _LOCK:
        if _WORKER is not None and _WORKER.alive():
            return _WORKER
        if _WORKER is not None and _WORKER.pid is None:  # never became ready
            _FAILED_STARTS += 1
        if _FAILED_STARTS >= MAX_FAILED_STARTS:
            return None
        _WORKER = CompactWorker()
        return _WORKER
