"""`livecart refresh`: keep profiles and the ranker current, promoting a new model only if better.

One pass: rebuild the feature tables from the offline store (which includes every event accepted
by ``/v1/events``) -> ``materialize`` incrementally -> decide whether to retrain (new events since
the serving model's data window, or the serving model's AUC on the latest impressions has dropped
below what it was registered with) -> train a candidate on Ray Train -> score candidate and
serving model on the same latest, time-ordered holdout -> promote the candidate only if its
purchase AUC is higher -> serving replicas follow the promotion pointer within
``model_poll_seconds`` (no restart, no dropped request). ``--every`` repeats it on a schedule.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from livecart.core import contract as c
from livecart.core.io import table_path
from livecart.core.settings import LivecartSettings
from livecart.model import registry
from livecart.model.ranker import auc
from livecart.model.scoring import LoadedRanker
from ray_jobs.features import run as build_features
from ray_jobs.materialize import materialize
from ray_jobs.train import TrainConfig
from ray_jobs.train import run as train
from ray_jobs.training.example_format import CLICK, PURCHASE
from ray_jobs.training.examples import build_examples


class RefreshConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = registry.DEFAULT_RANKER
    new_events_fraction: float = Field(
        default=0.05, ge=0, description="Retrain when this share of events is newer than the model."
    )
    auc_drop: float = Field(
        default=0.02, ge=0, description="Retrain when the serving AUC fell by more than this."
    )
    force_retrain: bool = False
    holdout_fraction: float = Field(default=0.2, gt=0, lt=1)
    train: TrainConfig = Field(default_factory=TrainConfig)


@dataclass
class RefreshResult:
    feature_rows: dict[str, int]
    materialized_rows: dict[str, int]
    serving_version: int | None
    retrain_reasons: list[str]
    candidate_version: int | None = None
    serving_auc: float | None = None
    candidate_auc: float | None = None
    promoted: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def _rebase_live_counters(settings: LivecartSettings) -> bool:
    """Ask a running ingest replica on the same Ray cluster to re-read materialized totals."""
    if not settings.ray_address:
        return False  # a local Ray of this process cannot see another process's Serve app
    from ray import serve

    from livecart.core.ray_runtime import ensure_ray

    try:
        ensure_ray(settings)
        serve.get_deployment_handle("EventIngest", app_name="livecart").reload.remote().result()
    except Exception:
        return False
    return True


def _newer_share(settings: LivecartSettings, since: datetime) -> float:
    events = table_path(settings.clean_dir, c.Table.EVENTS) / "*.parquet"
    con = duckdb.connect()
    try:
        row = con.execute(
            f"SELECT avg(({c.EVENT_TIMESTAMP} > ?)::INT) FROM read_parquet('{events}', union_by_name = true)",
            [since],
        ).fetchone()
    finally:
        con.close()
    return float(row[0] or 0.0) if row else 0.0


def _holdout_auc(ranker: LoadedRanker, holdout: pd.DataFrame) -> float:
    scores = ranker.score(holdout)
    return auc(holdout[PURCHASE].to_numpy(), scores[:, 1])


def _reasons(
    settings: LivecartSettings,
    cfg: RefreshConfig,
    serving: LoadedRanker | None,
    holdout: pd.DataFrame,
) -> tuple[list[str], float | None]:
    if serving is None:
        return ["no model yet"], None
    reasons = ["forced"] if cfg.force_retrain else []
    window_end = pd.Timestamp(serving.record.metadata["data_window"][1]).to_pydatetime()
    share = _newer_share(settings, window_end)
    if share > cfg.new_events_fraction:
        reasons.append(f"{share:.1%} of events are newer than the model's data window")
    now_auc = _holdout_auc(serving, holdout)
    registered = serving.record.metadata.get("metrics", {}).get("auc_purchase")
    if registered is not None and now_auc < float(registered) - cfg.auc_drop:
        reasons.append(f"serving purchase AUC fell from {float(registered):.3f} to {now_auc:.3f}")
    return reasons, now_auc


def run(settings: LivecartSettings, cfg: RefreshConfig | None = None) -> RefreshResult:
    cfg = cfg or RefreshConfig()
    seconds: dict[str, float] = {}
    began = time.perf_counter()
    features = build_features(settings)
    seconds["features"] = time.perf_counter() - began
    began = time.perf_counter()
    materialized = materialize(settings)
    seconds["materialize"] = time.perf_counter() - began
    _rebase_live_counters(settings)
    version = registry.serving_version(settings, cfg.name)
    if version is not None and not registry.promoted_history(settings, cfg.name):
        registry.promote(settings, cfg.name, version)  # pin it: the candidate must earn its place
    serving = LoadedRanker.load(settings, cfg.name, version) if version is not None else None
    examples = build_examples(settings).frame
    holdout = examples.iloc[int(len(examples) * (1 - cfg.holdout_fraction)) :]
    holdout = holdout[holdout[[CLICK, PURCHASE]].notna().all(axis=1)]
    reasons, serving_auc = _reasons(settings, cfg, serving, holdout)
    result = RefreshResult(
        feature_rows=features.rows,
        materialized_rows=materialized.rows,
        serving_version=version,
        retrain_reasons=reasons,
        serving_auc=serving_auc,
        seconds=seconds,
    )
    if not reasons:
        return result
    began = time.perf_counter()
    trained = train(settings, cfg.train.model_copy(update={"name": cfg.name}))
    seconds["train"] = time.perf_counter() - began
    candidate = LoadedRanker.load(settings, cfg.name, trained.record.version)
    result.candidate_version = candidate.version
    result.candidate_auc = _holdout_auc(candidate, holdout)
    better = serving_auc is None or (
        not np.isnan(result.candidate_auc) and result.candidate_auc > serving_auc
    )
    if better:
        registry.promote(settings, cfg.name, candidate.version)
        result.promoted = True
    return result
