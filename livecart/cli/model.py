"""Pipeline stage 3, model: `train` and `evaluate` rankers, `model` versions, `refresh` on drift."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import typer
from rich.table import Table as RichTable

from livecart.cli.choices import EncoderFinetune, EvalModel, Protocol, RankerKind
from livecart.cli.support import (
    JsonOption,
    console,
    friendly_errors,
    jsonable,
    print_json,
    settings,
    stdout_to_stderr,
)

# livecart.model.registry.DEFAULT_RANKER, without importing the registry (and torch) for --help.
DEFAULT_RANKER = "product_ranker"
TRAIN_COLUMNS = (
    "epoch",
    "train_loss",
    "valid_loss",
    "auc_click",
    "auc_purchase",
    "examples_per_s_per_worker",
)

model_app = typer.Typer(
    help="Model versions: list, promote, roll back (replicas follow).", no_args_is_help=True
)
ModelName = Annotated[str, typer.Option("--name", help="The registered model.")]


@friendly_errors
def train(
    ranker: Annotated[
        RankerKind,
        typer.Option(
            help="products: the fusion ranker (product lists). rooms: the room ranker (room "
            "lists; repeat, recency, availability and similarity signals, listwise loss)."
        ),
    ] = RankerKind.PRODUCTS,
    epochs: Annotated[
        int | None, typer.Option(help="Training epochs (default: products 4, rooms 8).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Ray Train workers.")] = 2,
    text: Annotated[
        bool,
        typer.Option(
            help="Text-derived inputs (item text embedding, graph-smoothed vector, what the "
            "viewer says they shop for matched to the item's text)."
        ),
    ] = True,
    viewer_text: Annotated[
        bool,
        typer.Option(
            help="With text: match what the viewer says they shop for (the `shopping_for` "
            "column, embedded by `livecart embed`) to the candidate's text."
        ),
    ] = True,
    behaviour: Annotated[
        bool, typer.Option(help="The SASRec-style behaviour encoder over the recent products.")
    ] = False,
    interest: Annotated[
        bool,
        typer.Option(
            help="The viewer's text interest (mean text vector of the recent products) against "
            "the candidate's text (needs text; scored by torch, not the folded numpy path)."
        ),
    ] = False,
    limit: Annotated[int | None, typer.Option(help="Use at most this many impressions.")] = None,
    resume_from: Annotated[
        Path | None, typer.Option(help="Checkpoint directory to resume.")
    ] = None,
    finetune_encoder: Annotated[
        EncoderFinetune,
        typer.Option(help="Fine-tune the text encoder first (Ray Train): its last layer or all."),
    ] = EncoderFinetune.NONE,
    holdout: Annotated[
        str,
        typer.Option(help="rooms: 'last' holds out each viewer's latest visit, 'none' uses all."),
    ] = "last",
    seed: Annotated[int, typer.Option(help="rooms: seed of queries and weights.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Train a ranker on Ray Train and register it (prints validation metrics)."""
    if ranker is RankerKind.ROOMS:
        _train_rooms(epochs or 8, workers, holdout, seed, json_out)
        return
    from livecart.simulation.oracle import oracle_reference
    from ray_jobs.train import TrainConfig, run

    current = settings()
    encoder: dict[str, Any] | None = None
    if finetune_encoder is not EncoderFinetune.NONE:
        from ray_jobs.finetune_encoder import FinetuneConfig, refresh_embeddings
        from ray_jobs.finetune_encoder import run as finetune

        layers = cast(Literal["last", "full"], finetune_encoder.value)
        with stdout_to_stderr(json_out):
            tuned = finetune(current, FinetuneConfig(layers=layers, num_workers=workers))
        console.print(f"encoder fine-tuned ({tuned.pairs:,} pairs, loss per epoch {tuned.losses})")
        with stdout_to_stderr(json_out):
            current = refresh_embeddings(current, tuned.encoder_dir)
        console.print(
            f"item embeddings re-computed; keep using it: LIVECART_ENCODER_PATH={tuned.encoder_dir}"
        )
        encoder = {"encoder_dir": tuned.encoder_dir, "pairs": tuned.pairs, "losses": tuned.losses}

    cfg = TrainConfig(
        epochs=epochs or 4,
        num_workers=workers,
        with_text=text,
        with_behaviour=behaviour,
        with_interest=interest,
        with_viewer_text=viewer_text,
        limit=limit,
        resume_from=resume_from,
    )
    with stdout_to_stderr(json_out):
        result = run(current, cfg, reference=oracle_reference(current))
    oracle = result.record.metadata.get("oracle_auc_purchase")
    if json_out:
        print_json(
            {
                "name": result.record.name,
                "version": result.record.version,
                "path": result.record.path,
                "examples": result.examples,
                "examples_per_s": result.examples_per_s,
                "history": result.history,
                "metrics": result.record.metadata.get("metrics"),
                "oracle_auc_purchase": oracle,
                "finetuned_encoder": encoder,
            }
        )
        return
    table = RichTable(
        title=f"{result.record.name} v{result.record.version} ({result.examples:,} examples)"
    )
    for column in TRAIN_COLUMNS:
        table.add_column(column, justify="right")
    for row in result.history:
        table.add_row(*(f"{row.get(k, float('nan')):.4g}" for k in TRAIN_COLUMNS))
    console.print(table)
    if oracle is not None:
        console.print(
            f"planted-preference oracle AUC (purchase) on the same validation rows: {oracle:.4f}"
        )
    console.print(f"registered at {result.record.path}")


