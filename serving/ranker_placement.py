"""Where a replica's forward pass runs: in the replica (the default) or in the Ranker deployment.

By default ranking runs inside each ``Recommender`` replica. Building the app with
``split_ranker=True`` sends each batch's inputs through a handle to :class:`Ranker` instead, which
batches across all front replicas. ``livecart bench serve --layouts`` measures both; the split
pays a serialization and a hop per request, and is worth it only where the ranker needs other
resources than retrieval (a GPU ranker scaled apart from CPU fronts).
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import torch
from ray import serve
from ray.serve.handle import DeploymentHandle

from livecart.core.settings import LivecartSettings
from livecart.model.input_arrays import RankerInputs, concat_inputs
from livecart.model.scoring import LoadedRanker
from serving.rank import ModelHolder, score_inputs


@serve.deployment(max_ongoing_requests=64)
class Ranker:
    """The ranking stage as its own deployment (the split layout)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        torch.set_num_threads(1)
        config = LivecartSettings(**settings)
        config.export_env()
        self.holder = ModelHolder(config)
        batch: Any = self.score
        batch.set_max_batch_size(config.batch_max_size)
        batch.set_batch_wait_timeout_s(config.batch_wait_ms / 1000)

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.002)
    async def score(self, parts: list[RankerInputs]) -> list[np.ndarray]:
        self.holder.poll()
        ranker = self.holder.ranker
        if ranker is None:
            raise RuntimeError("no model loaded")
        return score_inputs(ranker, parts)


class RankerPlacement:
    """Scores a batch's prepared inputs with ``ranker`` here, or through the Ranker deployment."""

    def __init__(self, handle: DeploymentHandle[Any] | None, timeout_s: float) -> None:
        self.handle, self.timeout_s = handle, timeout_s

    async def score(self, ranker: LoadedRanker, parts: list[RankerInputs]) -> list[np.ndarray]:
        if self.handle is None:
            # On the event loop: a forward pass (about half a millisecond per 500 rows) costs
            # less than a hop to a worker thread and back.
            return score_inputs(ranker, parts)
        # One call for the batch, text as dense rows (rows of a table would carry the whole
        # table through the object store).
        joined = await asyncio.wait_for(
            self.handle.score.remote(concat_inputs(parts).dense()), self.timeout_s
        )
        return list(np.split(joined, np.cumsum([len(x) for x in parts])[:-1]))
