"""Pipeline stage 4, serving: `livecart serve` runs the Ray Serve app until Ctrl-C or a deadline."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from livecart.cli.support import console, friendly_errors, settings


@friendly_errors
def serve(
    seconds: Annotated[
        float, typer.Option(help="Stop after this many seconds (0: until Ctrl-C).")
    ] = 0.0,
) -> None:
    """Serve recommendations over HTTP on the local Ray (or the cluster in settings)."""
    from serving.runner import start, stop

    url = start(settings())
    console.print(f"[bold green]serving[/] at {url}  (OpenAPI docs: {url}/docs)")
    try:
        deadline = time.monotonic() + seconds if seconds > 0 else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
