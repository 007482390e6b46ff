"""`livecart bench evaluate` on a small log: the sizes asked for, every model timed, as JSON."""

from __future__ import annotations

import json

from livecart.bench.evaluation_scale import run
from livecart.core.settings import LivecartSettings


def test_bench_evaluate__small_log__every_model_timed_within_budget(
    settings: LivecartSettings,
) -> None:
    result = run(
        settings,
        users=200,
        items=150,
        interactions=2_000,
        models=("pop", "rep", "itemcf"),
        on_ray=False,  # the Ray path of the same evaluate_models: tests/integration/test_eval_twitch
    )
    assert result["log"] == {
        "interactions": 2_000,
        "users": 200,
        "items": result["log"]["items"],
        "targets": 200,
    }
    assert 100 <= result["log"]["items"] <= 150
    assert set(result["models"]) == {"POP", "REP", "ItemCF"}
    for row in result["models"].values():
        assert row["seconds"] >= 0 and 0 <= row["NDCG@10"]["full"] <= 1
        assert row["on_ray_node"] is False and set(row["NDCG@10"]) == {"sampled", "full"}
    assert 0 < result["memory_vs_budget"] < 1 and 0 <= result["time_vs_budget"] < 1
    json.dumps(result)  # printable as is
