"""The store's garbage collection beside a running compaction (livecart/online/files.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from livecart.online.files import collect_garbage, collect_garbage_now_and_then


def test_collect_garbage__a_file_renamed_while_listing__skipped_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A compaction renames its temporary snapshot into place between the listing and the stat
    # (a push's commit failed on this: "No such file or directory: '.<view>.c....duckdb....tmp'").
    renamed = tmp_path / ".view.c1.duckdb.abc.tmp"
    stale = tmp_path / "view.0000000001.arrow"
    kept = tmp_path / "view.0000000002.arrow"
    for path in (renamed, stale, kept):
        path.write_bytes(b"x")
        os.utime(path, (1.0, 1.0))  # older than any grace period
    real_stat = Path.stat

    def stat(path: Path, **kwargs: object) -> os.stat_result:
        if path == renamed and os.path.exists(path):
            path.rename(tmp_path / "view.c1.duckdb")  # what os.replace in write_snapshot does
        return real_stat(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "stat", stat)
    assert collect_garbage(tmp_path, keep={kept.name, "view.c1.duckdb"}, grace=10.0) == 1
    assert not stale.exists() and kept.exists() and (tmp_path / "view.c1.duckdb").exists()


def test_collect_garbage_now_and_then__once_a_second_per_directory(tmp_path: Path) -> None:
    stale = tmp_path / "view.0000000001.arrow"
    stale.write_bytes(b"x")
    os.utime(stale, (1.0, 1.0))
    assert collect_garbage_now_and_then(tmp_path, keep=set()) == 1
    again = tmp_path / "view.0000000002.arrow"
    again.write_bytes(b"x")
    os.utime(again, (1.0, 1.0))
    assert collect_garbage_now_and_then(tmp_path, keep=set()) == 0  # within the second
    assert again.exists()
    assert collect_garbage(tmp_path, keep=set()) == 1  # the plain call always collects
