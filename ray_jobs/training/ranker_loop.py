"""What each Ray Train worker of `livecart train` runs: the fusion ranker's epochs on its shard.

Kept apart from :mod:`ray_jobs.train` on purpose: a worker unpickles the loop by importing its
module, and the job's module imports Feast (point-in-time examples), seconds of CPU in every
worker process of every fit for code the workers never call. This module imports only torch,
Ray Train and the model.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import ray
import ray.train
import ray.train.torch
import torch
from ray.train import Checkpoint

from livecart.model.input_arrays import RankerInputs
from livecart.model.ranker import FusionRanker, auc
from ray_jobs.training.shards import equal_shard

STATE = "model.pt"


def tensors(inputs: RankerInputs, device: torch.device) -> list[torch.Tensor | None]:
    return [
        None if a is None else torch.as_tensor(a, device=device) for a in inputs.in_forward_order()
    ]


def loop(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker."""
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    train: RankerInputs = ray.get(config["train"])
    valid: RankerInputs = ray.get(config["valid"])
    labels, v_labels = ray.get(config["labels"]), ray.get(config["valid_labels"])
    device = ray.train.torch.get_device()
    torch.manual_seed(config["seed"])
    model = FusionRanker.from_config(config["model"])
    model.set_normalisation(train.numeric)
    model.set_item_text(ray.get(config["item_text"]))
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"]
    )
    start = 0
    checkpoint = ray.train.get_checkpoint()
    resume = config.get("resume_from")
    if checkpoint is not None or resume:
        directory = checkpoint.to_directory() if checkpoint is not None else str(resume)
        saved = torch.load(Path(directory) / STATE, map_location="cpu", weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        start = int(saved["epoch"]) + 1
    wrapped: torch.nn.Module = ray.train.torch.prepare_model(model)
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    weights = torch.tensor([1.0, config["purchase_weight"]], device=device)
    mine = equal_shard(len(labels), rank, world)  # the same number of DDP steps on every worker
    for epoch in range(start, config["epochs"]):
        wrapped.train()
        rng = np.random.default_rng(config["seed"] + epoch)
        order = rng.permutation(mine)
        began, losses = time.perf_counter(), []
        for i in range(0, len(order), config["batch_size"]):
            idx = order[i : i + config["batch_size"]]
            x = tensors(train.take(idx), device)
            y = torch.as_tensor(labels[idx], device=device)
            with torch.autocast(device_type=device.type, enabled=use_amp):
                logits = wrapped(*x)
                loss = (
                    torch.nn.functional.binary_cross_entropy_with_logits(
                        logits.float(), y, reduction="none"
                    )
                    * weights
                ).mean()
            optimizer.zero_grad()
            scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
            scaler.step(optimizer)
            scaler.update()
            losses.append(float(loss))
        elapsed = time.perf_counter() - began
        metrics = {
            "epoch": epoch,
            "train_loss": float(np.mean(losses)) if losses else float("nan"),
            "examples_per_s_per_worker": len(order) / max(elapsed, 1e-9),
        }
        metrics.update(validate(wrapped, valid, v_labels, device, weights))
        with tempfile.TemporaryDirectory() as directory:
            if rank == 0:
                torch.save(
                    {
                        "model": model.state_dict(),  # the unwrapped module shares weights
                        "optimizer": optimizer.state_dict(),
                        "epoch": epoch,
                    },
                    Path(directory) / STATE,
                )
                ray.train.report(metrics, checkpoint=Checkpoint.from_directory(directory))
            else:
                ray.train.report(metrics)


def validate(
    model: torch.nn.Module,
    inputs: RankerInputs,
    labels: np.ndarray,
    device: torch.device,
    weights: torch.Tensor,
    batch: int = 4096,
) -> dict[str, float]:
    model.eval()
    with torch.inference_mode():
        logits = torch.cat(
            [
                model(*tensors(inputs.take(slice(i, i + batch)), device)).float()
                for i in range(0, len(inputs), batch)
            ]
        )
        y = torch.as_tensor(labels, device=device)
        loss = (
            torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
            * weights
        ).mean()
        scores = torch.sigmoid(logits).cpu().numpy()
    return {
        "valid_loss": float(loss),
        "auc_click": auc(labels[:, 0], scores[:, 0]),
        "auc_purchase": auc(labels[:, 1], scores[:, 1]),
    }
