"""`livecart train`: the fusion ranker on Ray Train (TorchTrainer), GPU and mixed precision when present.

Examples come from Feast (point in time) and are staged part by part as Parquet files
(:mod:`ray_jobs.training.staged`); the split is by time (the latest ``valid_fraction`` of
impressions validate). The files reach the workers as Ray Data streams (``datasets=``, each worker
reads its equal split with ``get_dataset_shard``), so neither the driver nor the object store ever
holds the whole training set. Each worker trains with DDP; metrics are reported per epoch with a
checkpoint, a run can resume from a checkpoint, and the final model goes to the registry with its
feature service, data window and metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import ray
import torch
from pydantic import BaseModel, ConfigDict, Field

from livecart.core.feature_names import GRAPH_DIM
from livecart.core.ray_runtime import ensure_ray
from livecart.core.settings import LivecartSettings
from livecart.core.staging import staging_dir
from livecart.core.tracking import tracked
from livecart.model import registry
from livecart.model.build_inputs import NUMERIC_FEATURES
from livecart.model.ranker import auc
from ray_jobs.training.example_format import PURCHASE
from ray_jobs.training.examples import SERVICE, product_texts, require_inputs
from ray_jobs.training.ranker_loop import STATE, loop
from ray_jobs.training.staged import StagedExamples, stage_examples
from ray_jobs.training.trainer import torch_trainer

SHUFFLE_ROWS: Final = 4_096
"""Rows in each worker's local shuffle buffer (the staged files are shuffled within each part
already; a buffer of 20,000 rows of ~800 floats cost more than the forward and backward pass)."""


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "product_ranker"
    epochs: int = Field(default=4, gt=0)
    batch_size: int = Field(default=512, gt=0)
    lr: float = Field(default=2e-3, gt=0)
    weight_decay: float = Field(default=1e-2, ge=0, description="AdamW decoupled weight decay.")
    hidden: int = Field(default=64, gt=0)
    num_workers: int = Field(default=2, gt=0)
    with_text: bool = Field(
        default=True,
        description="Text-derived inputs: the candidate's text embedding, the viewer's interest "
        "cosine, item text in the behaviour encoder and the graph-smoothed (text) vector.",
    )
    with_behaviour: bool = Field(
        default=False,
        description="The SASRec-style behaviour encoder and product id embeddings (off by "
        "default: on the small synthetic world it overfits and costs ~0.01 purchase AUC).",
    )
    with_interest: bool = Field(
        default=False,
        description="With text and without the behaviour encoder: the viewer's text interest "
        "(mean text vector of the recent products) against the candidate's text.",
    )
    with_viewer_text: bool = Field(
        default=True,
        description="With text: what the viewer says they shop for (its text vector) matched "
        "to the candidate's text (off where no viewer has such a text).",
    )
    match_dim: int = Field(default=16, gt=0, description="Width of that match's projection.")
    item_dim: int = Field(default=32, gt=0)
    vocab_min_count: int = Field(
        default=2, gt=0, description="Products seen fewer times in training are 'unknown'."
    )
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


Reference = Callable[[pd.DataFrame], np.ndarray]


def run(
    settings: LivecartSettings,
    cfg: TrainConfig,
    reference: Reference | None = None,
    staged: StagedExamples | None = None,
) -> TrainResult:
    """Stage examples, train on Ray Train from them as Ray Data streams, register the model.

    ``reference``: a known purchase probability per validation row (a generated world's oracle,
    :func:`livecart.simulation.oracle.purchase_probability`); its AUC is recorded beside the
    model's as ``oracle_auc_purchase``, the ceiling the model can approach. ``staged``: examples
    staged already (the text ablation trains several models on the same files); otherwise they
    are staged in a staging directory under the home, removed when the run ends."""
    if staged is not None:
        return _fit(settings, cfg, staged, reference)
    require_inputs(settings, "train")  # before a staging directory under a home that may not exist
    with staging_dir(settings.home, "train") as directory:
        staged = stage_examples(settings, directory, cfg.limit, cfg.valid_fraction, seed=cfg.seed)
        return _fit(settings, cfg, staged, reference)


def _fit(
    settings: LivecartSettings,
    cfg: TrainConfig,
    staged: StagedExamples,
    reference: Reference | None,
) -> TrainResult:
    model_config = model_spec(staged, cfg)
    vocab = list(model_config["product_vocab"])
    item_text = np.zeros((len(vocab) + 2, model_config["text_dim"]), dtype=np.float32)
    if vocab and model_config["text_dim"]:
        item_text[2:] = product_texts(settings, vocab, model_config["text_dim"])
    ensure_ray(settings)
    config = {
        **cfg.model_dump(mode="json"),
        "item_text": ray.put(item_text),
        "model": model_config,
        "numeric_mean": staged.numeric_mean.tolist(),
        "numeric_std": staged.numeric_std.tolist(),
        "shuffle_rows": SHUFFLE_ROWS,
        "resume_from": str(cfg.resume_from) if cfg.resume_from else None,
    }
    datasets = staged.datasets()
    trainer, use_gpu = torch_trainer(
        settings, loop, config, cfg.num_workers, cfg.name, datasets=datasets
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
    if reference is not None:
        keys = staged.valid_keys()
        labels = pq.read_table(staged.valid_files, columns=[PURCHASE]).column(PURCHASE)
        oracle_auc = auc(labels.to_numpy(), reference(keys))
    cut = staged.train_rows
    record = registry.save(
        settings,
        cfg.name,
        saved["model"],
        config=model_config,
        metadata={
            "feature_service": SERVICE,
            "data_window": [str(w) for w in staged.window],
            "train_examples": cut,
            "valid_examples": staged.valid_rows,
            "config": cfg.model_dump(mode="json"),
            "metrics": {
                k: final.get(k) for k in ("valid_loss", "auc_click", "auc_purchase", "train_loss")
            },
            "checkpoint": str(result.checkpoint.path),
            "use_gpu": use_gpu,
            "oracle_auc_purchase": oracle_auc,
        },
    )
    per_s = round(cut * cfg.epochs / max(seconds, 1e-9), 1)
    trained = TrainResult(record, history, cut + staged.valid_rows, per_s)
    with tracked(settings, "train", cfg.name, cfg.model_dump(mode="json")) as run:
        if run is not None:
            for row in history:  # one row per epoch, as Ray Train reported it
                run.metrics(row, step=int(row.get("epoch", 0)))
            run.metrics({"examples_per_s": per_s, "oracle_auc_purchase": oracle_auc})
            run.tags({"registered_model": cfg.name, "registered_version": record.version})
    return trained


def model_spec(staged: StagedExamples, cfg: TrainConfig) -> dict[str, Any]:
    """The registry config of the model: its inputs, sizes and product vocabulary (training rows
    only, so validation products outside it are scored as unknown, as new products are online)."""
    text_dim = staged.text_dim if cfg.with_text and staged.has_text else 0
    has_graph = text_dim > 0 and staged.has_graph
    has_viewer_text = cfg.with_viewer_text and text_dim > 0 and staged.has_viewer_text
    return {
        "numeric_features": list(NUMERIC_FEATURES),
        "numeric_dim": len(NUMERIC_FEATURES),
        "text_dim": text_dim,
        "graph_dim": GRAPH_DIM if has_graph else 0,
        "hidden": cfg.hidden,
        "item_dim": cfg.item_dim,
        "product_vocab": staged.vocabulary(cfg.vocab_min_count)
        if cfg.with_behaviour or (cfg.with_interest and text_dim)
        else [],
        "interest": bool(cfg.with_interest and text_dim and not cfg.with_behaviour),
        "viewer_text_dim": text_dim if has_viewer_text else 0,
        "match_dim": cfg.match_dim if has_viewer_text else 0,
    }
