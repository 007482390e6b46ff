"""The `livecart` command line: one subcommand per job, each a thin shell over a typed `run`.

Every command works on its own after the previous ones (state lives in the data directory), and
user-facing errors are printed as one clear message, not a stack trace. `livecart --help` lists
the commands in help panels in the order a user runs them; the commands live in one module per
pipeline stage and load their jobs only when they run, so the help answers at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

import livecart
from livecart.cli import data, features, model
from livecart.cli.bench import bench_app
from livecart.cli.choices import Scale
from livecart.cli.deploy import deploy_app
from livecart.cli.replay import replay
from livecart.cli.serve import serve
from livecart.cli.simulate import simulate
from livecart.cli.support import (
    JsonOption,
    console,
    friendly_errors,
    print_json,
    settings,
    stdout_to_stderr,
)

DATA = "1. Data"
FEATURES = "2. Features"
MODEL = "3. Model"
SERVING = "4. Serving"
BENCHMARKS = "5. Benchmarks"
OTHER = "Other"
PANELS = (DATA, FEATURES, MODEL, SERVING, BENCHMARKS, OTHER)

PATHS = (
    "home",
    "raw_dir",
    "clean_dir",
    "quarantine_dir",
    "truth_dir",
    "features_dir",
    "feast_dir",
    "models_dir",
    "reports_dir",
)

# Command names in the order they were registered below: the pipeline order of `--help`.
PIPELINE: list[str] = []


class PipelineGroup(TyperGroup):
    """Lists commands and sub-apps in pipeline order (typer lists sub-apps after commands)."""

    def list_commands(self, ctx: Any) -> list[str]:  # ctx: the click Context typer vendors
        rank = {name: i for i, name in enumerate(PIPELINE)}
        return sorted(super().list_commands(ctx), key=lambda name: rank.get(name, len(rank)))


app = typer.Typer(
    cls=PipelineGroup,
    help="livecart: real-time recommendations for live-stream e-commerce (Feast + DuckDB + Ray).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _register(panel: str, name: str, command: Callable[..., Any] | typer.Typer) -> None:
    if isinstance(command, typer.Typer):
        app.add_typer(command, name=name, rich_help_panel=panel)
    else:
        app.command(name, rich_help_panel=panel)(command)
    PIPELINE.append(name)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"livecart {livecart.__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the livecart version and exit.",
        ),
    ] = False,
) -> None:
    """The options before any command (the app's help is the `typer.Typer` help above)."""


@friendly_errors
def demo(
    scale: Annotated[Scale, typer.Option(help="World size for the demo.")] = Scale.SMALL,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the closing report as JSON.")
    ] = False,
) -> None:
    """The end-to-end demo on embedded defaults (DuckDB files, local Ray)."""
    from livecart.demo.run import run

    with stdout_to_stderr(json_out):
        report = run(settings(), scale=scale.value, console=console)
    if json_out:
        print_json(report)


@friendly_errors
def paths(json_out: JsonOption = False) -> None:
    """Show where livecart reads and writes."""
    current = settings()
    where = {name: getattr(current, name) for name in PATHS}
    if json_out:
        print_json(where)
        return
    for name, path in where.items():
        typer.echo(f"{name:15} {path}")


# In pipeline order: the panels, and the commands in each, are listed in this order.
COMMANDS: dict[str, dict[str, Callable[..., Any] | typer.Typer]] = {
    DATA: {"generate": data.generate, "ingest": data.ingest_app, "validate": data.validate},
    FEATURES: {
        "features": features.features,
        "embed": features.embed,
        "comments": features.comments,
        "apply": features.apply,
        "materialize": features.materialize,
    },
    MODEL: {
        "train": model.train,
        "evaluate": model.evaluate,
        "model": model.model_app,
        "refresh": model.refresh,
    },
    SERVING: {"serve": serve, "simulate": simulate, "replay": replay, "deploy": deploy_app},
    BENCHMARKS: {"bench": bench_app},
    OTHER: {"demo": demo},
}
for _panel, _commands in COMMANDS.items():
    for _name, _command in _commands.items():
        _register(_panel, _name, _command)
_register(OTHER, "paths", paths)
