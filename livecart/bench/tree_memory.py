"""Peak resident memory of this process and every process it started (Ray's among them).

``getrusage`` sees one process; an evaluation whose models run as Ray tasks lives in Ray's
worker processes (started by the local raylet, itself a child of this process). A thread sums the
resident set of the whole process tree a few times a second and keeps the peak. Shared pages (the
object store's) count once per process mapping them, so the figure errs high, never low.
"""

from __future__ import annotations

import threading
from types import TracebackType

import psutil


def tree_rss_bytes(root: psutil.Process | None = None) -> int:
    """Resident bytes of ``root`` (default: this process) and all its descendants now."""
    root = root or psutil.Process()
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.Error:  # exited between the listing and the reading
            continue
    return total


class TreeMemory:
    """``with TreeMemory() as memory: ...`` then ``memory.peak_bytes``."""

    def __init__(self, interval_s: float = 0.25) -> None:
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="tree-memory", daemon=True)

    def _sample(self) -> None:
        root = psutil.Process()
        while True:
            self.peak_bytes = max(self.peak_bytes, tree_rss_bytes(root))
            if self._stop.wait(self.interval_s):
                return

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, tree_rss_bytes())
