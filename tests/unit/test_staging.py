"""Staging directories: removed when the job ends, however it ends; a killed job's swept later."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from livecart.core.staging import STAGING, STALE_AFTER, staging_dir


def test_staging_dir__removed_on_success_and_on_error(tmp_path: Path) -> None:
    with staging_dir(tmp_path, "job") as path:
        (path / "part.parquet").write_bytes(b"x")
    assert not path.exists()
    with pytest.raises(RuntimeError), staging_dir(tmp_path, "job") as path:
        raise RuntimeError("the job failed")
    assert not path.exists()


def test_staging_dir__a_killed_jobs_leftover_swept_once_stale(tmp_path: Path) -> None:
    old, recent = tmp_path / STAGING / "embed-old", tmp_path / STAGING / "embed-running"
    for path in (old, recent):
        path.mkdir(parents=True)
        (path / "texts.parquet").write_bytes(b"x")
    past = time.time() - STALE_AFTER - 60
    for path in (old / "texts.parquet", old, recent):  # recent: only its file was written lately
        os.utime(path, (past, past))
    with staging_dir(tmp_path, "materialize"):
        assert not old.exists()
        assert recent.exists()  # a job still running may own it
