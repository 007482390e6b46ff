"""The staged examples as Ray Data streams: the same rows in the same order, held or streamed.

Staged examples under ``IN_MEMORY_BYTES`` are read once into the object store; larger ones are
read from their files every epoch. Training must not depend on which: both give every training
row once, in one fixed order (so a run repeats).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from livecart.core import contract as c
from livecart.core import feature_names as f
from ray_jobs.training import staged as staged_module
from ray_jobs.training.example_format import CLICK, PURCHASE, example_rows
from ray_jobs.training.staged import StagedExamples

pytestmark = pytest.mark.integration


def _staged(directory: Path, rows: int = 1_200, files: int = 4) -> StagedExamples:
    rng = np.random.default_rng(0)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    frame = pd.DataFrame(
        {
            c.EVENT_ID: [f"e{k:05d}" for k in range(rows)],
            c.VIEWER_ID: [f"v{k % 37}" for k in range(rows)],
            c.PRODUCT_ID: [f"p{k % 53}" for k in range(rows)],
            c.STREAMER_ID: [f"s{k % 5}" for k in range(rows)],
            c.EVENT_TIMESTAMP: [start + timedelta(minutes=k) for k in range(rows)],
            CLICK: rng.integers(0, 2, rows),
            PURCHASE: rng.integers(0, 2, rows),
            f.PRODUCT_PRICE: rng.uniform(1, 90, rows),
        }
    )
    paths = []
    for k, part in enumerate(np.array_split(np.arange(rows), files)):
        table, _ = example_rows(frame.iloc[part].reset_index(drop=True), 0)
        paths.append(str(directory / f"bucket-{k:03d}.parquet"))
        pq.write_table(table, paths[-1], row_group_size=100)  # several blocks per file
    return StagedExamples(
        directory, paths[:-1], paths[-1:], rows - len(part), len(part),
        (start, start), 0, False, False, False, np.zeros(1), np.ones(1),
    )  # fmt: skip


def _order(staged: StagedExamples) -> list[str]:
    rows = staged.datasets()["train"].iter_rows()
    return [str(row[c.EVENT_ID]) for row in rows]


def test_staged_datasets__held_or_streamed__every_row_once_in_one_order(
    local_ray: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = _staged(tmp_path)
    held = _order(staged)
    monkeypatch.setattr(staged_module, "IN_MEMORY_BYTES", 0)
    streamed = _order(staged)
    assert streamed == held
    assert sorted(streamed) == [f"e{k:05d}" for k in range(staged.train_rows)]
