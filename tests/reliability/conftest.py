"""The reliability suite's served world, a retrying HTTP client, and module ordering.

The suite gets its own copy of the run's served world (tests/served_world.py; the faults here
break and restore files, so no other package may share it), served with two ``Recommender``
replicas so that one can be killed while the other answers, by the real Serve app over HTTP on the
session's Ray. Serve holds one app per name in a Ray cluster: if the integration tests' app is up
(same session), it is shut down first; the integration fixture's own teardown then finds nothing
left to stop. Modules run in a fixed order, the destructive ones (``test_faults_*``) last, and
each fault test restores what it broke.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import ray

from livecart.core.settings import LivecartSettings
from tests.integration.serving.conftest import TOKEN, world_ids
from tests.served_world import copy_served_home, home_env

AUTH = {"authorization": f"Bearer {TOKEN}"}
MODULE_ORDER = (
    "test_fuzz",
    "test_soak",
    "test_faults_input",
    "test_faults_store",
    "test_faults_processes",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reliability: soak, fault injection and fuzzing against a served world"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run this package's modules in MODULE_ORDER (destructive faults last), in place."""
    here = Path(__file__).parent
    slots = [i for i, item in enumerate(items) if Path(str(item.path)).parent == here]

    def rank(item: pytest.Item) -> int:
        stem = Path(str(item.path)).stem
        return MODULE_ORDER.index(stem) if stem in MODULE_ORDER else len(MODULE_ORDER)

    ordered = sorted((items[i] for i in slots), key=rank)  # stable: keeps order inside a module
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item


@dataclass
class World:
    settings: LivecartSettings
    url: str
    ids: dict[str, Any]

    @property
    def viewers(self) -> list[str]:
        return list(self.ids["viewers"])

    @property
    def rooms(self) -> list[tuple[str, str, list[str]]]:
        return [tuple(r) for r in self.ids["rooms"]]  # type: ignore[misc]


@pytest.fixture(scope="module", autouse=True)
def fault_report(world: World, request: pytest.FixtureRequest) -> Iterator[None]:
    """After each fault-injection module: every outcome recorded so far, written and printed."""
    yield
    if Path(str(request.path)).stem.startswith("test_faults"):
        from tests.reliability.faults import write_report  # faults imports this module

        write_report(world, request)


@pytest.fixture(scope="package")
def reliable_settings(
    served_template: LivecartSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LivecartSettings]:
    """This suite's own copy of the run's served world, its home exported while it runs."""
    copied = copy_served_home(served_template, tmp_path_factory.mktemp("reliability"))
    with home_env(copied.model_copy(update={"serve_replicas": 2})) as settings:
        yield settings


@pytest.fixture(scope="package")
def world(reliable_settings: LivecartSettings, local_ray: None) -> Iterator[World]:
    """The Serve app of the reliability world over HTTP (Serve shut down afterwards)."""
    from ray import serve

    from serving.runner import start, stop

    if ray.is_initialized():
        serve.shutdown()  # type: ignore[no-untyped-call]  # another served world's app
    url = start(reliable_settings)
    yield World(reliable_settings, url, world_ids(reliable_settings))
    stop(reliable_settings)


RETRY_STATUSES = frozenset({500, 502, 503, 504})


@dataclass
class ClientStats:
    """What a retrying client saw: every attempt's outcome, and requests that never succeeded."""

    requests: int = 0
    attempts: int = 0
    retries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "attempts": self.attempts,
            "retries": self.retries,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "transport_errors": dict(self.transport_errors),
            "failed_requests": len(self.failed),
        }


class RetryingClient:
    """An HTTP client that retries connection errors and 5xx until a deadline (thread-safe)."""

    def __init__(self, url: str, deadline_s: float = 120.0, timeout_s: float = 30.0) -> None:
        self.url = url
        self.deadline_s = deadline_s
        self.stats = ClientStats()
        self._http = httpx.Client(base_url=url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def post(self, path: str, body: dict[str, Any], auth: bool = False) -> httpx.Response:
        headers = AUTH if auth else None
        return self._call(lambda: self._http.post(path, json=body, headers=headers), path)

    def get(self, path: str) -> httpx.Response:
        return self._call(lambda: self._http.get(path), path)

    def _call(self, send: Any, path: str) -> httpx.Response:
        stats = self.stats
        with stats.lock:
            stats.requests += 1
        until = time.monotonic() + self.deadline_s
        pause = 0.1
        last = "no attempt"
        while True:
            with stats.lock:
                stats.attempts += 1
            try:
                answer: httpx.Response = send()
                with stats.lock:
                    stats.statuses[answer.status_code] += 1
                if answer.status_code not in RETRY_STATUSES:
                    return answer
                last = f"{answer.status_code}: {answer.text[:200]}"
            except httpx.TransportError as exc:
                with stats.lock:
                    stats.transport_errors[type(exc).__name__] += 1
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() + pause > until:
                with stats.lock:
                    stats.failed.append(f"{path}: {last}")
                raise AssertionError(f"{path} never succeeded within {self.deadline_s} s: {last}")
            with stats.lock:
                stats.retries += 1
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
