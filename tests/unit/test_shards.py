"""Equal shards for DDP: every worker the same number of rows (so of steps), no row left out."""

from __future__ import annotations

import numpy as np
import pytest

from ray_jobs.training.shards import equal_shard


@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("n", [0, 1, 5, 255, 256, 257, 513, 1000])
def test_equal_shard__same_length_everywhere__every_row_taken(n: int, world: int) -> None:
    shards = [equal_shard(n, rank, world) for rank in range(world)]
    assert len({len(s) for s in shards}) == 1
    taken = np.concatenate(shards) if shards else np.empty(0)
    assert set(taken.tolist()) == set(range(n))
    assert len(taken) - n < world  # padded by fewer rows than there are workers


def test_equal_shard__513_rows_2_workers__same_batch_count() -> None:
    """Striding gave 257 and 256 rows: 2 and 1 batches of 256, and DDP waited forever."""
    batches = [-(-len(equal_shard(513, rank, 2)) // 256) for rank in range(2)]
    assert batches == [2, 2]
