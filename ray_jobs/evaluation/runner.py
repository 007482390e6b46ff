"""`livecart evaluate`: fit every model on the training split and score the held-out targets.

``run(config)`` resolves the dataset (the Twitch or synthetic world in the livecart home, or any
directory holding contract tables), makes a leave-last-out split, evaluates the models
(:mod:`ray_jobs.evaluation.on_ray`: at once as Ray tasks, or one after another) and writes
``report.md``, ``report.json`` and PNG plots under ``<reports_dir>/evaluation`` (or
``output_dir``), returning the :class:`EvaluationReport`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from livecart.core.contract import EventType, Table
from livecart.core.errors import StageError
from livecart.core.io import source_exists
from livecart.core.tracking import tracked
from livecart.model.interaction_log import (
    DATASET_EVENT_TYPES,
    Interactions,
    home_dataset,
    home_manifest,
    load_interactions,
    visit_event_types,
)
from ray_jobs.evaluation.measure import (
    DEFAULT_MODELS,
    MODELS,
    EvaluationConfig,
    build_model,
    evaluate_model,
)
from ray_jobs.evaluation.on_ray import evaluate_models
from ray_jobs.evaluation.protocols import leave_last_out, live_summary
from ray_jobs.evaluation.report import EvaluationReport

__all__ = ["DEFAULT_MODELS", "MODELS", "EvaluationConfig", "build_model", "evaluate_model", "run"]

log = logging.getLogger(__name__)


def resolve_dataset(config: EvaluationConfig) -> tuple[str, Path, tuple[str, ...]]:
    """(name, directory, event types) of the dataset the config names."""
    name = config.dataset
    if name in DATASET_EVENT_TYPES or name == home_manifest(config.settings).get("name"):
        found, directory = home_dataset(config.settings, expected=name)
        return found, directory, config.event_types or visit_event_types(config.settings)
    path = Path(name).expanduser().resolve()
    if not source_exists(path, Table.EVENTS):
        raise StageError(
            "evaluate",
            f"{name!r} is neither 'twitch', 'synthetic' nor a directory with events/part-*.parquet",
            "pass --dataset twitch|synthetic or the raw directory of an ingested world",
        )
    return path.name, path, config.event_types or (EventType.WATCH.value,)


def run(config: EvaluationConfig) -> EvaluationReport:
    """Evaluate ``config.models`` on ``config.dataset``; write and return the report."""
    started = time.perf_counter()
    name, directory, event_types = resolve_dataset(config)
    data: Interactions = load_interactions(directory, event_types, config.time_unit_seconds)
    split = leave_last_out(data)
    if len(split.targets) == 0:
        raise StageError(
            "evaluate", f"no user in {directory} has two interactions", "use more data"
        )
    live_share, live_median = live_summary(split, config.live_window, config.include_current)
    targets = split.targets
    report = EvaluationReport(
        dataset=name,
        directory=str(directory),
        interactions=len(data),
        users=data.n_users,
        items=data.n_items,
        targets=len(targets),
        repeat_share=float(targets.repeat.mean()),
        live_target_share=live_share,
        live_candidates_median=live_median,
        ks=sorted(set(config.ks)),
        seed=config.seed,
        seconds=0.0,
    )
    report.results.extend(evaluate_models(split, config))
    report.seconds = time.perf_counter() - started
    output = config.output_dir or config.settings.reports_dir / "evaluation"
    written = report.write(output)
    params = config.model_dump(mode="json", exclude={"settings"})
    with tracked(config.settings, "evaluate", name, params) as run:
        if run is not None:
            for result in report.results:  # <model>.<protocol>.<metric>: REP.full.NDCG_at_10
                prefix = f"{result.model}.{result.protocol}."
                run.metrics({prefix + k: v for k, v in result.metrics.items()})
            run.metrics({"seconds": report.seconds, "targets": report.targets})
            run.artifacts(Path(p) for p in written.values())  # not older runs' files
    return report
