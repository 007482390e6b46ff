"""The pipeline's Ray jobs, unchanged, on a multi-node Ray cluster; the ranker's training checked.

Ray's own multi-node test cluster (``ray.cluster_utils.Cluster``) on this machine: a head node
without CPUs, where the driver runs (as on a production cluster started with ``ray start --head
--num-cpus=0``), and two worker nodes of one CPU each. The jobs join it as ``ray job submit`` hands
a cluster to its entrypoint (``RAY_ADDRESS``) and run as the CLI runs them: generate (Ray tasks),
embed (Ray Data over the shipped encoder), materialize (Ray tasks) and train (Ray Train, two
workers, tracked in MLflow). With no CPU on the driver's node, every task, Data block and Train
worker ran on another node, and what they exchange with the driver crossed between nodes through
Ray's object store. ``livecart evaluate`` goes to the cluster as docs/operations.md says, with
``ray job submit --working-dir .`` to the head's dashboard; its models run as Ray tasks there. (The room ranker and the encoder fine-tuning train through the same
:func:`ray_jobs.training.trainer.torch_trainer`; their own tests run them on the local Ray.)

The cluster lives in a child process: this run's own local Ray is attached to the test process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from livecart.core.settings import PROJECT_ROOT, LivecartSettings
from livecart.core.tracking import tracking_uri
from livecart.model import registry
from ray_jobs.training.examples import SERVICE
from tests.forked import forked_processes, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def run_jobs(home: str, out: str) -> None:
    """Process target: start the cluster, run every job on it, write what they did to ``out``."""
    import ray
    from ray.cluster_utils import Cluster

    from livecart.features.feast_store import apply
    from livecart.simulation.generate import run as generate
    from livecart.simulation.oracle import oracle_reference
    from livecart.simulation.world.config import world_config
    from ray_jobs.embed import run as embed
    from ray_jobs.features import run as build_features
    from ray_jobs.materialize import materialize
    from ray_jobs.train import TrainConfig
    from ray_jobs.train import run as train
    from validation.run import run as validate

    port = free_port()
    # Every node's dashboard agent on a free port: the default one (52365) may be held by the
    # test run's own local Ray, and a head without its agent refuses jobs ("No available agent").
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 0,
            "include_dashboard": True,
            "dashboard_port": port,
            "dashboard_agent_listen_port": free_port(),
        },
    )
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, dashboard_agent_listen_port=free_port())
        cluster.wait_for_nodes()
        os.environ["RAY_ADDRESS"] = cluster.address
        settings = LivecartSettings(home=Path(home), mlflow=True)
        seconds: dict[str, float] = {}

        def timed(stage: str, job: Callable[[], Any]) -> Any:
            began = time.perf_counter()
            result = job()
            seconds[stage] = round(time.perf_counter() - began, 1)
            return result

        tiny = world_config("tiny", seed=4).model_copy(update={"viewers": 400})
        world = timed("generate", lambda: generate(tiny, settings))
        timed("validate", lambda: validate(settings))
        timed("features", lambda: build_features(settings))
        embedded = timed("embed", lambda: embed(settings))
        timed("apply", lambda: apply(settings))
        loaded = timed("materialize", lambda: materialize(settings))
        cfg = TrainConfig(
            epochs=2,
            num_workers=2,
            hidden=16,
            batch_size=256,
            with_text=False,
            with_behaviour=True,  # the causal encoder and the product vocabulary, through Ray Train
            lr=5e-3,
        )
        # `livecart evaluate` as a job (its models run as Ray tasks on the worker nodes),
        # submitted now: its upload and start overlap the training, its tasks queue behind it.
        address = f"http://127.0.0.1:{port}"
        timed("ray job submit", lambda: submit_job(address, home))
        trained = timed("train", lambda: train(settings, cfg, oracle_reference(settings)))
        submitted = timed("job finished after training", lambda: job_result(address, home))
        report: dict[str, Any] = {
            "nodes": {
                n["NodeID"]: n["Resources"].get("CPU", 0.0) for n in ray.nodes() if n["Alive"]
            },
            "driver_node": ray.get_runtime_context().get_node_id(),
            "events": world.events,
            "embedded": sum(embedded.rows.values()),
            "materialized": sum(loaded.rows.values()),
            "losses": [row["train_loss"] for row in trained.history],
            "examples_per_s": trained.examples_per_s,
            "job": submitted,
            "seconds": seconds,
        }
        Path(out).write_text(json.dumps(report))
    finally:
        ray.shutdown()
        cluster.shutdown()


JOB_ID = "livecart-evaluate-on-cluster"


def submit_job(address: str, home: str) -> None:
    """``ray job submit --working-dir . -- livecart evaluate ...``, as docs/operations.md says:
    the CLI uploads this checkout, the entrypoint finds the cluster in ``RAY_ADDRESS``."""
    env_vars = {
        "LIVECART_HOME": home,
        "RAY_AUTH_MODE": "disabled",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",  # the venv's livecart
    }
    command = [
        str(Path(sys.executable).parent / "ray"),
        "job",
        "submit",
        "--address",
        address,
        "--submission-id",
        JOB_ID,
        "--no-wait",
        "--working-dir",
        ".",
        "--runtime-env-json",
        json.dumps({"env_vars": env_vars}),
        "--",
        "livecart",
        "evaluate",
        "--dataset",
        "synthetic",
        "--model",
        "rep",
        "--model",
        "itemcf",
        "--protocol",
        "full",
        "--json",
    ]
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"ray job submit failed:\n{(done.stdout + done.stderr)[-1500:]}")


def job_result(address: str, home: str) -> dict[str, Any]:
    """Wait for the job; what it reported (its own report.json in the home) and how it ended."""
    from ray.job_submission import JobStatus, JobSubmissionClient

    client = JobSubmissionClient(address)
    deadline = time.monotonic() + 180
    while not client.get_job_status(JOB_ID).is_terminal() and time.monotonic() < deadline:
        time.sleep(0.5)
    written = Path(home) / "reports" / "evaluation" / "report.json"
    report = json.loads(written.read_text()) if written.is_file() else {"results": []}
    return {
        "status": str(client.get_job_status(JOB_ID)),
        "succeeded": client.get_job_status(JOB_ID) == JobStatus.SUCCEEDED,
        "logs": client.get_job_logs(JOB_ID)[-2000:],
        "models": [r["model"] for r in report["results"]],
        "nodes": [r["node"] for r in report["results"]],
    }


@pytest.fixture(scope="module")
def on_cluster(tmp_path_factory: pytest.TempPathFactory) -> tuple[LivecartSettings, dict[str, Any]]:
    """The home the jobs built on the cluster, and what they reported."""
    root = tmp_path_factory.mktemp("multinode")
    out = root / "report.json"
    child = forked_processes().Process(target=run_jobs, args=(str(root / "home"), str(out)))
    child.start()
    child.join(timeout=420)
    if child.exitcode is None:
        child.kill()
    assert child.exitcode == 0, "the jobs on the cluster failed (their error is in stderr)"
    report: dict[str, Any] = json.loads(out.read_text())
    return LivecartSettings(home=root / "home", mlflow=True), report


def test_cluster__a_head_without_cpus_and_two_worker_nodes(
    on_cluster: tuple[LivecartSettings, dict[str, Any]],
) -> None:
    _, report = on_cluster
    print("seconds per stage on the cluster:", report["seconds"])  # shown with -s
    nodes, driver = report["nodes"], report["driver_node"]
    assert len(nodes) == 3 and nodes[driver] == 0.0
    assert sorted(cpus for node, cpus in nodes.items() if node != driver) == [1.0, 1.0]


def test_jobs_on_the_cluster__generate_embed_materialize__did_their_work(
    on_cluster: tuple[LivecartSettings, dict[str, Any]],
) -> None:
    _, report = on_cluster
    assert report["events"] > 0 and report["embedded"] > 0 and report["materialized"] > 0


def test_train__two_workers_on_the_cluster__loss_falls_and_model_registered(
    on_cluster: tuple[LivecartSettings, dict[str, Any]],
) -> None:
    settings, report = on_cluster
    losses = report["losses"]
    assert len(losses) == 2 and losses[-1] < losses[0], losses
    record, state = registry.load(settings, "product_ranker")
    assert record.version == 1 and record.metadata["feature_service"] == SERVICE
    assert record.config["match_dim"] == 0  # without text, no match of the viewer's words
    assert record.metadata["metrics"]["auc_click"] is not None
    assert record.metadata["oracle_auc_purchase"] > 0.5  # the planted truth ranks purchases
    assert state and report["examples_per_s"] > 0
    assert record.config["product_vocab"] and any(k.startswith("behaviour.") for k in state)
    # The run in MLflow: the config, one loss per epoch, and which registered version it made.
    client = MlflowClient(tracking_uri=tracking_uri(settings))
    experiment = client.get_experiment_by_name("livecart-train")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    curve = client.get_metric_history(run.info.run_id, "train_loss")
    assert [m.value for m in sorted(curve, key=lambda m: m.step)] == pytest.approx(losses)
    assert run.data.tags["registered_version"] == "1" and run.data.params["epochs"] == "2"


def test_ray_job_submit__working_dir__livecart_evaluate_models_ran_on_the_worker_nodes(
    on_cluster: tuple[LivecartSettings, dict[str, Any]],
) -> None:
    _, report = on_cluster
    job = report["job"]
    workers = {node for node, cpus in report["nodes"].items() if cpus > 0}
    assert job["succeeded"], job
    assert job["models"] == ["REP", "ItemCF"] and set(job["nodes"]) <= workers
