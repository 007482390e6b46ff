"""`livecart serve` and `livecart model ...`: run the Serve app, promote and roll back rankers."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from livecart.cli.support import console, friendly_errors
from livecart.core.settings import get_settings
from livecart.model import registry

model_app = typer.Typer(help="Model versions: list, promote, roll back (replicas follow).")


@friendly_errors
def serve(
    seconds: Annotated[
        float, typer.Option(help="Stop after this many seconds (0: until Ctrl-C).")
    ] = 0.0,
) -> None:
    """Serve recommendations over HTTP on the local Ray (or the cluster in settings)."""
    from serving.runner import start, stop

    settings = get_settings()
    url = start(settings)
    console.print(f"[bold green]serving[/] at {url}  (OpenAPI docs: {url}/docs)")
    try:
        deadline = time.monotonic() + seconds if seconds > 0 else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()


@model_app.command("list")
@friendly_errors
def list_versions(name: str = registry.DEFAULT_RANKER) -> None:
    """Versions of a model and the one serving."""
    settings = get_settings()
    serving = registry.serving_version(settings, name)
    for version in registry.versions(settings, name):
        marker = "  <- serving" if version == serving else ""
        console.print(f"{name} v{version}{marker}")


@model_app.command()
@friendly_errors
def promote(version: int, name: str = registry.DEFAULT_RANKER) -> None:
    """Serve ``version`` from now on (replicas pick it up within model_poll_seconds)."""
    registry.promote(get_settings(), name, version)
    console.print(f"{name}: serving v{version}")


@model_app.command()
@friendly_errors
def rollback(name: str = registry.DEFAULT_RANKER) -> None:
    """Return to the previously promoted version."""
    version = registry.rollback(get_settings(), name)
    console.print(f"{name}: rolled back to v{version}")


@friendly_errors
def refresh(
    force: Annotated[bool, typer.Option(help="Retrain even without drift.")] = False,
    every: Annotated[
        float, typer.Option(help="Repeat every this many seconds (0: run once).")
    ] = 0.0,
    epochs: Annotated[int, typer.Option(help="Training epochs for a candidate.")] = 4,
) -> None:
    """Features -> materialize -> retrain on drift -> promote only if better (replicas follow)."""
    import json

    from ray_jobs.refresh import RefreshConfig
    from ray_jobs.refresh import run as run_refresh
    from ray_jobs.train import TrainConfig

    settings = get_settings()
    cfg = RefreshConfig(force_retrain=force, train=TrainConfig(epochs=epochs))
    while True:
        result = run_refresh(settings, cfg)
        console.print_json(json.dumps(result.summary(), default=str))
        if every <= 0:
            return
        time.sleep(every)
