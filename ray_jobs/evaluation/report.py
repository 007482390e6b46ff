"""Evaluation results and their three renderings: a Markdown table, JSON, and PNG plots.

Plots use matplotlib's object API (``Figure``), never ``pyplot``, so writing them touches no
global state and needs no display.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

SEGMENTS: tuple[str, ...] = ("repeat", "new", "warm", "cold")
SEGMENT_METRICS: tuple[str, ...] = ("HR@10", "NDCG@10", "MRR")


@dataclass(frozen=True)
class ModelResult:
    """One model under one protocol: overall metrics, per-segment metrics and timings."""

    model: str
    protocol: str
    metrics: dict[str, float]
    segments: dict[str, dict[str, float]]
    """Segment name -> metric -> value; every segment also carries ``n`` (its target count)."""
    fit_seconds: float
    score_seconds: float
    signals: dict[str, list[str]] | None = None
    """The model's ``informative`` and ``constant`` input signals, where it reports them."""
    node: str | None = None
    """The Ray node that fitted and scored it (None: the driver's process, without Ray)."""


@dataclass
class EvaluationReport:
    """Everything one evaluation run measured, plus where it was written."""

    dataset: str
    directory: str
    interactions: int
    users: int
    items: int
    targets: int
    repeat_share: float
    live_target_share: float
    live_candidates_median: float
    ks: list[int]
    seed: int
    seconds: float
    results: list[ModelResult] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN becomes null)."""
        result: dict[str, Any] = _clean(asdict(self))
        return result

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def metric_names(self) -> list[str]:
        # NDCG@1 equals HR@1 with one relevant item, so it is not repeated.
        names = [f"HR@{k}" for k in self.ks] + [f"NDCG@{k}" for k in self.ks if k > 1]
        return [*names, "MRR", "AUC", "Coverage@10"]

    def to_markdown(self) -> str:
        """Per-protocol tables of overall metrics, then a per-segment table."""
        lines = [
            f"# Offline evaluation: {self.dataset}",
            "",
            f"{self.interactions:,} interactions, {self.users:,} users, {self.items:,} items, "
            f"{self.targets:,} leave-last-out targets; {self.repeat_share:.1%} of targets are "
            f"repeats; {self.live_target_share:.1%} of targets are live by other users' rows "
            f"(median {self.live_candidates_median:g} live-now candidates). "
            f"Seed {self.seed}, {self.seconds:.0f} s.",
        ]
        names = self.metric_names()
        for protocol in dict.fromkeys(r.protocol for r in self.results):
            lines += ["", f"## Protocol `{protocol}`", ""]
            lines.append("| model | " + " | ".join(names) + " | fit s | score s |")
            lines.append("|---" * (len(names) + 3) + "|")
            for r in (r for r in self.results if r.protocol == protocol):
                values = " | ".join(_fmt(r.metrics.get(n)) for n in names)
                lines.append(
                    f"| {r.model} | {values} | {r.fit_seconds:.1f} | {r.score_seconds:.1f} |"
                )
        reported = {r.model: r.signals for r in self.results if r.signals is not None}
        if reported:
            lines += ["", "## Signals the data carried (room ranker features)", ""]
            for model, signals in reported.items():
                constant = ", ".join(signals["constant"]) or "none"
                lines.append(
                    f"- {model}: {len(signals['informative'])} informative; constant over its "
                    f"training candidates, so never read: {constant}"
                )
        lines += ["", "## Segments (NDCG@10; n targets in brackets)", ""]
        lines.append("| protocol | model | " + " | ".join(SEGMENTS) + " |")
        lines.append("|---" * (len(SEGMENTS) + 2) + "|")
        for r in self.results:
            cells = [
                f"{_fmt(r.segments[s].get('NDCG@10'))} ({int(r.segments[s]['n'])})"
                for s in SEGMENTS
            ]
            lines.append(f"| {r.protocol} | {r.model} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def write(self, directory: Path) -> dict[str, str]:
        """Write ``report.md``, ``report.json`` and the plots under ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        paths: dict[str, str] = {}
        for protocol in dict.fromkeys(r.protocol for r in self.results):
            for kind, draw in (("by_k", _plot_by_k), ("segments", _plot_segments)):
                path = directory / f"{protocol}_{kind}.png"
                draw(self, protocol).savefig(path, dpi=110, bbox_inches="tight")
                paths[f"{protocol}_{kind}"] = str(path)
        paths["markdown"] = str(directory / "report.md")
        paths["json"] = str(directory / "report.json")
        self.outputs = paths
        (directory / "report.md").write_text(self.to_markdown(), encoding="utf-8")
        (directory / "report.json").write_text(self.to_json() + "\n", encoding="utf-8")
        return paths


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.3f}"


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _plot_by_k(report: EvaluationReport, protocol: str) -> Figure:
    figure = Figure(figsize=(10, 4))
    for axis, metric in zip(figure.subplots(1, 2), ("HR", "NDCG"), strict=True):
        for r in (r for r in report.results if r.protocol == protocol):
            axis.plot(
                report.ks, [r.metrics[f"{metric}@{k}"] for k in report.ks], "o-", label=r.model
            )
        axis.set_xlabel("K")
        axis.set_ylabel(f"{metric}@K")
        axis.set_xticks(report.ks)
        axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    figure.suptitle(f"{report.dataset}: {protocol} ranking, metric vs K")
    return figure


def _plot_segments(report: EvaluationReport, protocol: str) -> Figure:
    results = [r for r in report.results if r.protocol == protocol]
    figure = Figure(figsize=(10, 4))
    pairs = (("repeat", "new"), ("warm", "cold"))
    width = 0.8 / max(len(results), 1)
    for axis, pair in zip(figure.subplots(1, 2), pairs, strict=True):
        for m, r in enumerate(results):
            values = [r.segments[s].get("NDCG@10", math.nan) for s in pair]
            axis.bar([p + m * width for p in range(len(pair))], values, width, label=r.model)
        counts = [int(results[0].segments[s]["n"]) if results else 0 for s in pair]
        axis.set_xticks([p + 0.4 - width / 2 for p in range(len(pair))])
        axis.set_xticklabels([f"{s} (n={n})" for s, n in zip(pair, counts, strict=True)])
        axis.set_ylabel("NDCG@10")
        axis.grid(alpha=0.3, axis="y")
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    figure.suptitle(f"{report.dataset}: {protocol} ranking by target segment")
    return figure
