"""`livecart bench scale`: every pipeline stage at growing world sizes, time and peak memory.

For each scale (``tiny`` .. ``large``, :data:`livecart.simulation.world.config.SCALES`) a fresh
home under ``root/<scale>`` goes through generate, validate, features, embed, apply, materialize
and train (Ray Train, one epoch), each stage timed and its peak memory measured over the whole
process tree, Ray's workers included (:class:`livecart.bench.tree_memory.TreeMemory`: summed PSS).
Between consecutive scales each stage's *growth* is its time ratio over the events ratio: at most
1 means it grew no worse than linearly. The JSON goes to stdout and a PNG (seconds and memory
against events, per stage, log-log) beside it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from livecart.core.settings import LivecartSettings

STAGES: Final[tuple[str, ...]] = (
    "generate",
    "validate",
    "features",
    "embed",
    "apply",
    "materialize",
    "train",
)
BUDGET_BYTES: Final = 16 * 2**30
"""The issue's ceiling for the large world's peak memory."""


def _stages(
    settings: LivecartSettings, scale: str, epochs: int, use_ray: bool
) -> dict[str, Callable[[], Any]]:
    """Each stage as the CLI runs it; a stage imports its job when it runs (Feast, GX, torch
    and Ray Train take seconds to import, so a measured stage never pays for another's)."""

    def generate() -> Any:
        from livecart.simulation.generate import run
        from livecart.simulation.world.config import world_config

        return run(world_config(scale), settings, use_ray=use_ray)  # type: ignore[arg-type]

    def validate() -> Any:
        from validation.run import run

        return run(settings)

    def features() -> Any:
        from ray_jobs.features import run

        return run(settings)

    def embed() -> Any:
        from ray_jobs.embed import run

        return run(settings)

    def apply() -> Any:
        from livecart.features.feast_store import apply

        return apply(settings)

    def materialize() -> Any:
        from ray_jobs.materialize import materialize

        return materialize(settings, start=datetime(2000, 1, 1, tzinfo=UTC), use_ray=use_ray)

    def train() -> Any:
        from ray_jobs.train import TrainConfig, run

        return run(settings, TrainConfig(epochs=epochs, num_workers=2))

    jobs = (generate, validate, features, embed, apply, materialize, train)
    return {job.__name__: job for job in jobs}


def measure_scale(
    settings: LivecartSettings,
    scale: str,
    stages: tuple[str, ...] = STAGES,
    epochs: int = 1,
    report: Callable[[str], None] = lambda line: None,
    use_ray: bool = True,
) -> dict[str, Any]:
    """Run ``stages`` of one scale in ``settings``' home: seconds and peak memory per stage
    (``use_ray`` False: generate and materialize in this process; train always runs on Ray)."""
    from livecart.bench.tree_memory import TreeMemory

    jobs = _stages(settings, scale, epochs, use_ray)
    unknown = [s for s in stages if s not in jobs]
    if unknown:
        raise ValueError(f"unknown stages {unknown}: choose from {', '.join(STAGES)}")
    row: dict[str, Any] = {"stages": {}}
    for stage in stages:
        with TreeMemory() as memory:
            began = time.perf_counter()
            result = jobs[stage]()
            seconds = time.perf_counter() - began
        if stage == "generate":
            row["events"] = int(result.events)
        row["stages"][stage] = {
            "seconds": round(seconds, 2),
            "peak_memory_gib": round(memory.peak_bytes / 2**30, 3),
        }
        report(f"{scale} {stage}: {seconds:.1f} s, {memory.peak_bytes / 2**30:.2f} GiB")
    row["seconds"] = round(sum(s["seconds"] for s in row["stages"].values()), 2)
    row["peak_memory_gib"] = max(s["peak_memory_gib"] for s in row["stages"].values())
    return row


def growth(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per pair of consecutive scales and per stage: (time ratio) / (events ratio)."""
    scales = [s for s, r in rows.items() if r.get("events")]
    out: dict[str, dict[str, float]] = {}
    for small, big in itertools.pairwise(scales):
        events = rows[big]["events"] / rows[small]["events"]
        out[f"{small}->{big}"] = {
            stage: round(
                rows[big]["stages"][stage]["seconds"]
                / max(rows[small]["stages"][stage]["seconds"], 1e-3)
                / events,
                3,
            )
            for stage in rows[big]["stages"]
            if stage in rows[small]["stages"]
        }
    return out


def plot(rows: dict[str, dict[str, Any]], path: Path) -> Path:
    """Seconds and peak memory against events, one line per stage, log-log."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4))
    seconds_axis, memory_axis = figure.subplots(1, 2)
    scales = [s for s, r in rows.items() if r.get("events")]
    events = [rows[s]["events"] for s in scales]
    for stage in STAGES:
        if not all(stage in rows[s]["stages"] for s in scales):
            continue
        for axis, key in ((seconds_axis, "seconds"), (memory_axis, "peak_memory_gib")):
            axis.plot(events, [rows[s]["stages"][stage][key] for s in scales], "o-", label=stage)
    for axis, label in ((seconds_axis, "seconds"), (memory_axis, "peak memory (GiB, PSS)")):
        if not events:  # without the generate stage the world's size is unknown: nothing to draw
            axis.text(0.5, 0.5, "no world size (run the generate stage)", ha="center")
            continue
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("events in the world")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3, which="both")
    memory_axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    figure.suptitle(f"livecart pipeline by world size ({', '.join(scales)})")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return path


def run(
    root: Path,
    scales: tuple[str, ...],
    stages: tuple[str, ...] = STAGES,
    epochs: int = 1,
    report: Callable[[str], None] = lambda line: None,
    use_ray: bool = True,
) -> dict[str, Any]:
    """Every scale in a fresh home under ``root``; the JSON of the benchmark."""
    rows: dict[str, dict[str, Any]] = {}
    for scale in scales:
        settings = LivecartSettings(home=root / scale)
        rows[scale] = measure_scale(settings, scale, stages, epochs, report, use_ray)
    picture = plot(rows, root / "scale.png")
    peak = max((r["peak_memory_gib"] for r in rows.values()), default=0.0)
    return {
        "scales": rows,
        "growth_time_over_events": growth(rows),
        "peak_memory_gib": peak,
        "memory_vs_budget": round(peak * 2**30 / BUDGET_BYTES, 3),
        "memory_measured": "summed PSS of this process and every process it started",
        "epochs": epochs,
        "png": str(picture),
    }
