"""Shared parts of the fault-injection modules: the outcome report and small request helpers."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from livecart.core.settings import LivecartSettings
from tests.reliability.conftest import AUTH, World

OUTCOMES: dict[str, str] = {}  # fault -> what was observed (reports/reliability_faults.json)


def write_report(world: World, request: pytest.FixtureRequest) -> None:
    """Write every outcome so far (all fault modules) and print them."""
    path = world.settings.reports_dir / "reliability_faults.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(OUTCOMES, indent=2))
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\nfault injection outcomes ({path}):")
        for fault, outcome in OUTCOMES.items():
            print(f"  {fault}: {outcome}")


def viewer(world: World, viewer: str | None = None, **extra: Any) -> httpx.Response:
    body = {"viewer_id": viewer or world.viewers[0], "k": 5, "filters": {"live_only": False}}
    return httpx.post(f"{world.url}/v1/recommend/viewer", json={**body, **extra}, timeout=60.0)


def events(world: World, events: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(f"{world.url}/v1/events", json={"events": events}, headers=AUTH, timeout=60)


def eid(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}"


def wait_for(check: Any, timeout_s: float = 30.0, what: str = "condition") -> Any:
    until = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > until:
            raise AssertionError(f"{what} not reached in {timeout_s} s")
        time.sleep(0.3)


def store_dir(settings: LivecartSettings) -> Path:
    return settings.feast_dir / "online"


def recovered(world: World) -> bool:
    """Serving is back to normal: ranked by the model, neither degraded nor cold."""
    body = viewer(world).json()
    return not body["degraded"] and not body["cold_start"]
