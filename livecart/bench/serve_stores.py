"""``livecart bench serve --online-store redis``: one world served from livecart's store, then
from Feast's Redis store, in one run, with the ratios between the two.

The first half is the plain serving benchmark (:func:`livecart.bench.serve.run`, the floor
interleaved). Then a throwaway ``redis-server`` starts on a free localhost port, the feature repo
is copied with its online store swapped for Redis (what README's "Swapping the online store"
shows), the world is materialized into it by Feast (every view's whole window), and the same
benchmark runs again on it. Ratios: Redis / livecart's store, throughput per concurrency level.

On Redis, Feast serves rows past their view's TTL (livecart's store, with ``enforce_ttl``, does
not): the same requests can find more features there. The JSON says so beside the figures.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from livecart.bench import serve as serve_bench
from livecart.bench.redis_server import local_redis, redis_feature_repo
from livecart.core.settings import LivecartSettings
from livecart.features.feast_store import apply

RATIO_TARGET = 0.5
"""Redis throughput against livecart's store, at every level (issue: "outgrow one machine")."""


def run(
    settings: LivecartSettings,
    levels: tuple[int, ...],
    duration_s: float,
    freshness_samples: int,
    active_viewers: bool = False,
) -> dict[str, Any]:
    """The serving benchmark on livecart's store and on Redis; the JSON report of both."""
    from ray_jobs.materialize import materialize

    def bench(on: LivecartSettings) -> dict[str, Any]:
        return serve_bench.run(
            on,
            levels=levels,
            duration_s=duration_s,
            freshness_samples=freshness_samples,
            active_viewers=active_viewers,
        )

    duckdb = bench(settings)
    with local_redis() as address, tempfile.TemporaryDirectory(prefix="livecart-redis-") as tmp:
        on_redis = settings.model_copy(
            update={"feature_repo": redis_feature_repo(Path(tmp) / "feature_repo", address)}
        )
        on_redis.export_env()
        apply(on_redis)
        loaded = materialize(on_redis, repair=True)  # every view's whole window, by Feast
        redis = bench(on_redis)
    settings.export_env()
    ratios = {
        level: round(
            redis["livecart"][level]["throughput_rps"]
            / max(duckdb["livecart"][level]["throughput_rps"], 1e-9),
            3,
        )
        for level in duckdb["livecart"]
    }
    errors = sum(v["errors"] for v in redis["livecart"].values())
    freshness = redis["freshness"]["sent_to_visible_p99_ms"]
    return {
        "method": "the serving benchmark on livecart's DuckDB store, then on Feast's Redis store "
        "(redis-server on localhost, the world materialized by Feast); Feast serves rows past "
        "their TTL on Redis, livecart's store does not",
        "redis_materialize_s": round(loaded.seconds, 1),
        "throughput_ratio_redis_vs_duckdb": ratios,
        "targets": {
            f"throughput_ratio_ge_{RATIO_TARGET}_every_level": all(
                r >= RATIO_TARGET for r in ratios.values()
            ),
            "zero_errors_on_redis": errors == 0,
            "freshness_p99_le_1s_on_redis": freshness is not None and freshness <= 1000.0,
        },
        "duckdb": duckdb,
        "redis": redis,
    }
