"""The `livecart` command line: one subcommand per job, each a thin shell over a typed `run`.

Every command works on its own after the previous ones (state lives in the data directory), and
user-facing errors are printed as one clear message, not a stack trace.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from livecart.cli.bench import bench_app
from livecart.cli.replay import replay
from livecart.cli.serve import model_app, refresh, serve
from livecart.cli.support import console, friendly_errors
from livecart.core.settings import get_settings

app = typer.Typer(
    help="livecart: real-time recommendations for live-stream e-commerce (Feast + DuckDB + Ray).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
ingest_app = typer.Typer(help="Load real data into the livecart contract.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
app.add_typer(bench_app, name="bench")
app.add_typer(model_app, name="model")
app.command()(serve)
app.command()(refresh)
app.command()(replay)

TRAIN_COLUMNS = (
    "epoch",
    "train_loss",
    "valid_loss",
    "auc_click",
    "auc_purchase",
    "examples_per_s_per_worker",
)


def _counts_table(
    title: str, rows: dict[str, int], seconds: dict[str, float] | None = None
) -> RichTable:
    table = RichTable(title=title)
    table.add_column("table")
    table.add_column("rows", justify="right")
    if seconds is not None:
        table.add_column("seconds", justify="right")
    for name, count in rows.items():
        cells = [name, f"{count:,}"]
        if seconds is not None:
            cells.append(f"{seconds.get(name, 0.0):.2f}")
        table.add_row(*cells)
    return table


@app.command()
@friendly_errors
def generate(
    scale: Annotated[str, typer.Option(help="tiny | small | medium | large")] = "small",
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same world.")] = 7,
    dirty: Annotated[float, typer.Option(help="Fraction of bad rows to inject (0 = none).")] = 0.0,
    language: Annotated[str, typer.Option(help="Text language: en | zh")] = "en",
    ray: Annotated[bool, typer.Option(help="Simulate viewer blocks as Ray tasks.")] = True,
) -> None:
    """Generate a synthetic live-commerce world into <home>/raw."""
    from livecart.core import contract as c
    from livecart.simulation.generate import run
    from livecart.simulation.world.config import SCALES, world_config

    if scale not in SCALES:
        raise typer.BadParameter(f"scale must be one of {sorted(SCALES)}")
    if language not in ("en", "zh"):
        raise typer.BadParameter("language must be en or zh")
    settings = get_settings()
    result = run(world_config(scale, seed, language), settings, dirty=dirty, use_ray=ray)  # type: ignore[arg-type]
    console.print(_counts_table(f"generated '{scale}' world in {result.raw_dir}", result.tables))
    if result.dirty_rows:
        console.print(
            f"injected {result.dirty_rows:,} bad rows (manifest: {settings.truth_dir}/{c.TRUTH_FAULTS}.parquet)"
        )


@ingest_app.command("twitch")
@friendly_errors
def ingest_twitch(
    path: Annotated[
        Path | None, typer.Argument(help="The Twitch watch log CSV (default: ../shared/data).")
    ] = None,
    session_gap_steps: Annotated[
        int, typer.Option(help="Gap (10-min steps) that splits live sessions.")
    ] = 6,
) -> None:
    """Load the real Twitch live-streaming watch log into <home>/raw."""
    from ray_jobs.ingest.twitch import DEFAULT_TWITCH_PATH, TwitchConfig, run

    config = TwitchConfig(
        settings=get_settings(),
        path=path or DEFAULT_TWITCH_PATH,
        session_gap_steps=session_gap_steps,
    )
    result = run(config)
    console.print(
        f"twitch: {result.events:,} events, {result.viewers:,} viewers, {result.streamers:,} streamers, "
        f"{result.rooms:,} rooms -> {result.raw_dir}"
    )


@ingest_app.command("interactions")
@friendly_errors
def ingest_interactions(
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV/Parquet user_id,item_id,timestamp[,event_type], or 'user item' text."
        ),
    ],
    assume_utc: Annotated[bool, typer.Option(help="Treat naive timestamps as UTC.")] = False,
) -> None:
    """Load a generic interactions file into <home>/raw (bad lines are quarantined)."""
    from ray_jobs.ingest.interactions import InteractionsConfig, run

    result = run(InteractionsConfig(settings=get_settings(), path=path, assume_utc=assume_utc))
    console.print(
        f"interactions: {result.rows_read:,} rows read, {result.events:,} events, "
        f"{result.quarantined:,} quarantined ({result.quarantine_path})"
    )


@app.command()
@friendly_errors
def validate() -> None:
    """Run the Great Expectations gates: clean rows to <home>/clean, bad rows quarantined."""
    from validation.report import print_summary
    from validation.run import run

    report = run(get_settings())
    print_summary(report, console)


@app.command()
@friendly_errors
def features() -> None:
    """Build the point-in-time feature tables with DuckDB into <home>/features."""
    from ray_jobs.features import run
    from validation.feature_gate import print_feature_summary

    result = run(get_settings())
    console.print(
        _counts_table(f"feature tables in {result.directory}", result.rows, result.seconds)
    )
    if result.checks is not None:
        print_feature_summary(result.checks, console)


@app.command()
@friendly_errors
def embed() -> None:
    """Embed product and room texts with the transformers encoder (Ray Data) into <home>/features."""
    from ray_jobs.embed import run

    result = run(get_settings())
    console.print(
        _counts_table(f"text embeddings ({result.dim}-d, {result.seconds} s)", result.rows)
    )


@app.command()
@friendly_errors
def comments(limit: Annotated[int, typer.Option(help="Labelled comments to use.")] = 5_000) -> None:
    """Train the comment sentiment / purchase-intent probe on the encoder (synthetic labels)."""
    from livecart.model.comment_probe import run
    from livecart.model.comment_signals import run as score_comments

    result = run(get_settings(), limit=limit)
    console.print(
        f"comment probe v{result.record.version}: accuracy {result.accuracy:.3f} on {result.test} later "
        f"comments (majority class {result.majority_baseline:.3f}; trained on {result.train})"
    )
    signals = score_comments(get_settings())
    console.print(f"scored {signals.comments:,} comments into {signals.rows:,} room signal rows")


@app.command()
@friendly_errors
def apply() -> None:
    """Register the Feast repo (same as `feast apply`) against <home>/feast."""
    from livecart.features.feast_store import apply as feast_apply

    feast_apply(get_settings())
    console.print("[green]feast apply done[/]")


@app.command()
@friendly_errors
def materialize(
    start: Annotated[
        datetime | None,
        typer.Option(help="Materialize from this UTC time (default: incremental, like Feast)."),
    ] = None,
) -> None:
    """Load the latest feature values into the online store (Feast materialize[-incremental])."""
    from ray_jobs.materialize import materialize as feast_materialize

    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    window = feast_materialize(get_settings(), start=start).end
    console.print(f"[green]materialized[/] up to {window.isoformat()}")


@app.command()
@friendly_errors
def demo(
    scale: Annotated[str, typer.Option(help="World size for the demo.")] = "small",
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the closing report as JSON.")
    ] = False,
) -> None:
    """The end-to-end demo on embedded defaults (DuckDB files, local Ray)."""
    from livecart.demo.run import run

    if scale not in ("tiny", "small", "medium", "large"):
        raise typer.BadParameter("scale must be tiny, small, medium or large")
    report = run(get_settings(), scale=scale, console=console)  # type: ignore[arg-type]
    if json_out:
        typer.echo(json.dumps(report, indent=2, default=str))


@app.command()
@friendly_errors
def train(
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 4,
    workers: Annotated[int, typer.Option(help="Ray Train workers.")] = 2,
    text: Annotated[
        bool,
        typer.Option(
            help="Text-derived inputs (item text embedding, interest cosine, graph-smoothed vector)."
        ),
    ] = True,
    behaviour: Annotated[
        bool, typer.Option(help="The SASRec-style behaviour encoder over the recent products.")
    ] = False,
    limit: Annotated[int | None, typer.Option(help="Use at most this many impressions.")] = None,
    resume_from: Annotated[
        Path | None, typer.Option(help="Checkpoint directory to resume.")
    ] = None,
    finetune_encoder: Annotated[
        str,
        typer.Option(help="Fine-tune the text encoder first (Ray Train): none, last or full."),
    ] = "none",
) -> None:
    """Train the fusion ranker on Ray Train and register it (prints validation metrics)."""
    from livecart.simulation.oracle import oracle_reference
    from ray_jobs.train import TrainConfig, run

    settings = get_settings()
    if finetune_encoder != "none":
        from ray_jobs.finetune_encoder import FinetuneConfig, refresh_embeddings
        from ray_jobs.finetune_encoder import run as finetune

        if finetune_encoder not in ("last", "full"):
            raise typer.BadParameter("--finetune-encoder is none, last or full")
        tuned = finetune(settings, FinetuneConfig(layers=finetune_encoder, num_workers=workers))
        console.print(f"encoder fine-tuned ({tuned.pairs:,} pairs, loss per epoch {tuned.losses})")
        settings = refresh_embeddings(settings, tuned.encoder_dir)
        console.print(
            f"item embeddings re-computed; keep using it: LIVECART_ENCODER_PATH={tuned.encoder_dir}"
        )

    cfg = TrainConfig(
        epochs=epochs,
        num_workers=workers,
        with_text=text,
        with_behaviour=behaviour,
        limit=limit,
        resume_from=resume_from,
    )
    result = run(settings, cfg, reference=oracle_reference(settings))
    table = RichTable(
        title=f"{result.record.name} v{result.record.version} ({result.examples:,} examples)"
    )
    for column in TRAIN_COLUMNS:
        table.add_column(column, justify="right")
    for row in result.history:
        table.add_row(*(f"{row.get(k, float('nan')):.4g}" for k in TRAIN_COLUMNS))
    console.print(table)
    oracle = result.record.metadata.get("oracle_auc_purchase")
    if oracle is not None:
        console.print(
            f"planted-preference oracle AUC (purchase) on the same validation rows: {oracle:.4f}"
        )
    console.print(f"registered at {result.record.path}")


@app.command()
@friendly_errors
def evaluate(
    dataset: Annotated[
        str,
        typer.Option(
            help="twitch | synthetic (the world in LIVECART_HOME) | a contract directory."
        ),
    ] = "twitch",
    protocol: Annotated[
        list[str] | None, typer.Option(help="full | live_now | sampled (repeatable).")
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option(help="Models to compare (repeatable); default all.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for models, negatives and ties.")] = 0,
    quick: Annotated[bool, typer.Option(help="Tiny training budgets (smoke runs).")] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of Markdown.")
    ] = False,
) -> None:
    """Evaluate baselines and livecart's models with time-ordered protocols (Markdown, JSON, PNG)."""
    from ray_jobs.evaluation.protocols import ProtocolName
    from ray_jobs.evaluation.runner import EvaluationConfig, run

    options: dict[str, object] = {
        "settings": get_settings(),
        "dataset": dataset,
        "seed": seed,
        "quick": quick,
    }
    if protocol:
        options["protocols"] = tuple(ProtocolName(p) for p in protocol)
    if model:
        options["models"] = tuple(m.lower() for m in model)
    report = run(EvaluationConfig(**options))
    typer.echo(report.to_json() if json_out else report.to_markdown())


@app.command()
def paths() -> None:
    """Show where livecart reads and writes."""
    settings = get_settings()
    for name in (
        "home",
        "raw_dir",
        "clean_dir",
        "quarantine_dir",
        "features_dir",
        "feast_dir",
        "reports_dir",
    ):
        typer.echo(f"{name:15} {getattr(settings, name)}")
