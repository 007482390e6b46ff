"""Reference figures of shared/data/README.md reproduced through the contract: POP, REP, live-now.

The real Twitch log is ingested with the adapter, read back with ``load_interactions`` and split
leave-last-out; POP and REP must match the README within 0.005. The learned models only get a
smoke run with tiny budgets (their measured figures live in docs/evaluation.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import ray

from livecart.core.settings import LivecartSettings
from livecart.model.interaction_log import load_interactions
from ray_jobs.evaluation import metrics as m
from ray_jobs.evaluation.base import Recommender
from ray_jobs.evaluation.baselines import Popularity, Repeat
from ray_jobs.evaluation.protocols import Split, leave_last_out, live_now
from ray_jobs.evaluation.runner import EvaluationConfig, run
from ray_jobs.ingest.twitch import DEFAULT_TWITCH_PATH, TwitchConfig
from ray_jobs.ingest.twitch import run as ingest_twitch

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not DEFAULT_TWITCH_PATH.is_file(),
        reason=f"shared Twitch log not present at {DEFAULT_TWITCH_PATH}",
    ),
]

TOLERANCE = 0.005
README = {
    "POP": {"HR@1": 0.018, "HR@10": 0.114, "NDCG@10": 0.059, "MRR": 0.053},
    "REP": {"HR@1": 0.198, "HR@10": 0.695, "NDCG@10": 0.423, "MRR": 0.348},
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> LivecartSettings:
    settings = LivecartSettings(home=tmp_path_factory.mktemp("twitch_eval"))
    ingest_twitch(TwitchConfig(settings=settings, progress=False))
    return settings


@pytest.fixture(scope="module")
def split(settings: LivecartSettings) -> Split:
    return leave_last_out(load_interactions(settings.raw_dir))


def _measure(model: Recommender, split: Split, mask: np.ndarray | None = None) -> dict[str, float]:
    model.fit(split.train)
    scores = model.score(split.targets.users, split.targets.times)
    counts = m.rank_counts(scores, split.targets.items, mask)
    return {
        "HR@1": float(m.hit_rate(counts, 1).mean()),
        "HR@10": float(m.hit_rate(counts, 10).mean()),
        "NDCG@10": float(m.ndcg(counts, 10).mean()),
        "MRR": float(m.reciprocal_rank(counts).mean()),
    }


def test_twitch_split__readme_shape(split: Split) -> None:
    assert (split.observed.n_users, split.observed.n_items, len(split.observed)) == (
        2_000,
        1_742,
        105_745,
    )
    assert len(split.targets) == 2_000
    assert split.targets.repeat.mean() == pytest.approx(0.81, abs=0.01)


@pytest.mark.parametrize("model", [Popularity, Repeat], ids=["POP", "REP"])
def test_twitch_full_ranking__reproduces_readme(split: Split, model: type[Recommender]) -> None:
    fitted = model()
    measured = _measure(fitted, split)
    for metric, expected in README[fitted.name].items():
        assert measured[metric] == pytest.approx(expected, abs=TOLERANCE), metric


def test_twitch_live_now__rep_reproduces_readme_hit_rate(split: Split) -> None:
    mask = live_now(split, window=6)
    assert np.median(mask.sum(axis=1)) == 94
    measured = _measure(Repeat(), split, mask)
    assert measured["HR@10"] == pytest.approx(0.842, abs=TOLERANCE)


def test_twitch_runner__quick_models_as_ray_tasks__report_written(
    settings: LivecartSettings, tmp_path: Path, local_ray: None
) -> None:
    config = EvaluationConfig(
        settings=settings,
        dataset="twitch",
        models=("rep", "pop", "bpr", "sasrec", "livecart"),
        quick=True,
        progress=False,
        output_dir=tmp_path,
    )
    report = run(config)
    assert (tmp_path / "report.md").is_file() and (tmp_path / "full_by_k.png").is_file()
    # Every model ran as a Ray task (on a node of the cluster), results in the order asked for.
    nodes = {node["NodeID"] for node in ray.nodes()}
    assert all(r.node in nodes for r in report.results)
    assert [r.model for r in report.results if r.protocol == "full"] == [
        "REP",
        "POP",
        "BPR-MF",
        "SASRec",
        "livecart",
    ]
    full = {r.model: r.metrics for r in report.results if r.protocol == "full"}
    assert full["REP"]["NDCG@10"] == pytest.approx(README["REP"]["NDCG@10"], abs=TOLERANCE)
    for name in ("BPR-MF", "SASRec", "livecart"):
        assert 0.0 < full[name]["NDCG@10"] <= full[name]["HR@10"] <= 1.0
    # The same models in this process measure the same (the deterministic ones exactly).
    here = run(config.model_copy(update={"on_ray": False, "models": ("rep", "pop")}))
    assert all(r.node is None for r in here.results)
    for ours, theirs in zip(here.results, report.results[: len(here.results)], strict=True):
        assert (ours.model, ours.protocol, ours.metrics) == (
            theirs.model,
            theirs.protocol,
            theirs.metrics,
        )
