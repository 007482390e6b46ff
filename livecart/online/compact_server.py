"""The compaction worker's process: ``python -m livecart.online.compact_server FD``.

It lowers its own priority to the lowest before it imports anything heavy (its start-up, some
0.5 s of CPU, then waits for idle cores too), says ``(READY, pid, policy)``, then answers each
``(directory, view, layout)`` with ``("ok", merged)`` (:func:`compaction.merge_view`: a snapshot
written, never committed here) or ``("error", "Type: message")`` (see
:mod:`livecart.online.compact_worker`) until the pipe closes.
"""

from __future__ import annotations

import contextlib
import os
import sys
from multiprocessing.connection import Connection

NICENESS = 19


def lowest_priority() -> str:
    """Put this process at the lowest priority; which one.

    On Linux ``SCHED_IDLE``: it runs only on a core nothing else wants. A nice value is not low
    enough there: Ray starts its workers at nice 15 (``worker_niceness``), so a merge at nice 19
    beside a Serve replica still took 15/51 of a shared core (CFS weights 15 and 36). Never for a
    thread of a process with other work: holding the interpreter lock, it would make them wait
    for an idle core. Elsewhere nice 19."""
    if sys.platform == "linux":  # before any other thread starts: threads inherit it
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return "idle"
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, NICENESS)
        return f"nice {NICENESS}"
    return "unchanged"


def _serve(conn: Connection, policy: str) -> None:
    from pathlib import Path

    from livecart.online.compact_worker import READY
    from livecart.online.compaction import merge_view

    conn.send((READY, os.getpid(), policy))
    while True:
        try:
            directory, view, layout = conn.recv()
        except (EOFError, OSError):  # the writer closed the pipe, exited or was killed
            return
        try:
            answer: tuple[str, object] = ("ok", merge_view(Path(directory), view, layout))
        except Exception as exc:  # the writer logs it; its next request retries
            answer = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(answer)
        except OSError:  # the writer is gone; its next writer collects the unreferenced file
            return


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])), lowest_priority())