def _train_rooms(epochs: int, workers: int, holdout: str, seed: int, json_out: bool) -> None:
    from ray_jobs.train_rooms import RoomTrainConfig, run

    cfg = RoomTrainConfig(epochs=epochs, num_workers=workers, holdout=holdout, seed=seed)
    with stdout_to_stderr(json_out):
        result = run(settings(), cfg, progress=not json_out)
    record = result.record
    if json_out:
        print_json(
            {
                "name": record.name,
                "version": record.version,
                "path": record.path,
                "queries": result.queries,
                "queries_per_s": result.queries_per_s,
                "history": result.history,
                "metrics": record.metadata.get("metrics"),
                "held_out_rows": record.metadata.get("held_out_rows"),
                "signals": record.metadata.get("signals"),
            }
        )
        return
    table = RichTable(title=f"{record.name} v{record.version} ({result.queries:,} queries)")
    for column in ("epoch", "train_loss", "queries_per_s_per_worker"):
        table.add_column(column, justify="right")
    for row in result.history:
        table.add_row(
            *(
                f"{row.get(k, float('nan')):.4g}"
                for k in ("epoch", "train_loss", "queries_per_s_per_worker")
            )
        )
    console.print(table)
    ndcg = record.metadata["metrics"]["valid_ndcg@10"]
    console.print(
        f"held-out latest visits: {record.metadata['held_out_rows']:,}; NDCG@10 (full ranking, "
        f"up to 2,000 of them) {ndcg:.4f}"
    )
    constant = record.metadata["signals"]["constant"]
    if constant:
        console.print(f"signals this data gives no information on: {', '.join(constant)}")
    console.print(f"registered at {record.path}")


@friendly_errors
def evaluate(
    dataset: Annotated[
        str,
        typer.Option(
            help="twitch | synthetic | the name of the world in LIVECART_HOME | a contract directory."
        ),
    ] = "twitch",
    protocol: Annotated[
        list[Protocol] | None, typer.Option(help="Candidate set (repeatable); default all.")
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            help="Models to compare (repeatable): "
            + ", ".join(m.value for m in EvalModel)
            + " (the registered room ranker; served@N for version N). Default: all but served."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for models, negatives and ties.")] = 0,
    quick: Annotated[bool, typer.Option(help="Tiny training budgets (smoke runs).")] = False,
    ablate: Annotated[
        str | None,
        typer.Option(
            help="'text': train the product ranker with and without its text inputs on the "
            "home's world and compare (instead of the model comparison)."
        ),
    ] = None,
    finetune_encoder: Annotated[
        EncoderFinetune,
        typer.Option(help="With --ablate text: also a run after fine-tuning the encoder."),
    ] = EncoderFinetune.NONE,
    epochs: Annotated[int, typer.Option(help="With --ablate text: epochs per run.")] = 6,
    ray: Annotated[
        bool,
        typer.Option(help="Models at once, as Ray tasks of one CPU (--no-ray: one by one here)."),
    ] = True,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of Markdown.")
    ] = False,
) -> None:
    """Evaluate baselines and livecart's models with time-ordered protocols (Markdown, JSON, PNG)."""
    from ray_jobs.evaluation.protocols import ProtocolName
    from ray_jobs.evaluation.runner import EvaluationConfig, run

    if ablate is not None:
        _ablate(ablate, finetune_encoder, epochs, json_out)
        return

    options: dict[str, object] = {
        "settings": settings(),
        "dataset": dataset,
        "seed": seed,
        "quick": quick,
        "on_ray": ray,
    }
    if protocol:
        options["protocols"] = tuple(ProtocolName(p.value) for p in protocol)
    if model:
        known = [m.value for m in EvalModel]
        for name in model:
            base, _, version = name.lower().partition("@")
            if base not in known or (version and (base != "served" or not version.isdigit())):
                raise typer.BadParameter(
                    f"'{name}' is not one of {', '.join(known)} (or served@<version>)",
                    param_hint="--model",
                )
        options["models"] = tuple(m.lower() for m in model)
    with stdout_to_stderr(json_out):
        report = run(EvaluationConfig(**options))
    typer.echo(report.to_json() if json_out else report.to_markdown())


