"""Pipeline stage 2, features: tables, text embeddings, comment signals, Feast apply, materialize."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from livecart.cli.support import (
    JsonOption,
    console,
    counts_table,
    friendly_errors,
    print_json,
    run_job,
    settings,
    stdout_to_stderr,
)


@friendly_errors
def features(json_out: JsonOption = False) -> None:
    """Build the point-in-time feature tables with DuckDB into <home>/features."""
    from ray_jobs.features import run
    from validation.feature_gate import print_feature_summary

    with stdout_to_stderr(json_out):
        result = run(settings())
    if json_out:
        checks = result.checks
        print_json(
            {
                "directory": result.directory,
                "rows": result.rows,
                "seconds": result.seconds,
                "checks": None
                if checks is None
                else {
                    "checked_at": checks.checked_at,
                    "data_docs_index": checks.data_docs_index,
                    "tables": checks.tables,
                },
            }
        )
        return
    console.print(
        counts_table(f"feature tables in {result.directory}", result.rows, result.seconds)
    )
    if result.checks is not None:
        print_feature_summary(result.checks, console)


@friendly_errors
def embed(json_out: JsonOption = False) -> None:
    """Embed product and room texts with the transformers encoder (Ray Data) into <home>/features."""
    from ray_jobs.embed import run

    result = run_job(json_out, lambda: run(settings()))
    if result is None:
        return
    console.print(
        counts_table(f"text embeddings ({result.dim}-d, {result.seconds} s)", result.rows)
    )


@friendly_errors
def comments(
    limit: Annotated[int, typer.Option(help="Labelled comments to use.")] = 5_000,
    json_out: JsonOption = False,
) -> None:
    """Train the comment sentiment / purchase-intent probe on the encoder (synthetic labels)."""
    from livecart.model.comment_probe import run
    from livecart.model.comment_signals import run as score_comments

    with stdout_to_stderr(json_out):
        result = run(settings(), limit=limit)
        signals = score_comments(settings())
    if json_out:
        print_json(
            {
                "probe": {
                    "name": result.record.name,
                    "version": result.record.version,
                    "path": result.record.path,
                    "accuracy": result.accuracy,
                    "majority_baseline": result.majority_baseline,
                    "train": result.train,
                    "test": result.test,
                },
                "signals": signals,
            }
        )
        return
    console.print(
        f"comment probe v{result.record.version}: accuracy {result.accuracy:.3f} on {result.test} later "
        f"comments (majority class {result.majority_baseline:.3f}; trained on {result.train})"
    )
    console.print(f"scored {signals.comments:,} comments into {signals.rows:,} room signal rows")


@friendly_errors
def apply(json_out: JsonOption = False) -> None:
    """Register the Feast repo (same as `feast apply`) against <home>/feast."""
    from livecart.features.feast_store import apply as feast_apply

    current = settings()
    with stdout_to_stderr(json_out):
        feast_apply(current)
    if json_out:
        print_json({"applied": True, "feast_dir": current.feast_dir})
        return
    console.print("[green]feast apply done[/]")


@friendly_errors
def materialize(
    start: Annotated[
        datetime | None,
        typer.Option(help="Materialize from this UTC time (default: incremental, like Feast)."),
    ] = None,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Rebuild every view from the offline store in one commit (after the store "
            "reported itself corrupted: a lost or unreadable manifest, a missing file).",
        ),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Load the latest feature values into the online store (Feast materialize[-incremental])."""
    from ray_jobs.materialize import materialize as feast_materialize

    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    result = run_job(json_out, lambda: feast_materialize(settings(), start=start, repair=repair))
    if result is None:
        return
    console.print(f"[green]materialized[/] up to {result.end.isoformat()}")
