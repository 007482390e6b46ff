"""Each Ray Train worker's rows: equal shards, so DDP's collective steps line up.

DDP all-reduces the gradients once per optimiser step, so every worker must take the same number
of steps; a worker with one batch more waits forever for the others. Striding ``n`` rows over
``world`` workers gives shards that differ by one row whenever ``world`` does not divide ``n``,
which is one batch more on some workers whenever a shard crosses a batch boundary (e.g. 513 rows,
2 workers, batches of 256: 257 and 256 rows, 2 and 1 batches). As torch's ``DistributedSampler``
does, the shards are padded with rows from the start, so each holds ``ceil(n / world)`` rows and
no row is left out.
"""

from __future__ import annotations

import numpy as np


def equal_shard(n: int, rank: int, world: int) -> np.ndarray:
    """Row positions of worker ``rank`` of ``world``: every worker gets ``ceil(n / world)``."""
    if n == 0:
        return np.empty(0, dtype=np.int64)
    per_worker = -(-n // world)
    return np.arange(rank, per_worker * world, world, dtype=np.int64) % n
