"""The demo report's figures: the ones it draws itself, and the project's own plots it shows.

:func:`draw_demo_plots` draws the ranker's training curves and the live session's latency and
freshness from the report dict into ``<reports_dir>/demo/``. :func:`project_plots` lists the
PNGs the project writes (those, the offline evaluation's and the replay's), each with a caption.
Only known folders are looked at: Great Expectations' Data Docs (``data_docs*``) carry their own
logo images, which are no plots of ours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEMO_DIR = "demo"
TRAINING_PNG = "training_curves.png"
SERVING_PNG = "serving_latency.png"
REPLAY_PNG = Path("replay") / "replay.png"
EVALUATION_DIR = "evaluation"
EVALUATION_KINDS = {
    "by_k": "HR@K and NDCG@K per model as K grows",
    "segments": "NDCG@10 per model by target segment (repeat/new, warm/cold users)",
}


@dataclass(frozen=True)
class Plot:
    """One figure on the page: where it is, what it shows, and the section it belongs to."""

    path: Path
    caption: str
    section: str
    """``training``, ``evaluation``, ``serving`` or ``replay``."""


def _number(value: Any) -> float | None:
    """A finite float, or None (missing, NaN or not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def draw_training_curves(
    history: list[dict[str, Any]], path: Path, oracle_auc: float | None = None
) -> Path | None:
    """Loss and validation AUC per epoch; None when the history has no epoch with a value."""
    epochs = [row for row in history if _number(row.get("epoch")) is not None]
    if not epochs:
        return None
    from matplotlib.figure import Figure  # object API: no pyplot, no global backend state

    figure = Figure(figsize=(10, 3.6), layout="constrained")
    loss_axis, auc_axis = figure.subplots(1, 2)
    panels = (
        (loss_axis, (("train_loss", "train loss"), ("valid_loss", "validation loss")), "loss"),
        (auc_axis, (("auc_click", "click AUC"), ("auc_purchase", "purchase AUC")), "AUC"),
    )
    for axis, series, label in panels:
        for key, name in series:
            points = [(_number(r["epoch"]), _number(r.get(key))) for r in epochs]
            kept = [(x, y) for x, y in points if x is not None and y is not None]
            if kept:
                axis.plot([x + 1 for x, _ in kept], [y for _, y in kept], "o-", label=name)
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.set_xticks([int(r["epoch"]) + 1 for r in epochs])
        axis.grid(alpha=0.3)
    oracle = _number(oracle_auc)
    if oracle is not None:
        auc_axis.axhline(oracle, color="gray", linestyle="--", label="oracle (purchase)")
    for axis in (loss_axis, auc_axis):
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=8)
    figure.suptitle("ranker training: loss and validation AUC per epoch")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    return path


def draw_serving(session: dict[str, Any], path: Path) -> Path | None:
    """p50/p99 request latency per endpoint and push-to-recommendation freshness."""
    bars: list[tuple[str, float | None, float | None]] = [
        (str(name), _number(stats.get("p50")), _number(stats.get("p99")))
        for name, stats in (session.get("latency_ms") or {}).items()
    ]
    fresh = session.get("freshness_ms") or {}
    freshness = (_number(fresh.get("p50")), _number(fresh.get("p99")))
    if not any(p50 is not None or p99 is not None for _, p50, p99 in bars) and freshness == (
        None,
        None,
    ):
        return None
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 3.6), layout="constrained")
    latency_axis, fresh_axis = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    width = 0.38
    for offset, (index, label, color) in enumerate(
        ((1, "p50", "tab:blue"), (2, "p99", "tab:orange"))
    ):
        xs = [i + (offset - 0.5) * width for i in range(len(bars))]
        latency_axis.bar(xs, [b[index] or 0.0 for b in bars], width, label=label, color=color)
        fresh_axis.bar([offset], [freshness[index - 1] or 0.0], 0.6, label=label, color=color)
    latency_axis.set_xticks(list(range(len(bars))))
    latency_axis.set_xticklabels([b[0] for b in bars], fontsize=8)
    latency_axis.set_ylabel("ms")
    latency_axis.set_title("request latency during the session", fontsize=10)
    latency_axis.legend(fontsize=8)
    fresh_axis.set_xticks([0, 1])
    fresh_axis.set_xticklabels(["p50", "p99"])
    fresh_axis.set_ylabel("ms")
    fresh_axis.set_title(f"push -> recommendation ({fresh.get('probes', 0)} probes)", fontsize=10)
    for axis in (latency_axis, fresh_axis):
        axis.grid(alpha=0.3, axis="y")
    figure.suptitle("live session over HTTP (Ray Serve)")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    return path


def draw_demo_plots(reports_dir: Path, report: dict[str, Any]) -> list[Path]:
    """Draw the figures the report dict has data for under ``<reports_dir>/demo``."""
    directory = reports_dir / DEMO_DIR
    drawn: list[Path | None] = []
    ranker = report.get("ranker") or {}
    if ranker.get("history"):
        oracle = _number(ranker.get("oracle_auc_purchase"))
        drawn.append(draw_training_curves(ranker["history"], directory / TRAINING_PNG, oracle))
    session = (report.get("serving") or {}).get("live_session")
    if session:
        drawn.append(draw_serving(session, directory / SERVING_PNG))
    return [p for p in drawn if p is not None]


def _evaluation_plot(path: Path) -> Plot | None:
    for kind, what in EVALUATION_KINDS.items():
        if path.stem.endswith(f"_{kind}"):
            protocol = path.stem.removesuffix(f"_{kind}")
            return Plot(path, f"offline evaluation, protocol {protocol}: {what}", "evaluation")
    return None


def project_plots(reports_dir: Path, report: dict[str, Any] | None = None) -> list[Plot]:
    """The project's own PNGs under ``reports_dir`` that exist, in page order, captioned.

    With a report whose evaluation names its plots (``outputs``), only those are shown (not
    another protocol's left from an earlier ``livecart evaluate`` in the same home).
    """
    demo = reports_dir / DEMO_DIR
    outputs = ((report or {}).get("evaluation") or {}).get("outputs") or {}
    named = {Path(p).name for p in outputs.values() if str(p).endswith(".png")}
    plots = [
        Plot(demo / TRAINING_PNG, "ranker training: loss and validation AUC per epoch", "training"),
        *(
            plot
            for path in sorted((reports_dir / EVALUATION_DIR).glob("*.png"))
            if (not named or path.name in named) and (plot := _evaluation_plot(path)) is not None
        ),
        Plot(
            demo / SERVING_PNG,
            "live session: p50/p99 request latency per endpoint and push-to-recommendation "
            "freshness",
            "serving",
        ),
        Plot(
            reports_dir / REPLAY_PNG,
            "replay: cumulative clicks and GMV, feedback vs frozen ranker (mean, min-max over "
            "seeds)",
            "replay",
        ),
    ]
    return [p for p in plots if p.path.is_file() and not _in_data_docs(p.path, reports_dir)]


def _in_data_docs(path: Path, reports_dir: Path) -> bool:
    return any(part.startswith("data_docs") for part in path.relative_to(reports_dir).parts)
