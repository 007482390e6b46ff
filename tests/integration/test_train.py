"""Ray Train smoke test: a tiny ranker, 2 CPU workers, a few epochs; the loss must fall."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from livecart.core.settings import LivecartSettings
from livecart.core.tracking import tracking_uri
from livecart.features.feast_store import apply
from livecart.model import registry
from livecart.simulation.generate import run as generate
from livecart.simulation.oracle import oracle_reference
from livecart.simulation.world.config import world_config
from ray_jobs.features import run as build_features
from ray_jobs.train import TrainConfig
from ray_jobs.train import run as train
from ray_jobs.training.examples import SERVICE
from validation.run import run as validate

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_train__two_cpu_workers__loss_falls_and_model_registered(
    settings: LivecartSettings, local_ray: None
) -> None:
    generate(
        world_config("tiny", seed=4).model_copy(update={"viewers": 400}), settings, use_ray=False
    )
    validate(settings)
    build_features(settings)
    apply(settings)
    cfg = TrainConfig(
        epochs=3,
        num_workers=2,
        hidden=16,
        batch_size=256,
        with_text=False,
        with_behaviour=True,  # the causal encoder and the product vocabulary, through Ray Train
        lr=5e-3,
    )
    tracked = settings.model_copy(update={"ray_num_cpus": 2, "mlflow": True})
    result = train(tracked, cfg, oracle_reference(settings))
    losses = [row["train_loss"] for row in result.history]
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    record, state = registry.load(settings, "product_ranker")
    assert record.version == 1 and record.metadata["feature_service"] == SERVICE
    assert record.config["match_dim"] == 0  # without text, no match of the viewer's words
    assert record.metadata["metrics"]["auc_click"] is not None
    assert record.metadata["oracle_auc_purchase"] > 0.5  # the planted truth ranks purchases
    assert state and result.examples_per_s > 0
    assert record.config["product_vocab"] and any(k.startswith("behaviour.") for k in state)
    # The run in MLflow: the config, one loss per epoch, and which registered version it made.
    client = MlflowClient(tracking_uri=tracking_uri(tracked))
    experiment = client.get_experiment_by_name("livecart-train")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    curve = client.get_metric_history(run.info.run_id, "train_loss")
    assert [m.value for m in sorted(curve, key=lambda m: m.step)] == pytest.approx(losses)
    assert run.data.tags["registered_version"] == "1" and run.data.params["epochs"] == "3"

    # Resume from the final checkpoint: only the remaining epoch runs, and it continues the curve.
    resumed_cfg = cfg.model_copy(update={"epochs": 4, "resume_from": record.metadata["checkpoint"]})
    resumed = train(settings.model_copy(update={"ray_num_cpus": 2}), resumed_cfg)
    assert [row["epoch"] for row in resumed.history] == [3]
    assert resumed.history[0]["train_loss"] < losses[0]
    assert registry.load(settings, "product_ranker")[0].version == 2
