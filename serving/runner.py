"""Start and stop the Serve application on the Ray from settings (used by the CLI, demo, tests)."""

from __future__ import annotations

import time

import httpx
from ray import serve

from livecart.core.errors import LivecartError
from livecart.core.ray_runtime import ensure_ray
from livecart.core.settings import LivecartSettings
from serving.app import build

APP_NAME = "livecart"


def base_url(settings: LivecartSettings) -> str:
    return f"http://{settings.serve_host}:{settings.serve_port}"


def start(settings: LivecartSettings, timeout_s: float = 180.0, split_ranker: bool = False) -> str:
    """Deploy the app over HTTP and wait until ``/readyz`` answers 200; the base URL."""
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


def stop() -> None:
    """Remove the application and shut Serve down (Ray itself keeps running)."""
    serve.shutdown()  # type: ignore[no-untyped-call]
