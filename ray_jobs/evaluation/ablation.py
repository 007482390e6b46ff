"""`livecart evaluate --ablate text`: does the language model earn its place?

The product ranker is trained on Ray Train on the home's data with its text inputs (item text
embedding, graph-smoothed text vector, and what the viewer says they shop for matched to the
item's text), with them plus the viewer's text interest (the mean text vector of the recent
products against the candidate's: their cosine and element-wise product), with the item's text
only, and without text; optionally once more after fine-tuning the text encoder on Ray Train (its
last layer or all of it). Every run trains on the same examples (built once) and is measured on
the same validation rows (the latest impressions by time), beside the planted-preference oracle
where the world has one. Written as ``ablation_text.json``, ``.md`` and ``.png`` beside the
evaluation report. Versions trained here are registered but never promoted.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from livecart.core.contract import Table
from livecart.core.errors import StageError
from livecart.core.io import source_exists
from livecart.core.settings import LivecartSettings


@dataclass
class AblationRow:
    inputs: str
    version: int
    auc_purchase: float
    auc_click: float


@dataclass
class TextAblation:
    dataset: str
    epochs: int
    rows: list[AblationRow] = field(default_factory=list)
    oracle_auc_purchase: float | None = None

    def gain(self) -> float:
        """The best text row's purchase AUC over the row without text."""
        without = next(r.auc_purchase for r in self.rows if r.inputs == "without text")
        return max(r.auc_purchase for r in self.rows if r.inputs != "without text") - without

    def to_markdown(self) -> str:
        lines = [
            f"## Text ablation ({self.dataset}, product ranker, {self.epochs} epochs, Ray Train)",
            "",
            "| inputs | purchase AUC | click AUC | model version |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r.inputs} | {r.auc_purchase:.4f} | {r.auc_click:.4f} | v{r.version} |"
            for r in self.rows
        ]
        if self.oracle_auc_purchase is not None:
            lines.append(f"| planted-preference oracle | {self.oracle_auc_purchase:.4f} | | |")
        lines += [
            "",
            f"The best text inputs add {self.gain():+.4f} purchase AUC on the same validation rows.",
        ]
        if self.oracle_auc_purchase is not None:
            best = max(r.auc_purchase for r in self.rows)
            lines.append(
                f"The best row is {self.oracle_auc_purchase - best:.4f} purchase AUC below the "
                "planted-preference oracle."
            )
        return "\n".join(lines) + "\n"

    def write(self, directory: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ablation_text.json").write_text(json.dumps(asdict(self), indent=2) + "\n")
        (directory / "ablation_text.md").write_text(self.to_markdown())
        labels = [r.inputs for r in self.rows]
        values = [r.auc_purchase for r in self.rows]
        if self.oracle_auc_purchase is not None:
            labels.append("oracle")
            values.append(self.oracle_auc_purchase)
        fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(values)))
        colours = ["#4c72b0", "#dd8452", "#937860", "#55a868", "#8c8c8c", "#c44e52"]
        bars = ax.barh(
            [textwrap.fill(label, 28) for label in labels], values, color=colours[: len(values)]
        )
        ax.bar_label(bars, fmt="%.3f", padding=2)
        ax.invert_yaxis()  # the table's order, top to bottom
        ax.set_xlim(max(0.0, min(values) - 0.05), min(1.0, max(values) + 0.03))
        ax.set_xlabel("purchase AUC (validation)")
        ax.set_title(f"Text ablation: {self.dataset}")
        fig.tight_layout()
        fig.savefig(directory / "ablation_text.png", dpi=120)
        plt.close(fig)


def _row(inputs: str, result: Any) -> AblationRow:
    metrics = result.record.metadata.get("metrics") or {}
    return AblationRow(
        inputs,
        result.record.version,
        float(metrics.get("auc_purchase") or float("nan")),
        float(metrics.get("auc_click") or float("nan")),
    )


def text_ablation(
    settings: LivecartSettings,
    dataset: str,
    epochs: int = 6,
    workers: int = 2,
    finetune: Literal["none", "last", "full"] = "none",
    reference: Any = None,
) -> TextAblation:
    """Train with and without text (and after fine-tuning the encoder); measure each."""
    from livecart.core.staging import staging_dir
    from livecart.model import registry
    from ray_jobs.train import TrainConfig, run
    from ray_jobs.training.staged import stage_examples

    if not source_exists(settings.clean_dir, Table.PRODUCTS):
        raise StageError(
            "evaluate",
            f"the {dataset} world has no products with texts: the text ablation needs them",
            "generate a world (`livecart generate`) or bring a catalogue with titles and "
            "descriptions, then run validate, features, embed, apply and materialize",
        )
    serving = registry.serving_version(settings, "product_ranker")
    report = TextAblation(dataset, epochs)
    runs = (
        ("with text", {"with_text": True}),
        ("with text and the viewer's text interest", {"with_text": True, "with_interest": True}),
        ("with the item's text only (not the viewer's words)", {"with_viewer_text": False}),
        ("without text", {"with_text": False}),
    )
    with staging_dir(settings.home, "ablation") as directory:
        staged = stage_examples(settings, directory)  # the same rows for every run
        for inputs, options in runs:
            trained = run(
                settings,
                TrainConfig(epochs=epochs, num_workers=workers, **options),
                reference=reference,
                staged=staged,
            )
            report.rows.append(_row(inputs, trained))
            report.oracle_auc_purchase = trained.record.metadata.get("oracle_auc_purchase")
    if finetune != "none":
        from ray_jobs.finetune_encoder import FinetuneConfig, refresh_embeddings
        from ray_jobs.finetune_encoder import run as tune

        tuned = tune(settings, FinetuneConfig(layers=finetune, num_workers=workers))
        tuned_settings = refresh_embeddings(settings, tuned.encoder_dir)
        trained = run(
            tuned_settings, TrainConfig(epochs=epochs, num_workers=workers), reference=reference
        )
        report.rows.append(_row(f"with text, encoder fine-tuned ({finetune})", trained))
    if serving is not None:
        registry.promote(settings, "product_ranker", serving)  # what served keeps serving
    return report
