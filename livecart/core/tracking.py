"""Train and evaluate runs in MLflow: their parameters, per-epoch metrics, reports and plots.

MLflow's tracking store is SQLite in the home (``<home>/mlflow/mlflow.db``, artifacts under
``<home>/mlflow/artifacts``) unless ``MLFLOW_TRACKING_URI`` names another (a tracking server, a
database). ``LIVECART_MLFLOW=false`` turns it off. Tracking never fails the job it records: an
MLflow error is logged as a warning and the job goes on (its results are in the home and the
model registry anyway). Registered models stay in livecart's registry (README, "MLflow", says
why); a train run carries the registered name and version as tags.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from livecart.core.settings import LivecartSettings

log = logging.getLogger(__name__)
EXPERIMENT_PREFIX = "livecart-"


def tracking_uri(settings: LivecartSettings) -> str:
    """``MLFLOW_TRACKING_URI``, else SQLite in the home."""
    return (
        os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{_directory(settings) / 'mlflow.db'}"
    )


def _directory(settings: LivecartSettings) -> Path:
    return settings.home / "mlflow"


def metric_name(key: str) -> str:
    """``key`` in the characters MLflow allows in a metric name (``NDCG@10`` -> ``NDCG_at_10``)."""
    return re.sub(r"[^\w\-. :/]", "_", key.replace("@", "_at_"))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value else None  # NaN: not logged


class TrackedRun:
    """One MLflow run; every call logs a warning instead of raising (see the module doc)."""

    def __init__(self, client: Any, run_id: str) -> None:
        self.client, self.run_id = client, run_id

    def metrics(self, values: Mapping[str, Any], step: int = 0) -> None:
        """The numeric entries of ``values`` at ``step`` (others are left out)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [
            Metric(metric_name(key), number, now, step)
            for key, value in values.items()
            if (number := _number(value)) is not None
        ]
        self._call(lambda: self.client.log_batch(self.run_id, metrics=batch))

    def tags(self, values: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        tags = [RunTag(key, str(value)) for key, value in values.items()]
        self._call(lambda: self.client.log_batch(self.run_id, tags=tags))

    def artifacts(self, paths: Iterable[Path]) -> None:
        for path in paths:
            self._call(lambda path=path: self.client.log_artifact(self.run_id, str(path)))

    def _call(self, action: Any) -> None:
        try:
            action()
        except Exception as exc:  # tracking never fails the job
            log.warning("MLflow run %s: %s", self.run_id, exc)


def _params(values: Mapping[str, Any]) -> list[Any]:
    from mlflow.entities import Param

    found = []
    for key, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        found.append(Param(key, text[:6000]))  # MLflow's limit on a parameter's value
    return found


@contextmanager
def tracked(
    settings: LivecartSettings, job: str, run_name: str, params: Mapping[str, Any]
) -> Iterator[TrackedRun | None]:
    """An MLflow run of ``job`` (experiment ``livecart-<job>``) with ``params``; None when
    tracking is off or MLflow cannot be reached. The run ends FINISHED, or FAILED on an error."""
    if not settings.mlflow:
        yield None
        return
    try:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=tracking_uri(settings))
        name = EXPERIMENT_PREFIX + job
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            artifacts = (_directory(settings) / "artifacts").resolve().as_uri()
            experiment_id = client.create_experiment(name, artifact_location=artifacts)
        else:
            experiment_id = experiment.experiment_id
        run_id = client.create_run(experiment_id, run_name=run_name).info.run_id
        client.log_batch(run_id, params=_params(params))
    except Exception as exc:
        log.warning("MLflow tracking off for this %s run: %s", job, exc)
        yield None
        return
    run = TrackedRun(client, run_id)
    status = "FAILED"
    try:
        yield run
        status = "FINISHED"
    finally:
        run._call(lambda: client.set_terminated(run_id, status))
