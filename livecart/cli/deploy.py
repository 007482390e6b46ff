"""`livecart deploy kuberay`: write the KubeRay ``RayService`` manifest for serving."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from livecart.cli.support import console, friendly_errors

deploy_app = typer.Typer(
    help="Deployment manifests generated from the shipped configs.", no_args_is_help=True
)


@deploy_app.command()
@friendly_errors
def kuberay(
    out: Annotated[
        Path | None, typer.Option(help="Where to write it (default: deploy/rayservice.yaml).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="The Serve config (default: serving/serve_config.yaml).")
    ] = None,
    image: Annotated[str | None, typer.Option(help="The livecart image, as pushed.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker pods.")] = None,
    worker_cpus: Annotated[str | None, typer.Option(help="CPUs of each worker pod.")] = None,
    worker_memory: Annotated[str | None, typer.Option(help="Memory of each worker pod.")] = None,
) -> None:
    """A KubeRay RayService (Serve apps from serve_config.yaml, the cluster's pods around them)."""
    from dataclasses import replace

    from livecart.cli import kuberay as k

    given: dict[str, Any] = {
        "image": image,
        "workers": workers,
        "worker_cpus": worker_cpus,
        "worker_memory": worker_memory,
    }
    shape = replace(k.ClusterShape(), **{key: v for key, v in given.items() if v is not None})
    target = out or k.MANIFEST
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(k.render(k.read_serve_config(config or k.SERVE_CONFIG), shape))
    console.print(f"wrote {target}  (kubectl apply -f {target})")
