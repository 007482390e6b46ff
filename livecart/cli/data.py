"""Pipeline stage 1, data: `generate` a world or `ingest` real data, then `validate` it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from livecart.cli.choices import IngestPreset, InteractionsFormat, Language, Scale
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

if TYPE_CHECKING:
    from validation.report import ValidationReport

ingest_app = typer.Typer(help="Load real data into the livecart contract.", no_args_is_help=True)


@friendly_errors
def generate(
    scale: Annotated[Scale, typer.Option(help="World size.")] = Scale.SMALL,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same world.")] = 7,
    dirty: Annotated[float, typer.Option(help="Fraction of bad rows to inject (0 = none).")] = 0.0,
    language: Annotated[Language, typer.Option(help="Text language.")] = Language.EN,
    ray: Annotated[bool, typer.Option(help="Simulate viewer blocks as Ray tasks.")] = True,
    json_out: JsonOption = False,
) -> None:
    """Generate a synthetic live-commerce world into <home>/raw."""
    from livecart.core import contract as c
    from livecart.simulation.generate import run
    from livecart.simulation.world.config import world_config

    current = settings()
    config = world_config(scale.value, seed, language.value)
    with stdout_to_stderr(json_out):
        result = run(config, current, dirty=dirty, use_ray=ray)
    faults = current.truth_dir / f"{c.TRUTH_FAULTS}.parquet"
    if json_out:
        print_json(
            {
                "scale": scale,
                "seed": seed,
                "language": language,
                "raw_dir": result.raw_dir,
                "events": result.events,
                "parts": result.parts,
                "tables": result.tables,
                "dirty_rows": result.dirty_rows,
                "faults_manifest": faults if result.dirty_rows else None,
            }
        )
        return
    console.print(counts_table(f"generated '{scale}' world in {result.raw_dir}", result.tables))
    if result.dirty_rows:
        console.print(f"injected {result.dirty_rows:,} bad rows (manifest: {faults})")


@ingest_app.command("twitch")
@friendly_errors
def ingest_twitch(
    path: Annotated[
        Path | None, typer.Argument(help="The Twitch watch log CSV (default: ../shared/data).")
    ] = None,
    session_gap_steps: Annotated[
        int, typer.Option(help="Gap (10-min steps) that splits live sessions.")
    ] = 6,
    json_out: JsonOption = False,
) -> None:
    """Load the real Twitch live-streaming watch log into <home>/raw."""
    from ray_jobs.ingest.twitch import DEFAULT_TWITCH_PATH, TwitchConfig, run

    config = TwitchConfig(
        settings=settings(), path=path or DEFAULT_TWITCH_PATH, session_gap_steps=session_gap_steps
    )
    result = run_job(json_out, lambda: run(config))
    if result is None:
        return
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
    file_format: Annotated[
        InteractionsFormat,
        typer.Option("--format", help="File layout (auto: by suffix .csv, .parquet/.pq, .txt)."),
    ] = InteractionsFormat.AUTO,
    json_out: JsonOption = False,
) -> None:
    """Load a generic interactions file into <home>/raw (bad lines are quarantined)."""
    from ray_jobs.ingest.interactions import InteractionsConfig, run
    from ray_jobs.ingest.interactions import InteractionsFormat as Layout

    config = InteractionsConfig(
        settings=settings(), path=path, format=Layout(file_format.value), assume_utc=assume_utc
    )
    result = run_job(json_out, lambda: run(config))
    if result is None:
        return
    console.print(
        f"interactions: {result.rows_read:,} rows read, {result.events:,} events, "
        f"{result.quarantined:,} quarantined ({result.quarantine_path})"
    )


@ingest_app.command("tables")
@friendly_errors
def ingest_tables(
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="Your exports: products, viewers, streamers, rooms, room_products, events "
            "(.csv or .parquet; events required). With --preset: the source file (twitch: "
            "default ../shared/data).",
            show_default=False,
        ),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(help="YAML mapping: file names, column renames, value maps, time zones."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="Dataset name (dataset.json; default: the preset's name, or tables)."),
    ] = None,
    preset: Annotated[
        IngestPreset | None,
        typer.Option(
            help="Read one file of a known layout: twitch (the Twitch watch log), interactions "
            "(user_id,item_id,timestamp CSV/Parquet or 'user item' text)."
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Load a platform's own exports, or one file of a known layout (--preset), into <home>/raw
    (rows that cannot be read are quarantined with file, row and reason); then
    `livecart validate` gates them like any source."""
    from ray_jobs.ingest.tables import TablesConfig, run

    config = TablesConfig(
        settings=settings(),
        directory=directory,
        mapping=mapping,
        name=name,
        preset=preset.value if preset else None,
    )
    result = run_job(json_out, lambda: run(config))
    if result is None:
        return
    for table, rows in result.rows.items():
        bad = result.quarantined.get(table, 0)
        console.print(f"{table}: {rows:,} rows" + (f", {bad:,} quarantined" if bad else ""))
    for note in result.derived:
        console.print(f"derived: {note}")
    console.print(f"quarantine: {result.quarantine_path}")


def _validation_json(report: ValidationReport) -> dict[str, object]:
    return {
        "checked_at": report.checked_at,
        "tables": {
            item.table.value: {
                "rows": item.total,
                "good": item.good,
                "quarantined": item.quarantined,
                "quarantined_fraction": item.fraction,
                "top_reasons": dict(item.top_reasons()),
                "batches": item.batches,
                "clean_path": item.clean_path,
                "quarantine_path": item.quarantine_path,
            }
            for item in report.tables
        },
        "skipped": [table.value for table in report.skipped],
        "failed_checks": [
            {"table": c.table.value, "batch": c.batch, "check": c.check, "observed": c.observed}
            for c in report.failed_checks
        ],
        "data_docs_index": report.data_docs_index,
    }


@friendly_errors
def validate(json_out: JsonOption = False) -> None:
    """Run the Great Expectations gates: clean rows to <home>/clean, bad rows quarantined."""
    from validation.report import print_summary
    from validation.run import run

    with stdout_to_stderr(json_out):
        report = run(settings())
    if json_out:
        print_json(_validation_json(report))
        return
    print_summary(report, console)
