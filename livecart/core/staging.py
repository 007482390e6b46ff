"""Scratch directories under the home for a job's intermediate files.

Jobs that move large data between Ray workers and the driver (``embed``, ``materialize``) hand it
over as files instead of through the driver's memory. Those files live under
``<home>/.staging/<job>-<random>/`` (on the home's file system, which every Ray node already reads
the feature tables from) and are removed when the job ends, whether it succeeded or not. A job
killed outright (``kill -9``) leaves its directory behind: the next job of any kind removes
directories older than :data:`STALE_AFTER`, which no running job can still be using.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

STAGING = ".staging"
STALE_AFTER = 24 * 3600.0
"""Seconds after which a leftover staging directory is taken to belong to a killed job."""


def sweep_stale(root: Path, older_than: float = STALE_AFTER) -> int:
    """Remove staging directories under ``root`` in which nothing changed for ``older_than``
    seconds (neither the directory nor anything directly in it)."""
    removed = 0
    if not root.is_dir():
        return 0
    now = time.time()
    for path in root.iterdir():
        try:  # a running job adds files to it or to a folder in it (Ray Data's output)
            touched = max(p.stat().st_mtime for p in [path, *path.iterdir()])
        except (FileNotFoundError, NotADirectoryError):  # gone meanwhile, or not a job's
            continue
        if now - touched > older_than:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


@contextlib.contextmanager
def staging_dir(home: Path, job: str) -> Iterator[Path]:
    """A fresh, empty directory for ``job``'s intermediate files, removed on the way out."""
    root = home / STAGING
    sweep_stale(root)
    path = root / f"{job}-{uuid.uuid4().hex[:12]}"
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
