"""`livecart replay`: the feedback-loop replay simulation (feedback vs frozen arm), table or JSON."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table as RichTable

from livecart.cli.support import JsonOption, console, friendly_errors, settings, stdout_to_stderr


@friendly_errors
def replay(
    seeds: Annotated[int, typer.Option(help="Simulated sessions per arm.")] = 3,
    first_seed: Annotated[int, typer.Option(help="First session seed.")] = 0,
    steps: Annotated[int, typer.Option(help="Steps per session.")] = 10,
    viewers: Annotated[int, typer.Option(help="Viewers in the session.")] = 30,
    rooms: Annotated[int, typer.Option(help="Rooms made live.")] = 8,
    k: Annotated[int, typer.Option(help="Products recommended per request.")] = 10,
    exploration_budget: Annotated[
        float | None, typer.Option(help="Feedback arm's exploration share (default: settings).")
    ] = None,
    prior_strength: Annotated[
        float | None, typer.Option(help="Pseudo-impressions behind the model's CTR (settings).")
    ] = None,
    fatigue: Annotated[
        float, typer.Option(help="Click factor per repeated showing to a viewer (1 = none).")
    ] = 1.0,
    keep_homes: Annotated[bool, typer.Option(help="Keep the per-arm home copies.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Replay a simulated live session against the served world: feedback loop vs frozen model."""
    from livecart.simulation.replay import ReplayConfig, run

    config = ReplayConfig(
        seeds=seeds,
        first_seed=first_seed,
        steps=steps,
        viewers=viewers,
        rooms=rooms,
        k=k,
        exploration_budget=exploration_budget,
        exploration_prior_strength=prior_strength,
        fatigue=fatigue,
        keep_homes=keep_homes,
    )
    with stdout_to_stderr(json_out):
        result = run(settings(), config)
    if json_out:
        typer.echo(result.model_dump_json(indent=2))
        return
    table = RichTable(title=f"replay over {seeds} seeds (final cumulative values, mean ± sd)")
    for column in ("arm", "clicks", "clicks min-max", "GMV", "GMV min-max"):
        table.add_column(column, justify="right")
    for arm, s in result.summary.items():
        table.add_row(
            arm,
            f"{s['clicks_mean']:.1f} ± {s['clicks_std']:.1f}",
            f"{s['clicks_min']:.0f}-{s['clicks_max']:.0f}",
            f"{s['gmv_mean']:,.0f} ± {s['gmv_std']:,.0f}",
            f"{s['gmv_min']:,.0f}-{s['gmv_max']:,.0f}",
        )
    console.print(table)
    lift = result.lift
    console.print(
        f"lift of feedback over frozen: clicks {lift['clicks']:+.1%} "
        f"(seeds {lift['clicks_seed_min']:+.1%} .. {lift['clicks_seed_max']:+.1%}, "
        f"{result.wins['clicks']}/{seeds} won), GMV {lift['gmv']:+.1%} "
        f"(seeds {lift['gmv_seed_min']:+.1%} .. {lift['gmv_seed_max']:+.1%}, "
        f"{result.wins['gmv']}/{seeds} won)"
    )
    console.print(f"plot: {result.plot}\nreport: {result.report}  ({result.seconds:.0f} s)")
