"""`livecart bench evaluate`: every evaluated model on an e-commerce-sized log, time and memory.

A seeded log of the size of a public e-commerce benchmark (by default 287,107 interactions of
31,013 users over 23,715 items: Zipf item popularity, a few favourite items per user, visits over
60 days) is written as an interactions file, ingested through ``livecart ingest interactions`` (so
it has no rooms or watch times) and evaluated model by model. The JSON gives each model's fit and
scoring seconds; the whole run's wall time and peak resident memory (this process and every
process it started: the models run as Ray tasks, :mod:`ray_jobs.evaluation.on_ray`), both against
the budget the evaluation must fit (15 minutes and 8 GiB on 2 cores) as ratios.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from livecart.core.settings import LivecartSettings

BUDGET_SECONDS: Final = 15 * 60
BUDGET_BYTES: Final = 8 * 2**30


def synthetic_log(path: Path, users: int, items: int, interactions: int, seed: int = 0) -> Path:
    """A CSV of ``user_id,item_id,timestamp`` with the given sizes (every user at least twice)."""
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.0, users)
    per_user = 2 + np.floor(activity / activity.sum() * (interactions - 2 * users)).astype(np.int64)
    per_user[: interactions - int(per_user.sum())] += 1
    user = np.repeat(np.arange(users), per_user)
    popularity = 1.0 / np.arange(1, items + 1) ** 1.05
    favourites = rng.choice(items, size=(users, 3), p=popularity / popularity.sum())
    repeat = rng.random(user.size) < 0.3
    item = np.where(
        repeat,
        favourites[user, rng.integers(0, 3, user.size)],
        rng.choice(items, size=user.size, p=popularity / popularity.sum()),
    )
    start = pd.Timestamp("2026-01-01", tz="UTC").value // 1000
    micros = start + rng.integers(0, 60 * 86_400 * 1_000_000, user.size)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in user],
            "item_id": [f"i{i}" for i in item],
            "timestamp": pd.to_datetime(micros, unit="us", utc=True).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            ),
        }
    )
    frame.to_csv(path, index=False)
    return path


def run(
    settings: LivecartSettings,
    users: int = 31_013,
    items: int = 23_715,
    interactions: int = 287_107,
    models: tuple[str, ...] | None = None,
    protocols: tuple[str, ...] = ("sampled", "full"),
    seed: int = 0,
    on_ray: bool = True,
) -> dict[str, Any]:
    from livecart.bench.tree_memory import TreeMemory
    from livecart.model.interaction_log import load_interactions
    from ray_jobs.evaluation.measure import DEFAULT_MODELS, EvaluationConfig
    from ray_jobs.evaluation.on_ray import evaluate_models
    from ray_jobs.evaluation.protocols import ProtocolName, leave_last_out
    from ray_jobs.ingest.interactions import InteractionsConfig
    from ray_jobs.ingest.interactions import run as ingest

    settings.home.mkdir(parents=True, exist_ok=True)
    with TreeMemory() as memory:
        began = time.perf_counter()
        path = synthetic_log(
            settings.home / "bench_interactions.csv", users, items, interactions, seed
        )
        ingested = ingest(
            InteractionsConfig(settings=settings, path=path, name="bench", progress=False)
        )
        data = load_interactions(settings.raw_dir, ("watch",))
        split = leave_last_out(data)
        config = EvaluationConfig(
            settings=settings,
            protocols=tuple(ProtocolName(p) for p in protocols),
            models=models or DEFAULT_MODELS,
            seed=seed,
            progress=False,
            on_ray=on_ray,
        )
        prepared = time.perf_counter() - began
        results = evaluate_models(split, config)
        total = time.perf_counter() - began
    rows: dict[str, Any] = {}
    for result in results:
        row = rows.setdefault(
            result.model,
            {
                "fit_s": round(result.fit_seconds, 1),
                "score_s": round(result.score_seconds, 1),
                "seconds": round(result.fit_seconds + result.score_seconds, 1),
                "on_ray_node": result.node is not None,
                "NDCG@10": {},
            },
        )
        row["NDCG@10"][result.protocol] = round(result.metrics["NDCG@10"], 4)
    return {
        "log": {
            "interactions": ingested.events,
            "users": data.n_users,
            "items": data.n_items,
            "targets": len(split.targets),
        },
        "protocols": list(protocols),
        "on_ray": on_ray,
        "prepare_s": round(prepared, 1),
        "models": rows,
        "sum_of_model_s": round(sum(r["seconds"] for r in rows.values()), 1),
        "total_s": round(total, 1),
        "peak_memory_gib": round(memory.peak_bytes / 2**30, 2),
        "peak_rss_sum_gib": round(memory.peak_rss_bytes / 2**30, 2),
        "memory_measured": "this process and every process it started (Ray's workers): summed "
        "PSS (shared pages split among their sharers); peak_rss_sum_gib counts them in each",
        "time_vs_budget": round(total / BUDGET_SECONDS, 3),
        "memory_vs_budget": round(memory.peak_bytes / BUDGET_BYTES, 3),
    }
