"""`livecart train`: the fusion ranker on Ray Train (TorchTrainer), GPU and mixed precision when present.

Examples come from Feast (point in time); the split is by time (the latest ``valid_fraction`` of
impressions validate). Each worker trains on its shard with DDP; metrics are reported per epoch
with a checkpoint, a run can resume from a checkpoint, and the final model goes to the registry
with its feature service, data window and metrics.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ray
import ray.train
import ray.train.torch
import torch
from pydantic import BaseModel, ConfigDict, Field
from ray.train import Checkpoint, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from livecart import registry
from livecart.ray_runtime import ensure_ray
from livecart.settings import LivecartSettings
from ray_jobs.training.examples import (
    CLICK,
    NUMERIC_FEATURES,
    PURCHASE,
    SERVICE,
    build_examples,
    matrices,
)
from ray_jobs.training.model import FusionRanker, auc
from ray_jobs.training.oracle import has_truth, purchase_probability

STATE = "model.pt"


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "product_ranker"
    epochs: int = Field(default=4, gt=0)
    batch_size: int = Field(default=512, gt=0)
    lr: float = Field(default=2e-3, gt=0)
    hidden: int = Field(default=64, gt=0)
    num_workers: int = Field(default=2, gt=0)
    with_text: bool = True
    valid_fraction: float = Field(default=0.2, gt=0, lt=1)
    purchase_weight: float = Field(default=2.0, ge=0)
    limit: int | None = Field(default=None, description="Use at most this many impressions.")
    resume_from: Path | None = Field(default=None, description="A checkpoint directory to resume.")
    seed: int = 7


@dataclass(frozen=True)
class TrainResult:
    record: registry.ModelRecord
    history: list[dict[str, Any]]
    examples: int
    examples_per_s: float


def _loop(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker."""
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    numeric, text, labels, v_numeric, v_text, v_labels = (ray.get(r) for r in config["data"])
    device = ray.train.torch.get_device()
    torch.manual_seed(config["seed"])
    model = FusionRanker(
        numeric.shape[1], text.shape[1] if text is not None else 0, config["hidden"]
    )
    model.set_normalisation(numeric)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
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
    mine = np.arange(rank, len(labels), world)
    for epoch in range(start, config["epochs"]):
        wrapped.train()
        rng = np.random.default_rng(config["seed"] + epoch)
        order = rng.permutation(mine)
        began, losses = time.perf_counter(), []
        for i in range(0, len(order), config["batch_size"]):
            idx = order[i : i + config["batch_size"]]
            x = torch.as_tensor(numeric[idx], device=device)
            t = torch.as_tensor(text[idx], device=device) if text is not None else None
            y = torch.as_tensor(labels[idx], device=device)
            with torch.autocast(device_type=device.type, enabled=use_amp):
                logits = wrapped(x, t)
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
        metrics.update(_validate(wrapped, v_numeric, v_text, v_labels, device, weights))
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


def _validate(
    model: torch.nn.Module,
    numeric: np.ndarray,
    text: np.ndarray | None,
    labels: np.ndarray,
    device: torch.device,
    weights: torch.Tensor,
) -> dict[str, float]:
    model.eval()
    with torch.inference_mode():
        x = torch.as_tensor(numeric, device=device)
        t = torch.as_tensor(text, device=device) if text is not None else None
        logits = model(x, t).float()
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


def run(settings: LivecartSettings, cfg: TrainConfig) -> TrainResult:
    """Build examples, train on Ray Train, and register the model."""
    examples = build_examples(settings, cfg.limit)
    frame = examples.frame
    numeric, text = matrices(frame, cfg.with_text)
    labels = frame[[CLICK, PURCHASE]].to_numpy(dtype=np.float32)
    cut = int(len(frame) * (1 - cfg.valid_fraction))
    ensure_ray(settings)
    data = [
        ray.put(a)
        for a in (
            numeric[:cut],
            None if text is None else text[:cut],
            labels[:cut],
            numeric[cut:],
            None if text is None else text[cut:],
            labels[cut:],
        )
    ]
    use_gpu = torch.cuda.is_available()  # never ask for a GPU Ray cannot see: it would hang
    trainer = TorchTrainer(
        _loop,
        train_loop_config={
            **cfg.model_dump(mode="json"),
            "data": data,
            "resume_from": str(cfg.resume_from) if cfg.resume_from else None,
        },
        scaling_config=ScalingConfig(
            num_workers=cfg.num_workers,
            use_gpu=use_gpu,
            resources_per_worker=None if use_gpu else {"CPU": 0.5},
        ),
        run_config=RunConfig(
            name=f"{cfg.name}-{int(time.time())}", storage_path=str(settings.home / "ray_results")
        ),
    )
    began = time.perf_counter()
    result = trainer.fit()
    seconds = time.perf_counter() - began
    if result.checkpoint is None:
        raise RuntimeError(f"training produced no checkpoint: {result.error}")
    saved = torch.load(
        Path(result.checkpoint.to_directory()) / STATE, map_location="cpu", weights_only=False
    )
    history: list[dict[str, Any]] = []
    if result.metrics_dataframe is not None:
        records = result.metrics_dataframe.to_dict("records")
        history = [{str(k): v for k, v in row.items()} for row in records]
    final = history[-1] if history else {}
    oracle_auc = None
    if has_truth(settings):
        valid = frame.iloc[cut:]
        oracle_auc = auc(labels[cut:, 1], purchase_probability(settings, valid))
    record = registry.save(
        settings,
        cfg.name,
        saved["model"],
        config={
            "numeric_features": list(NUMERIC_FEATURES),
            "numeric_dim": numeric.shape[1],
            "text_dim": 0 if text is None else text.shape[1],
            "hidden": cfg.hidden,
        },
        metadata={
            "feature_service": SERVICE,
            "data_window": [str(w) for w in examples.window],
            "train_examples": cut,
            "valid_examples": len(frame) - cut,
            "config": cfg.model_dump(mode="json"),
            "metrics": {
                k: final.get(k) for k in ("valid_loss", "auc_click", "auc_purchase", "train_loss")
            },
            "checkpoint": str(result.checkpoint.path),
            "use_gpu": use_gpu,
            "oracle_auc_purchase": oracle_auc,
        },
    )
    return TrainResult(record, history, len(frame), round(cut * cfg.epochs / max(seconds, 1e-9), 1))
