"""Start and stop the Serve application on the Ray from settings (used by the CLI, demo, tests)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import httpx
import ray
from ray import serve

from livecart.core.errors import LivecartError
from livecart.core.ray_runtime import ensure_ray
from livecart.core.settings import LivecartSettings
from serving.app import build
from serving.service import check_exposure

APP_NAME = "livecart"
log = logging.getLogger(__name__)


def base_url(settings: LivecartSettings) -> str:
    return f"http://{settings.serve_host}:{settings.serve_port}"


def start(settings: LivecartSettings, timeout_s: float = 180.0, split_ranker: bool = False) -> str:
    """Deploy the app over HTTP and wait until ``/readyz`` answers 200; the base URL.

    Refuses (before starting anything) a non-loopback ``serve_host`` with the default token.
    """
    warning = check_exposure(settings)
    if warning:
        log.warning(warning)
    settings.export_env()
    ensure_ray(settings)
    serve.start(http_options={"host": settings.serve_host, "port": settings.serve_port})
    serve.run(build(settings, split_ranker), name=APP_NAME, route_prefix="/", blocking=False)
    url = base_url(settings)
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{url}/readyz", timeout=5.0)
            if answer.status_code == 200:
                return url
            last = answer.text
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.5)
    raise LivecartError(f"serving did not become ready in {timeout_s:.0f} s: {last}")


def stop(settings: LivecartSettings, apps: Sequence[str] = (APP_NAME,)) -> None:
    """Delete livecart's applications (``apps``); shut Serve down only when it is ours and idle.

    Never ``serve.shutdown()`` blindly: it deletes every application on the cluster. On a shared
    cluster (``ray_address``) Serve itself stays up, even with no application left: its lifetime
    belongs to the cluster (KubeRay, ``serve deploy``), and another client may deploy at any
    moment. On the local Ray (no ``ray_address``: :func:`ensure_ray` started it in this process,
    so whatever runs Serve on it runs here) Serve is shut down once no application is left, which
    frees its HTTP port; an application still running beside ours (a benchmark's floor, a test's)
    keeps it up. Ray itself keeps running (the tests' Ray).
    """
    running = serve.status().applications
    for name in apps:
        if name in running:
            serve.delete(name)
    if not settings.ray_address and not serve.status().applications:
        serve.shutdown()  # type: ignore[no-untyped-call]


def release(settings: LivecartSettings) -> None:
    """Stop serving before this process exits, leaving nothing of ours running.

    :func:`stop` first (on a shared cluster only this application goes; on the local Ray Serve is
    shut down with it), then Ray: the local Ray this process started, or the connection to the
    cluster. In that order, from this process: when Ray's own SIGTERM handler tore the local node
    down under a running app instead, the raylet's two agent processes outlived it (see
    ``livecart serve``).
    """
    if not ray.is_initialized():
        return  # nothing was started
    stop(settings)
    ray.shutdown()
