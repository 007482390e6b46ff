"""Peak memory of this process and every process it started (Ray's among them).

``getrusage`` sees one process; an evaluation whose models run as Ray tasks lives in Ray's
worker processes (started by the local raylet, itself a child of this process). A thread reads
the whole process tree a few times a second and keeps two peaks: the summed proportional set
size (PSS: a page shared by n processes counts 1/n in each, so the sum is the memory the tree
really holds; Linux) and the summed resident set size (RSS: shared pages, such as every worker's
copy-on-write libraries and the object store, count once per process, so it errs high).
"""

from __future__ import annotations

import threading
from types import TracebackType

import psutil


def tree_memory_bytes(root: psutil.Process | None = None) -> tuple[int, int]:
    """(summed PSS, summed RSS) of ``root`` (default: this process) and all its descendants.

    Where PSS cannot be read (not Linux), RSS stands in for it."""
    root = root or psutil.Process()
    pss = rss = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            info = process.memory_full_info()
        except psutil.Error:  # exited between the listing and the reading
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return pss, rss


class TreeMemory:
    """``with TreeMemory() as memory: ...`` then ``memory.peak_bytes`` (PSS) and
    ``memory.peak_rss_bytes``."""

    def __init__(self, interval_s: float = 0.5) -> None:
        self.interval_s = interval_s
        self.peak_bytes = 0
        self.peak_rss_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="tree-memory", daemon=True)

    def _read(self, root: psutil.Process) -> None:
        pss, rss = tree_memory_bytes(root)
        self.peak_bytes = max(self.peak_bytes, pss)
        self.peak_rss_bytes = max(self.peak_rss_bytes, rss)

    def _sample(self) -> None:
        root = psutil.Process()
        while True:
            self._read(root)
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
        self._read(psutil.Process())
