"""`livecart bench pipeline`: the viewer pipeline in one process, stage by stage.

On the world in ``settings.home`` (the issue's reference is the medium world), with rooms live
until requests carry about 500 candidates, it runs the same requests through
``ViewerPipeline.recommend`` twice: reading candidate features as columns straight from the online
store (what serving does) and, as the baseline, through an Arrow table and a pandas frame
(``livecart.features.reader.frame_columns``, the path any other Feast online store takes). Stage times come
from each response's ``timings_ms``. No HTTP, no Ray Serve: this is the CPU cost a replica adds
to the floor's (``livecart bench serve`` measures the whole thing).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from tqdm import tqdm

from livecart.core.settings import LivecartSettings

STAGES = ("retrieve", "features", "inputs", "rank", "rules_explain")


def _sweep(pipeline: Any, requests: list[Any], live: dict[str, int], label: str) -> dict[str, Any]:
    for request in requests[:20]:  # warm caches
        pipeline.recommend(request, live)
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    totals: list[float] = []
    for request in tqdm(requests, desc=label, leave=False):
        began = time.perf_counter()
        response = pipeline.recommend(request, live)
        totals.append((time.perf_counter() - began) * 1000)
        for stage in STAGES:
            stages[stage].append(float(response.timings_ms.get(stage, 0.0)))

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "p50_ms": round(float(np.percentile(values, 50)), 3),
            "p99_ms": round(float(np.percentile(values, 99)), 3),
        }

    return {"total": summary(totals), **{s: summary(v) for s, v in stages.items()}}


def run(settings: LivecartSettings, requests: int = 200) -> dict[str, Any]:
    """Columnar reads vs the frame path, same requests, same process; ratio = columnar / frame."""
    from functools import partial

    from livecart.bench.serve import _world
    from livecart.features.reader import frame_columns
    from serving.schemas import ViewerRequest
    from serving.service import ServingCore

    known, rooms = _world(settings, requests)
    core = ServingCore(settings, seed=0)
    live = {room: 1 for room, _, _ in rooms}
    batch = [ViewerRequest(viewer_id=v, k=10) for v in known]
    candidates = [len(core.pipeline.prepare(r, live).candidates.products) for r in batch[:20]]
    core.pipeline.read_columns = partial(frame_columns, core.reader)
    frame = _sweep(core.pipeline, batch, live, "frame path")
    core.pipeline.read_columns = core.reader.columns
    columnar = _sweep(core.pipeline, batch, live, "columnar")
    return {
        "world": {"home": str(settings.home), "viewers": len(known), "live_rooms": len(live)},
        "candidates_per_request": float(np.mean(candidates)),
        "requests": len(batch),
        "columnar": columnar,
        "frame_path": frame,
        "ratio_total_p50": round(columnar["total"]["p50_ms"] / frame["total"]["p50_ms"], 3),
        "ratio_features_p50": round(
            (columnar["features"]["p50_ms"] + columnar["inputs"]["p50_ms"])
            / (frame["features"]["p50_ms"] + frame["inputs"]["p50_ms"]),
            3,
        ),
    }