def _ablate(kind: str, finetune: EncoderFinetune, epochs: int, json_out: bool) -> None:
    import dataclasses

    from livecart.model.interaction_log import home_dataset
    from livecart.simulation.oracle import oracle_reference
    from ray_jobs.evaluation.ablation import text_ablation

    if kind != "text":
        raise typer.BadParameter(f"unknown ablation {kind!r}: the one ablation is 'text'")
    current = settings()
    name, _ = home_dataset(current)
    with stdout_to_stderr(json_out):
        report = text_ablation(
            current, name, epochs, finetune=finetune.value, reference=oracle_reference(current)
        )
    report.write(current.reports_dir / "evaluation")
    if json_out:
        print_json(dataclasses.asdict(report))
        return
    typer.echo(report.to_markdown())


@model_app.command("list")
@friendly_errors
def list_versions(name: ModelName = DEFAULT_RANKER, json_out: JsonOption = False) -> None:
    """Versions of a model and the one serving."""
    from livecart.model import registry

    current = settings()
    serving = registry.serving_version(current, name)
    found = registry.versions(current, name)
    if json_out:
        print_json({"name": name, "versions": found, "serving": serving})
        return
    for version in found:
        marker = "  <- serving" if version == serving else ""
        console.print(f"{name} v{version}{marker}")


@model_app.command()
@friendly_errors
def promote(version: int, name: ModelName = DEFAULT_RANKER, json_out: JsonOption = False) -> None:
    """Serve ``version`` from now on (replicas pick it up within model_poll_seconds)."""
    from livecart.model import registry

    registry.promote(settings(), name, version)
    if json_out:
        print_json({"name": name, "serving": version})
        return
    console.print(f"{name}: serving v{version}")


@model_app.command()
@friendly_errors
def rollback(name: ModelName = DEFAULT_RANKER, json_out: JsonOption = False) -> None:
    """Return to the previously promoted version."""
    from livecart.model import registry

    version = registry.rollback(settings(), name)
    if json_out:
        print_json({"name": name, "serving": version})
        return
    console.print(f"{name}: rolled back to v{version}")


@friendly_errors
def refresh(
    force: Annotated[bool, typer.Option(help="Retrain even without drift.")] = False,
    every: Annotated[
        float, typer.Option(help="Repeat every this many seconds (0: run once).")
    ] = 0.0,
    epochs: Annotated[int, typer.Option(help="Training epochs for a candidate.")] = 4,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json", help="Print each run's summary as one JSON object to stdout (only that)."
        ),
    ] = False,
) -> None:
    """Features -> materialize -> retrain on drift -> promote only if better (replicas follow)."""
    from ray_jobs.refresh import RefreshConfig
    from ray_jobs.refresh import run as run_refresh
    from ray_jobs.train import TrainConfig

    current = settings()
    cfg = RefreshConfig(force_retrain=force, train=TrainConfig(epochs=epochs))
    while True:
        with stdout_to_stderr(json_out):
            result = run_refresh(current, cfg)
        if json_out:
            print_json(result.summary())
        else:
            console.print_json(json.dumps(jsonable(result.summary())))
        if every <= 0:
            return
        time.sleep(every)
