"""The models of one evaluation at once, each a Ray task of one CPU, or one after another.

Every model is independent (its own seed, the same split), so the models are Ray tasks: on two
cores two models run at once, on a cluster as many as it has CPUs, and the split travels once
through the object store. The costliest models are submitted first, so a short one never holds
the last CPU while a long one waits. A registered model (``served``) is loaded by the driver,
which reads the registry, and only scored in its task. Results come back in the order asked
for, each with the node that produced it. With ``on_ray=False`` (or a single model) the models
run in this process, as they do inside a task.
"""

from __future__ import annotations

import logging
import time
from typing import Final

import ray
from tqdm import tqdm

from livecart.core.ray_runtime import ensure_ray
from ray_jobs.evaluation.base import Recommender
from ray_jobs.evaluation.measure import EvaluationConfig, build_model, evaluate_model
from ray_jobs.evaluation.protocols import Split
from ray_jobs.evaluation.report import ModelResult

log = logging.getLogger(__name__)

COSTLIEST_FIRST: Final[tuple[str, ...]] = (
    "livecart",
    "livecart-strict",
    "served",
    "sasrec",
    "twotower",
    "bpr",
    "itemcf",
)
"""Submission order (others after these): the long fits start while CPUs are free."""


@ray.remote(num_cpus=1)
def _evaluate(
    name: str,
    split: Split,
    config: EvaluationConfig,
    model: Recommender | None,
    fit_seconds: float | None,
) -> list[ModelResult]:
    node = ray.get_runtime_context().get_node_id()
    if model is None:
        model = build_model(name, config.seed, config.quick, False, config.settings)
    return evaluate_model(model, split, config, fit_seconds, node)


def _rank(name: str) -> int:
    base = name.split("@")[0]
    return COSTLIEST_FIRST.index(base) if base in COSTLIEST_FIRST else len(COSTLIEST_FIRST)


def evaluate_models(split: Split, config: EvaluationConfig) -> list[ModelResult]:
    """Every model of ``config.models`` evaluated on ``split``, results in that order."""
    names = list(config.models)
    if not config.on_ray or len(names) < 2:
        results = []
        for name in tqdm(names, desc="models", disable=not config.progress):
            model = build_model(name, config.seed, config.quick, config.progress, config.settings)
            results.extend(evaluate_model(model, split, config))
            log.info("evaluated %s", name)
        return results
    ensure_ray(config.settings)
    shared = ray.put(split)
    quiet = config.model_copy(update={"progress": False})
    pending = {}
    for at in sorted(range(len(names)), key=lambda i: _rank(names[i])):
        name = names[at]
        loaded: Recommender | None = None
        fit_seconds: float | None = None
        if name.split("@")[0] == "served":  # the registry is on the driver's disk
            loaded = build_model(name, config.seed, config.quick, False, config.settings)
            started = time.perf_counter()
            loaded.fit(split.train)  # loads and checks the registered version
            fit_seconds = time.perf_counter() - started
        pending[_evaluate.remote(name, shared, quiet, loaded, fit_seconds)] = at
    done: dict[int, list[ModelResult]] = {}
    with tqdm(total=len(names), desc="models", disable=not config.progress) as bar:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            at = pending.pop(ready[0])
            done[at] = ray.get(ready[0])
            log.info("evaluated %s", names[at])
            bar.update()
    return [result for at in range(len(names)) for result in done[at]]
