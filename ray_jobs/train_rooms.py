"""`livecart train --ranker rooms`: train the room ranker on Ray Train and register it.

The visits in the livecart home (Twitch watches, or a generated world's room entries) become
training queries (:mod:`livecart.model.room_queries`); Ray Train workers each take a shard of the
queries and train the one network of :mod:`livecart.model.room_ranker` with its listwise loss
(gradients averaged by DDP). With ``holdout="last"`` (the default) each viewer's latest visit is
held out: the model is then measured on exactly those rows, full ranking over every streamer,
and ``livecart evaluate --model served`` can measure it beside the baselines without leakage.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import ray
import ray.train
import ray.train.torch
import torch
from pydantic import BaseModel, ConfigDict, Field
from ray.train import Checkpoint

from livecart.core.ray_runtime import ensure_ray
from livecart.core.settings import LivecartSettings
from livecart.model import registry
from livecart.model.interaction_log import Interactions, home_interactions
from livecart.model.room_queries import (
    QueryConfig,
    history_of,
    signal_spread,
    training_queries,
)
from livecart.model.room_ranker import ROOM_RANKER, RoomRankerNet, RoomScorer, train_epoch
from livecart.model.room_signals import FeatureConfig, ItemCooccurrence, LiveContext
from ray_jobs.evaluation import metrics as m
from ray_jobs.evaluation.base import history_before
from ray_jobs.evaluation.protocols import leave_last_out
from ray_jobs.training.trainer import torch_trainer

logger = logging.getLogger(__name__)
STATE = "room_ranker.pt"
VALID_TARGETS = 2000


class RoomTrainConfig(BaseModel):
    """One training run; each field is an option of ``livecart train --ranker rooms``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(default=8, ge=1)
    num_workers: int = Field(default=2, ge=1)
    batch_queries: int = Field(
        default=256, ge=1, description="Queries per optimiser step, over all workers together."
    )
    learning_rate: float = Field(default=1e-3, gt=0)
    hidden: tuple[int, ...] = (64, 32)
    queries_per_user: int = Field(default=8, ge=1)
    include_current: bool = Field(
        default=True, description="Count other viewers' visits in the query's own time unit."
    )
    holdout: Literal["last", "none"] = Field(
        default="last", description="Hold out each viewer's latest visit (measured on it)."
    )
    seed: int = 0


@dataclass(frozen=True)
class RoomTrainResult:
    record: registry.ModelRecord
    history: list[dict[str, Any]]
    queries: int
    queries_per_s: float


def _loop(config: dict[str, Any]) -> None:
    """Runs on every Ray Train worker: its shard of the queries, DDP-averaged gradients."""
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    data = ray.get(config["queries"])
    device = ray.train.torch.get_device()
    torch.manual_seed(config["seed"])
    net = RoomRankerNet(data.features.shape[1], tuple(config["hidden"]))
    net.set_normalisation(data.features)
    wrapped = ray.train.torch.prepare_model(net)
    optimizer = torch.optim.Adam(wrapped.parameters(), lr=config["learning_rate"])
    mine = np.arange(rank, len(data), world)
    # One global batch per step whatever the worker count; every worker runs the same number of
    # steps (DDP all-reduces once per step).
    batch = max(1, config["batch_queries"] // world)
    steps = -(-(len(data) // world) // batch)
    for epoch in range(config["epochs"]):
        rng = np.random.default_rng([config["seed"], epoch, rank])
        order = rng.permutation(mine)[: steps * batch]
        began = time.perf_counter()
        loss = train_epoch(wrapped, optimizer, data, order, batch, device)
        metrics = {
            "epoch": epoch,
            "train_loss": loss,
            "queries_per_s_per_worker": order.size / max(time.perf_counter() - began, 1e-9),
        }
        with tempfile.TemporaryDirectory() as directory:
            if rank == 0:
                state = {k: v.cpu() for k, v in net.state_dict().items()}
                torch.save(state, Path(directory) / STATE)
                ray.train.report(metrics, checkpoint=Checkpoint.from_directory(directory))
            else:
                ray.train.report(metrics)


def validation_ndcg(
    scorer: RoomScorer, train: Interactions, log: Interactions, rows: np.ndarray
) -> float:
    """NDCG@10 of the held-out visits (at most :data:`VALID_TARGETS`), full ranking, with the
    evaluation's tie-aware metric."""
    if rows.size == 0:
        return float("nan")
    rows = rows[np.linspace(0, rows.size - 1, min(rows.size, VALID_TARGETS)).astype(np.int64)]
    gains = []
    context = LiveContext(log, scorer.features)
    for start in range(0, rows.size, 256):
        batch = rows[start : start + 256]
        users, times = log.users[batch], log.times[batch]
        histories = [
            history_of(train, int(u), history_before(train, int(u), int(t)))
            for u, t in zip(users, times, strict=True)
        ]
        scores = scorer.score(histories, users, times, context)
        gains.append(m.ndcg(m.rank_counts(scores, log.items[batch]), 10))
    return float(np.concatenate(gains).mean())


def run(settings: LivecartSettings, cfg: RoomTrainConfig, progress: bool = True) -> RoomTrainResult:
    """Build the queries, train on Ray Train, register ``room_ranker`` and return its record."""
    dataset, log = home_interactions(settings)
    if cfg.holdout == "last":
        split = leave_last_out(log)
        train, rows = split.train, split.targets.rows
    else:
        train, rows = log, np.empty(0, np.int64)
    features = FeatureConfig(include_current=cfg.include_current)
    queries = training_queries(
        train,
        QueryConfig(features=features, queries_per_user=cfg.queries_per_user, seed=cfg.seed),
        progress,
    )
    ensure_ray(settings)
    config = {**cfg.model_dump(mode="json"), "queries": ray.put(queries)}
    trainer, use_gpu = torch_trainer(settings, _loop, config, cfg.num_workers, ROOM_RANKER)
    began = time.perf_counter()
    result = trainer.fit()
    seconds = time.perf_counter() - began
    if result.checkpoint is None:
        raise RuntimeError(f"training produced no checkpoint: {result.error}")
    state = torch.load(Path(result.checkpoint.to_directory()) / STATE, map_location="cpu")
    net = RoomRankerNet(len(features.names()), cfg.hidden)
    net.load_state_dict(state)
    cooccurrence = ItemCooccurrence(train) if features.collaborative else None
    scorer = RoomScorer(net, features, train.item_ids, cooccurrence)
    history: list[dict[str, Any]] = []
    if result.metrics_dataframe is not None:
        history = [
            {str(k): v for k, v in r.items()} for r in result.metrics_dataframe.to_dict("records")
        ]
    ndcg = validation_ndcg(scorer, train, log, rows)
    record = registry.save(
        settings,
        ROOM_RANKER,
        scorer.state(),
        config=scorer.config(cfg.hidden),
        metadata={
            "dataset": dataset,
            "holdout": cfg.holdout,
            "train_rows": len(train),
            "held_out_rows": int(rows.size),
            "queries": len(queries),
            "signals": signal_spread(queries, features),
            "config": cfg.model_dump(mode="json"),
            "metrics": {
                "valid_ndcg@10": ndcg,
                "train_loss": history[-1]["train_loss"] if history else None,
            },
            "use_gpu": use_gpu,
            "checkpoint": str(result.checkpoint.path),
        },
    )
    logger.info("registered %s v%d (valid NDCG@10 %.4f)", ROOM_RANKER, record.version, ndcg)
    rate = len(queries) * cfg.epochs / max(seconds, 1e-9)
    return RoomTrainResult(record, history, len(queries), round(rate, 1))
