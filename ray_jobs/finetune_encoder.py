"""Fine-tune the text encoder on Ray Train: products bought together should embed close together.

Training pairs are products the same viewer clicked, carted or bought on the same day (from the
clean events; only days before ``until`` so that a later evaluation window stays unseen), each
product read as its title and description. The loss is in-batch InfoNCE over mean-pooled,
L2-normalised embeddings (the pooling :class:`~livecart.model.text_encoder.TextEncoder` uses), so
the fine-tuned encoder is a drop-in ``LIVECART_ENCODER_PATH``. ``layers="last"`` trains only the
last transformer layer (cheap on CPU); ``"full"`` trains all of it. It runs as a ``TorchTrainer``
with ``ScalingConfig(num_workers=N, use_gpu=<CUDA present>)``, mixed precision on GPU, and reports
the loss per epoch. The result is registered as a model directory (``text_encoder``).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import ray
import ray.train
import ray.train.torch
import torch
from pydantic import BaseModel, ConfigDict, Field
from ray.train import Checkpoint
from transformers import AutoModel, AutoTokenizer

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.io import table_path
from livecart.core.ray_runtime import ensure_ray
from livecart.core.settings import LivecartSettings
from livecart.model import registry
from livecart.model.text_encoder import MAX_TOKENS, default_encoder_path
from ray_jobs.embed import TEXT, item_texts
from ray_jobs.training.shards import equal_shard
from ray_jobs.training.trainer import torch_trainer

ENCODER = "text_encoder"
TEMPERATURE = 0.05


class FinetuneConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    layers: Literal["last", "full"] = "last"
    epochs: int = Field(default=1, gt=0)
    batch_size: int = Field(default=32, gt=1)
    lr: float = Field(default=1e-4, gt=0)
    max_pairs: int = Field(default=4_000, gt=0)
    num_workers: int = Field(default=2, gt=0)
    seed: int = 7


@dataclass(frozen=True)
class FinetuneResult:
    record: registry.ModelRecord
    encoder_dir: Path
    losses: list[float]
    pairs: int


def training_pairs(settings: LivecartSettings, max_pairs: int, seed: int) -> list[tuple[str, str]]:
    """(text, text) of product pairs co-interacted by one viewer on one day, sampled."""
    texts = item_texts(settings)[f.FeatureTable.PRODUCT_EMBEDDING]
    by_id = dict(
        zip(texts.column(c.PRODUCT_ID).to_pylist(), texts.column(TEXT).to_pylist(), strict=True)
    )
    events = table_path(settings.clean_dir, c.Table.EVENTS) / "*.parquet"
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"""
            WITH x AS (
                SELECT DISTINCT {c.VIEWER_ID} AS v, {c.PRODUCT_ID} AS p,
                       date_trunc('day', {c.EVENT_TIMESTAMP}) AS d
                FROM read_parquet('{events}', union_by_name = true)
                WHERE {c.EVENT_TYPE} IN ('click', 'add_to_cart', 'purchase') AND {c.PRODUCT_ID} IS NOT NULL
            )
            SELECT a.p, b.p FROM x a JOIN x b ON a.v = b.v AND a.d = b.d AND a.p < b.p
            """
        ).fetchall()
    finally:
        con.close()
    pairs = [(by_id[a], by_id[b]) for a, b in rows if by_id.get(a) and by_id.get(b)]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pairs))[:max_pairs]
    return [pairs[i] for i in order]


def _pool(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def _freeze_all_but_last(model: torch.nn.Module) -> None:
    for param in model.parameters():
        param.requires_grad = False
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if layers is None:
        raise ValueError("layers='last' needs a BERT-like encoder (model.encoder.layer)")
    for param in layers[-1].parameters():
        param.requires_grad = True


def _loop(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker."""
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    pairs: list[tuple[str, str]] = ray.get(config["pairs"])
    device = ray.train.torch.get_device()
    torch.manual_seed(config["seed"])
    tokenizer = AutoTokenizer.from_pretrained(config["encoder"], local_files_only=True)
    model = AutoModel.from_pretrained(config["encoder"], local_files_only=True)
    if config["layers"] == "last":
        _freeze_all_but_last(model)
    pooler = getattr(model, "pooler", None)  # unused by mean pooling: DDP must not wait for it
    if pooler is not None:
        for param in pooler.parameters():
            param.requires_grad = False
    wrapped = ray.train.torch.prepare_model(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config["lr"])
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    mine = equal_shard(len(pairs), rank, world)  # the same number of DDP steps on every worker

    def tokens(texts: list[str]) -> dict[str, torch.Tensor]:
        batch = tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
        )
        return {k: v.to(device) for k, v in batch.items()}

    for epoch in range(config["epochs"]):
        wrapped.train()
        order = np.random.default_rng(config["seed"] + epoch).permutation(mine)
        losses = []
        for i in range(0, len(order) - 1, config["batch_size"]):
            idx = order[i : i + config["batch_size"]]
            if len(idx) < 2:
                continue
            left = tokens([pairs[j][0] for j in idx])
            right = tokens([pairs[j][1] for j in idx])
            with torch.autocast(device_type=device.type, enabled=use_amp):
                a, b = _pool(wrapped, left), _pool(wrapped, right)
                logits = (a @ b.T).float() / TEMPERATURE
                target = torch.arange(len(idx), device=device)
                loss = (
                    torch.nn.functional.cross_entropy(logits, target)
                    + torch.nn.functional.cross_entropy(logits.T, target)
                ) / 2
            optimizer.zero_grad()
            scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
            scaler.step(optimizer)
            scaler.update()
            losses.append(float(loss))
        metrics = {"epoch": epoch, "loss": float(np.mean(losses)) if losses else float("nan")}
        with tempfile.TemporaryDirectory() as directory:
            if rank == 0:
                model.save_pretrained(directory)
                tokenizer.save_pretrained(directory)
                ray.train.report(metrics, checkpoint=Checkpoint.from_directory(directory))
            else:
                ray.train.report(metrics)


