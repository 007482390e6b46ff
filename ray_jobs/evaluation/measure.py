"""One model, fitted once and measured: the evaluation's unit of work, in a process or a Ray task.

``evaluate_model`` fits a model on the training split (or takes it fitted: a registered model
loaded by the driver), scores every target in batches and measures each protocol on the same
scores. :class:`EvaluationConfig` is every option of ``livecart evaluate``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator
from tqdm import tqdm

from livecart.core.arrays import FloatArray, IntArray
from livecart.core.errors import StageError
from livecart.core.settings import LivecartSettings
from livecart.model.room_signals import FeatureConfig
from ray_jobs.evaluation import metrics as m
from ray_jobs.evaluation.base import ObservesLog, Recommender, ReportsSignals
from ray_jobs.evaluation.baselines import ItemCF, Popularity, Repeat
from ray_jobs.evaluation.bpr import BPRMF, BPRConfig
from ray_jobs.evaluation.live_ranker import LiveRanker, LiveRankerConfig, ServedRanker
from ray_jobs.evaluation.protocols import ProtocolName, Split, candidate_mask
from ray_jobs.evaluation.report import SEGMENTS, ModelResult
from ray_jobs.evaluation.sasrec import SASRec, SASRecConfig
from ray_jobs.evaluation.two_tower import TwoTower, TwoTowerConfig

MODELS: Final[tuple[str, ...]] = (
    "pop",
    "rep",
    "itemcf",
    "bpr",
    "sasrec",
    "twotower",
    "livecart",
    "livecart-strict",
    "served",
)
"""``served`` is the registered room ranker serving loads; ``served@N`` names a version."""
DEFAULT_MODELS: Final[tuple[str, ...]] = MODELS[:-1]
COVERAGE_K: Final = 10


class EvaluationConfig(BaseModel):
    """One evaluation run; each field is a CLI option of ``livecart evaluate``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    settings: LivecartSettings = Field(description="Where the data and reports live.")
    dataset: str = Field(
        default="twitch",
        description="'twitch' or 'synthetic' (the world in settings.home), or a directory of "
        "contract tables (with events/part-*.parquet).",
    )
    protocols: tuple[ProtocolName, ...] = Field(
        default=(ProtocolName.FULL, ProtocolName.LIVE_NOW, ProtocolName.SAMPLED),
        description="Candidate sets to measure on the same scores.",
    )
    models: tuple[str, ...] = Field(default=DEFAULT_MODELS, description=f"Any of {MODELS}.")
    ks: tuple[int, ...] = Field(default=(1, 5, 10, 20), description="Cut-offs for HR and NDCG.")
    seed: int = Field(default=0, description="Seeds every model, the sampled negatives and ties.")
    output_dir: Path | None = Field(
        default=None, description="Where to write (None: <reports_dir>/evaluation)."
    )
    event_types: tuple[str, ...] | None = Field(
        default=None, description="Event types that count as interactions (None: per dataset)."
    )
    time_unit_seconds: float = Field(
        default=600.0, gt=0, description="One time unit (window grain)."
    )
    live_window: int = Field(default=6, ge=0, description="Live-now window W, in time units.")
    include_current: bool = Field(
        default=True, description="Live-now counts other users' rows in the target's own unit."
    )
    n_negatives: int = Field(default=100, ge=1, description="Sampled negatives per target.")
    batch_size: int = Field(default=256, gt=0, description="Targets scored per batch.")
    quick: bool = Field(default=False, description="Tiny training budgets (smoke tests).")
    on_ray: bool = Field(
        default=True,
        description="Evaluate the models at once, as Ray tasks of one CPU each (False: one after "
        "another in this process, without Ray).",
    )
    progress: bool = Field(default=True, description="Show tqdm bars.")

    @field_validator("models")
    @classmethod
    def _known_models(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name.split("@")[0] not in MODELS]
        if unknown or not value:
            raise ValueError(f"unknown models {unknown}: choose from {', '.join(MODELS)}")
        return value

    @field_validator("ks")
    @classmethod
    def _positive_ks(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or min(value) < 1:
            raise ValueError(f"ks must be positive cut-offs, got {value}")
        return value


def build_model(
    name: str,
    seed: int = 0,
    quick: bool = False,
    progress: bool = True,
    settings: LivecartSettings | None = None,
) -> Recommender:
    """A fresh, unfitted model by name (see :data:`MODELS`); ``served`` needs ``settings``."""
    if name.split("@")[0] == "served":
        if settings is None:
            raise ValueError("the served model is read from the registry in settings.models_dir")
        version = name.partition("@")[2]
        if version and not version.isdigit():
            raise StageError("evaluate", f"bad model version in {name!r}", "use served@<number>")
        return ServedRanker(settings, int(version) if version else None)
    factories: dict[str, Callable[[], Recommender]] = {
        "pop": Popularity,
        "rep": Repeat,
        "itemcf": ItemCF,
        "bpr": lambda: BPRMF(BPRConfig(seed=seed, progress=progress, epochs=2 if quick else 30)),
        "sasrec": lambda: SASRec(
            SASRecConfig(seed=seed, progress=progress, **_QUICK_SASREC if quick else {})
        ),
        "twotower": lambda: TwoTower(
            TwoTowerConfig(seed=seed, progress=progress, epochs=1 if quick else 8)
        ),
        "livecart": lambda: LiveRanker(_ranker_config(seed, quick, progress, True)),
        "livecart-strict": lambda: LiveRanker(_ranker_config(seed, quick, progress, False)),
    }
    if name not in factories:
        raise StageError("evaluate", f"unknown model {name!r}", f"choose from {', '.join(MODELS)}")
    return factories[name]()


_QUICK_SASREC: Final[dict[str, int]] = {"epochs": 1, "dim": 16, "blocks": 1, "max_length": 20}


def _ranker_config(seed: int, quick: bool, progress: bool, current: bool) -> LiveRankerConfig:
    features = FeatureConfig(include_current=current)
    if quick:
        return LiveRankerConfig(
            features=features, seed=seed, progress=progress, epochs=1, queries_per_user=2
        )
    return LiveRankerConfig(features=features, seed=seed, progress=progress)


def _mean(values: FloatArray) -> float:
    return float(values.mean()) if values.size else float("nan")


def evaluate_model(
    model: Recommender,
    split: Split,
    config: EvaluationConfig,
    fit_seconds: float | None = None,
    node: str | None = None,
) -> list[ModelResult]:
    """Fit ``model`` once (unless ``fit_seconds`` says it was, elsewhere), score every target in
    batches, measure each protocol. ``node``: the Ray node this runs on, for the report."""
    if fit_seconds is None:
        started = time.perf_counter()
        model.fit(split.train)
        fit_seconds = time.perf_counter() - started
    if isinstance(model, ObservesLog):
        model.observe(split.observed)
    fitted = time.perf_counter()
    targets = split.targets
    per_target: dict[ProtocolName, dict[str, list[FloatArray]]] = {p: {} for p in config.protocols}
    lists: dict[ProtocolName, list[IntArray]] = {p: [] for p in config.protocols}
    batches = range(0, len(targets), config.batch_size)
    for start in tqdm(batches, desc=f"scoring {model.name}", disable=not config.progress):
        rows = np.arange(start, min(start + config.batch_size, len(targets)), dtype=np.int64)
        scores = model.score(targets.users[rows], targets.times[rows])
        for protocol in config.protocols:
            mask = candidate_mask(
                protocol,
                split,
                rows,
                config.live_window,
                config.include_current,
                config.n_negatives,
                config.seed,
            )
            counts = m.rank_counts(scores, targets.items[rows], mask)
            values = {f"HR@{k}": m.hit_rate(counts, k) for k in config.ks}
            values |= {f"NDCG@{k}": m.ndcg(counts, k) for k in config.ks}
            values |= {"HR@10": m.hit_rate(counts, 10), "NDCG@10": m.ndcg(counts, 10)}
            values |= {"MRR": m.reciprocal_rank(counts), "AUC": m.target_auc(counts)}
            for key, value in values.items():
                per_target[protocol].setdefault(key, []).append(value)
            lists[protocol].append(m.top_k(scores, COVERAGE_K, mask, config.seed))
    scored = time.perf_counter()
    segments = {
        "repeat": targets.repeat,
        "new": ~targets.repeat,
        "warm": ~targets.cold,
        "cold": targets.cold,
    }
    results = []
    for protocol in config.protocols:
        joined = {k: np.concatenate(v) for k, v in per_target[protocol].items()}
        overall = {k: _mean(v) for k, v in joined.items()}
        overall["Coverage@10"] = m.coverage(np.concatenate(lists[protocol]), split.observed.n_items)
        by_segment = {
            s: {"n": float(segments[s].sum())}
            | {k: _mean(joined[k][segments[s]]) for k in ("HR@10", "NDCG@10", "MRR")}
            for s in SEGMENTS
        }
        results.append(
            ModelResult(
                model=model.name,
                protocol=protocol.value,
                metrics=overall,
                segments=by_segment,
                fit_seconds=fit_seconds,
                score_seconds=scored - fitted,
                signals=model.signals if isinstance(model, ReportsSignals) else None,
                node=node,
            )
        )
    return results
