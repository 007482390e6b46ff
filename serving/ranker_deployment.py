"""The ranking stage as its own deployment: the alternative layout, kept for measurement and GPUs.

By default ranking runs inside each ``Recommender`` replica (``@serve.batch`` there). Building the
app with ``split_ranker=True`` sends each request's candidate frame through a handle to this
deployment instead, which batches across all front replicas. ``livecart bench serve --layouts``
measures both; the split pays a serialization and a hop per request, and is worth it only where
the ranker needs other resources than retrieval (a GPU ranker scaled apart from CPU fronts).
"""

from typing import Any

import numpy as np
import torch
from ray import serve

from livecart.core.settings import LivecartSettings
from livecart.model.input_arrays import RankerInputs
from serving.rank import ModelHolder, score_inputs


@serve.deployment(max_ongoing_requests=64)
class Ranker:
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