def run(settings: LivecartSettings, cfg: FinetuneConfig | None = None) -> FinetuneResult:
    """Fine-tune on Ray Train and register the encoder directory."""
    cfg = cfg or FinetuneConfig()
    pairs = training_pairs(settings, cfg.max_pairs, cfg.seed)
    if len(pairs) < cfg.batch_size:
        raise ValueError(f"only {len(pairs)} co-interaction pairs; generate more data first")
    encoder = str(settings.encoder_path or default_encoder_path())
    ensure_ray(settings)
    config = {**cfg.model_dump(), "pairs": ray.put(pairs), "encoder": encoder}
    trainer, use_gpu = torch_trainer(settings, _loop, config, cfg.num_workers, ENCODER)
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(f"fine-tuning produced no checkpoint: {result.error}")
    losses: list[float] = []
    if result.metrics_dataframe is not None:
        losses = [float(x) for x in result.metrics_dataframe["loss"].tolist()]
    record = registry.save(
        settings,
        ENCODER,
        {},
        config={"base_encoder": encoder, "layers": cfg.layers},
        metadata={
            "pairs": len(pairs),
            "losses": losses,
            "config": cfg.model_dump(),
            "use_gpu": use_gpu,
        },
    )
    target = record.path / "encoder"
    shutil.copytree(result.checkpoint.to_directory(), target)
    return FinetuneResult(record, target, losses, len(pairs))


def refresh_embeddings(settings: LivecartSettings, encoder_dir: Path) -> LivecartSettings:
    """Re-embed item texts with ``encoder_dir`` and materialize them; the settings that use it."""
    from ray_jobs.embed import run as embed
    from ray_jobs.materialize import materialize

    tuned = settings.model_copy(update={"encoder_path": encoder_dir})
    embed(tuned)
    materialize(tuned)
    return tuned
