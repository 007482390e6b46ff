"""Pipeline stage 4, serving: `livecart serve` runs the Ray Serve app until Ctrl-C, SIGTERM or a
deadline, then stops it while Ray is still whole (:func:`serving.runner.release`)."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from types import FrameType
from typing import Annotated

import typer

from livecart.cli.support import console, friendly_errors, settings


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a service manager) raises KeyboardInterrupt in the block, as Ctrl-C does.

    Enter it after Ray has started: starting Ray installs Ray's own SIGTERM handling. Left to it,
    a `livecart serve` killed 30 s into serving aborted (exit -6) while the app still ran, and the
    raylet's two agent processes (``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``) outlived it,
    orphaned to init; measured again with this handler: exit 0 in about 10 s, nothing left.
    """

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@friendly_errors
def serve(
    seconds: Annotated[
        float, typer.Option(help="Stop after this many seconds (0: until Ctrl-C).")
    ] = 0.0,
) -> None:
    """Serve recommendations over HTTP on the local Ray (or the cluster in settings)."""
    from livecart.core.ray_runtime import ensure_ray
    from serving.runner import release, start
    from serving.service import check_exposure

    config = settings()
    warning = check_exposure(config)  # refuses an exposed default token before starting Ray
    if warning:
        console.print(f"[yellow]warning:[/] {warning}")
    try:
        # Ray first: starting it installs Ray's own SIGTERM handling, which ours then replaces.
        ensure_ray(config)
        with sigterm_as_interrupt():
            url = start(config)
            console.print(f"[bold green]serving[/] at {url}  (OpenAPI docs: {url}/docs)")
            deadline = time.monotonic() + seconds if seconds > 0 else None
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        release(config)
