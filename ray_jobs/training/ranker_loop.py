"""What each Ray Train worker of `livecart train` runs: the fusion ranker's epochs on its shard.

Kept apart from :mod:`ray_jobs.train` on purpose: a worker unpickles the loop by importing its
module, and the job's module imports Feast (point-in-time examples), seconds of CPU in every
worker process of every fit for code the workers never call. This module imports only torch,
Ray Train and the model.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import ray
import ray.train
import ray.train.torch
import torch
from ray.train import Checkpoint

from livecart.model.input_arrays import RankerInputs
from livecart.model.ranker import FusionRanker, auc
from ray_jobs.training.example_format import batch_inputs, model_ids

STATE = "model.pt"


def tensors(inputs: RankerInputs, device: torch.device) -> list[torch.Tensor | None]:
    return [
        None if a is None else torch.as_tensor(a, device=device) for a in inputs.in_forward_order()
    ]


def _batches(
    shard: Any, size: int, shuffle: int = 0, seed: int | None = None
) -> Iterator[pa.Table]:
    """A dataset shard in Arrow batches (``shuffle``: rows in the local shuffle buffer)."""
    yield from shard.iter_batches(
        batch_size=size,
        batch_format="pyarrow",
        local_shuffle_buffer_size=shuffle or None,
        local_shuffle_seed=seed if shuffle else None,
    )


def loop(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker: its split of the ``train`` dataset each epoch (Ray Data
    splits it into equal shares, so every worker takes the same number of DDP steps), the whole
    ``valid`` dataset after each."""
    rank = ray.train.get_context().get_world_rank()
    train, valid = ray.train.get_dataset_shard("train"), ray.train.get_dataset_shard("valid")
    device = ray.train.torch.get_device()
    torch.manual_seed(config["seed"])
    spec = config["model"]
    model = FusionRanker.from_config(spec)
    model.set_scale(np.asarray(config["numeric_mean"]), np.asarray(config["numeric_std"]))
    model.set_item_text(ray.get(config["item_text"]))
    ids = model_ids(spec)
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
    for epoch in range(start, config["epochs"]):
        wrapped.train()
        began, losses, rows = time.perf_counter(), [], 0
        for batch in _batches(
            train, config["batch_size"], config["shuffle_rows"], config["seed"] + epoch
        ):
            inputs, labels = batch_inputs(batch, spec, ids)
            x = tensors(inputs, device)
            y = torch.as_tensor(labels, device=device)
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
            rows += len(labels)
        elapsed = time.perf_counter() - began
        metrics = {
            "epoch": epoch,
            "train_loss": float(np.mean(losses)) if losses else float("nan"),
            "examples_per_s_per_worker": rows / max(elapsed, 1e-9),
        }
        metrics.update(validate(wrapped, valid, spec, ids, device, weights))
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
    valid: Any,
    spec: dict[str, Any],
    ids: dict[str, int] | None,
    device: torch.device,
    weights: torch.Tensor,
    batch: int = 4096,
) -> dict[str, float]:
    """Loss and AUCs over every validation row (each worker reads them all: AUC is not a sum)."""
    model.eval()
    logits, labels = [], []
    with torch.inference_mode():
        for rows in _batches(valid, batch):
            inputs, y = batch_inputs(rows, spec, ids)
            logits.append(model(*tensors(inputs, device)).float())
            labels.append(y)
        if not logits:
            return {
                "valid_loss": float("nan"),
                "auc_click": float("nan"),
                "auc_purchase": float("nan"),
            }
        out = torch.cat(logits)
        truth = np.concatenate(labels)
        y_all = torch.as_tensor(truth, device=device)
        loss = (
            torch.nn.functional.binary_cross_entropy_with_logits(out, y_all, reduction="none")
            * weights
        ).mean()
        scores = torch.sigmoid(out).cpu().numpy()
    return {
        "valid_loss": float(loss),
        "auc_click": auc(truth[:, 0], scores[:, 0]),
        "auc_purchase": auc(truth[:, 1], scores[:, 1]),
    }
