"""One way to build a ``TorchTrainer`` for livecart's training jobs (the ranker, the encoder).

GPU or not is decided here, once, from the cluster's resources (``cluster_has_gpus``): workers
ask for a GPU each only when the cluster holds one per worker (asking Ray for GPUs it does not
have hangs silently; the driver's own CUDA says nothing of its workers), and CPU workers take half
a core each (2 workers fit a 2-core machine). Runs are stored under
``<home>/ray_results/<name>-<unix time>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ray.data import Dataset
from ray.train import DataConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from livecart.core.ray_runtime import cluster_has_gpus, ensure_ray
from livecart.core.settings import LivecartSettings


def torch_trainer(
    settings: LivecartSettings,
    loop: Callable[[dict[str, Any]], None],
    config: dict[str, Any],
    num_workers: int,
    name: str,
    datasets: Mapping[str, Dataset] | None = None,
) -> tuple[TorchTrainer, bool]:
    """The trainer for ``loop`` with ``config``, and whether its workers use a GPU.

    ``datasets``: Ray Data streams for the workers; only ``train`` is split between them
    (equal shares in a fixed order, so runs repeat and DDP steps line up), every worker reads
    the others whole."""
    use_gpu = cluster_has_gpus(num_workers, ensure_ray(settings))
    ordered = DataConfig.default_ingest_options()
    ordered.preserve_order = True
    trainer = TorchTrainer(
        loop,
        train_loop_config=config,
        datasets=dict(datasets) if datasets else None,
        dataset_config=DataConfig(
            datasets_to_split=["train"] if datasets and "train" in datasets else [],
            execution_options=ordered,
        ),
        scaling_config=ScalingConfig(
            num_workers=num_workers,
            use_gpu=use_gpu,
            resources_per_worker=None if use_gpu else {"CPU": 0.5},
        ),
        run_config=RunConfig(
            name=f"{name}-{int(time.time())}", storage_path=str(settings.home / "ray_results")
        ),
    )
    return trainer, use_gpu
