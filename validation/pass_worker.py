"""A helper process that runs a share of a row suite's first pass (see :class:`GxEngine`).

Validating a small batch costs GX about 4 ms per expectation, almost all of it Python building
the metric graph, so a batch's first pass (:data:`validation.engine.PASS_RESULT_FORMAT`) costs the
same for one event as for a hundred. Serving's event gate waits for it on every
``POST /v1/events``. Split across processes, the suite's expectations run side by side: the
replica validates its share while each worker validates another share of the same suite, on the
same frame and parameters. The verdict is the same (a batch passes when every share does: a test
checks it against the whole suite), only sooner when a core is free.

A worker is a new interpreter (``python -m validation.pass_server FD``: never a fork of a process
running Ray or threads, and never a re-import of the parent's main module, as multiprocessing's
spawn would do inside a Ray worker) with its own GX context, on one end of a socket pair; it
answers ``(table, parents, share, shares, frame, parameters) -> bool`` and exits when the replica
closes the pair or dies. Until it
has started, or if it died, :meth:`PassWorker.verdict` answers None and the engine validates the
share itself: a worker can make a pass sooner, never wrong or lost.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
from collections.abc import Collection, Mapping
from multiprocessing import Pipe
from typing import Any, Final

import pandas as pd

from livecart.core.contract import Table

log = logging.getLogger(__name__)
READY: Final = "ready"
"""What a worker sends once its GX context is built."""
STARTUP_S = 60.0


class PassWorker:
    """One spawned worker process; send a share with :meth:`submit`, then :meth:`verdict`."""

    def __init__(self) -> None:
        self._conn, child = Pipe()
        fd = child.fileno()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "validation.pass_server", str(fd)],
            pass_fds=(fd,),
            stdin=subprocess.DEVNULL,
        )
        child.close()
        self._ready = False
        self._pending = False
        self.answered = 0
        """Shares this worker validated (its verdict used)."""

    def ready(self) -> bool:
        """Whether the worker has started and can take a share (never blocks)."""
        if not self._ready and self._alive():
            try:
                if self._conn.poll() and self._conn.recv() == READY:
                    self._ready = True
            except (EOFError, OSError):
                return False
        return self._ready and self._alive() and not self._pending

    def _alive(self) -> bool:
        return self._process.poll() is None

    def submit(
        self,
        table: Table,
        parents: Collection[Table],
        share: tuple[int, int],
        frame: pd.DataFrame,
        parameters: Mapping[str, object],
    ) -> bool:
        """Hand the worker ``share`` (index, count) of the row suite; False if it cannot take it."""
        if not self.ready():
            return False
        try:
            self._conn.send((table, tuple(parents), *share, frame, dict(parameters)))
        except (OSError, ValueError) as exc:
            log.warning("GX pass worker unavailable: %s", exc)
            self._ready = False
            return False
        self._pending = True
        return True

    def verdict(self, timeout_s: float = 30.0) -> bool | None:
        """The submitted share's verdict; None when the worker failed or did not answer."""
        if not self._pending:
            return None
        self._pending = False
        try:
            if not self._conn.poll(timeout_s):
                raise TimeoutError(f"no verdict within {timeout_s} s")
            answer: Any = self._conn.recv()
        except (EOFError, OSError, TimeoutError) as exc:
            log.warning("GX pass worker lost: %s", exc)
            self.close()
            return None
        if isinstance(answer, Exception):
            log.warning("GX pass worker failed: %s", answer)
            return None
        self.answered += 1
        return bool(answer)

    def kill(self) -> None:
        """End the worker at once, as a crash would (its pending share is then validated by the
        engine itself)."""
        self._process.kill()
        self._process.wait()

    def close(self) -> None:
        self._ready = False
        with contextlib.suppress(OSError, ValueError):
            self._conn.send(None)
        try:
            self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._conn.close()

