"""`livecart bench train`: Ray Train throughput of the fusion ranker per worker count, as JSON.

Each worker count trains the same examples for the same epochs in one run; throughput is total
examples per second over the timed epochs (the first epoch is reported apart: it includes
worker start-up and DDP set-up).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from livecart.core.settings import LivecartSettings


def run(
    settings: LivecartSettings, workers: list[int], epochs: int = 3, limit: int | None = None
) -> dict[str, Any]:
    import torch

    from ray_jobs.train import TrainConfig
    from ray_jobs.train import run as train

    result: dict[str, Any] = {
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "epochs": epochs,
        "runs": {},
    }
    baseline = None
    for count in workers:
        trained = train(
            settings,
            TrainConfig(epochs=epochs, num_workers=count, limit=limit, name="bench_ranker"),
        )
        per_worker = [row["examples_per_s_per_worker"] for row in trained.history[1:]] or [
            trained.history[0]["examples_per_s_per_worker"]
        ]
        total = float(np.mean(per_worker)) * count
        baseline = baseline or total
        result["runs"][str(count)] = {
            "examples_per_s": round(total, 1),
            "speedup_vs_first": round(total / baseline, 3),
            "auc_purchase": trained.history[-1].get("auc_purchase"),
            "examples": trained.examples,
        }
    return result
