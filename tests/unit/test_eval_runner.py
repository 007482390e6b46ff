"""The evaluation runner end to end on the tiny synthetic world: tables, JSON and plots."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient
from pydantic import ValidationError

from livecart.core.errors import StageError
from livecart.core.settings import LivecartSettings
from livecart.core.tracking import tracking_uri
from livecart.simulation.generate import GenerateResult
from ray_jobs.evaluation.protocols import ProtocolName
from ray_jobs.evaluation.runner import EvaluationConfig, build_model, run


def test_run__tiny_synthetic_world__writes_report_json_and_plots(
    settings: LivecartSettings, tiny_world: GenerateResult
) -> None:
    config = EvaluationConfig(
        settings=settings.model_copy(update={"mlflow": True}),
        dataset="synthetic",
        models=("pop", "rep", "livecart"),
        ks=(1, 10),
        quick=True,
        progress=False,
        on_ray=False,  # in this process (the Ray path: tests/integration/test_eval_twitch.py)
    )
    report = run(config)
    out = settings.reports_dir / "evaluation"
    assert {p.name for p in out.iterdir()} >= {
        "report.md",
        "report.json",
        "full_by_k.png",
        "full_segments.png",
        "live_now_by_k.png",
        "sampled_segments.png",
    }
    payload = json.loads((out / "report.json").read_text())
    assert payload["dataset"] == "synthetic"
    assert len(payload["results"]) == 3 * len(ProtocolName)
    full = {r.model: r.metrics for r in report.results if r.protocol == "full"}
    assert set(full) == {"POP", "REP", "livecart"}
    for metrics in full.values():
        assert 0.0 <= metrics["NDCG@10"] <= metrics["HR@10"] <= 1.0
    segments = report.results[0].segments
    assert segments["repeat"]["n"] + segments["new"]["n"] == report.targets
    assert "| REP |" in (out / "report.md").read_text()
    # The room ranker says which of its signals the data carried; the baselines have none.
    signals = {r.model: r.signals for r in report.results if r.protocol == "full"}
    assert signals["REP"] is None and signals["livecart"] is not None
    assert "- livecart: " in (out / "report.md").read_text()
    assert all(r.node is None for r in report.results)
    # The run in MLflow (SQLite in the home): every model's metrics, the report and its plots.
    client = MlflowClient(tracking_uri=tracking_uri(settings))
    experiment = client.get_experiment_by_name("livecart-evaluate")
    assert experiment is not None
    (tracked_run,) = client.search_runs([experiment.experiment_id])
    assert tracked_run.info.status == "FINISHED"
    assert tracked_run.data.metrics["REP.full.NDCG_at_10"] == pytest.approx(full["REP"]["NDCG@10"])
    assert tracked_run.data.params["dataset"] == "synthetic"
    logged = {a.path for a in client.list_artifacts(tracked_run.info.run_id)}
    assert {"report.json", "report.md", "full_by_k.png"} <= logged


def test_run__wrong_world__stage_error_names_the_fix(
    settings: LivecartSettings, tiny_world: GenerateResult
) -> None:
    with pytest.raises(StageError, match="livecart ingest twitch"):
        run(EvaluationConfig(settings=settings, dataset="twitch", progress=False))


def test_run__path_without_events__stage_error(settings: LivecartSettings) -> None:
    with pytest.raises(StageError, match="neither"):
        run(EvaluationConfig(settings=settings, dataset=str(settings.home / "nothing")))


def test_build_model__unknown_name__stage_error() -> None:
    with pytest.raises(StageError, match="unknown model"):
        build_model("gpt")


def test_config__unknown_model_or_bad_k__rejected_before_any_work(
    settings: LivecartSettings,
) -> None:
    with pytest.raises(ValidationError, match="unknown models"):
        EvaluationConfig(settings=settings, models=("pop", "gpt"))
    with pytest.raises(ValidationError, match="positive"):
        EvaluationConfig(settings=settings, ks=(0, 10))
