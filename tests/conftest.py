"""Shared fixtures: every test gets its own livecart home under pytest's tmp_path.

Two things are shared by the whole run because they are slow to make: one local Ray
(``local_ray``) and one served world (``served_template``), which packages copy before use.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from livecart.core.settings import LivecartSettings, get_settings
from livecart.simulation.generate import GenerateResult
from livecart.simulation.generate import run as generate
from livecart.simulation.world.config import WorldConfig, world_config
from tests.served_world import build_served_home


def pytest_configure(config: pytest.Config) -> None:
    """One Ray authentication mode for every process of the run.

    Ray 2.60 turns token authentication on for each new local cluster, in the process that
    starts it (it sets ``RAY_AUTH_MODE=token`` there), and a process that imported Ray keeps the
    mode it saw. The fork server behind ``tests/forked.py`` can start before the session's
    cluster; its CLI children then connected without the token and were refused
    ("InvalidAuthToken ... RAY_AUTH_MODE is currently 'disabled'"), depending on which test
    forked first. The test clusters live on localhost for one run: authentication off, for all.
    """
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    # Each event gate would spawn a GX pass worker (a process importing GX: seconds of CPU) for
    # every world a test serves; the worker's own tests turn it on (tests/integration/test_pass_worker.py).
    os.environ.setdefault("LIVECART_GATE_PASS_WORKERS", "0")
    # Every train run would create an MLflow database in its home (~2 s); the tracking tests
    # turn it on (tests/unit/test_eval_runner.py, tests/integration/test_train.py).
    os.environ.setdefault("LIVECART_MLFLOW", "false")


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LivecartSettings]:
    """Settings whose home is a fresh temporary directory (exported for Feast)."""
    home = tmp_path / "home"
    monkeypatch.setenv("LIVECART_HOME", str(home))
    get_settings.cache_clear()
    yield LivecartSettings(home=home)
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def tiny_config() -> WorldConfig:
    return world_config("tiny", seed=11)


@pytest.fixture
def tiny_world(settings: LivecartSettings, tiny_config: WorldConfig) -> GenerateResult:
    """A tiny synthetic world (about 5,000 events) written into ``settings.raw_dir``."""
    return generate(tiny_config, settings, use_ray=False)


@pytest.fixture(scope="session")
def local_ray() -> Iterator[None]:
    """One local Ray (2 CPUs) for the whole run, shut down at its end.

    Starting and stopping Ray costs seconds each time, so tests that run jobs on Ray (Train, Data,
    tasks, Serve) request this and never shut Ray down; Serve apps are deleted or Serve is shut
    down by whoever started them. Jobs pass their settings to workers explicitly (Serve replicas
    export their own ``LIVECART_HOME``), so one Ray serves every home.
    """
    import ray

    from livecart.core.ray_runtime import ensure_ray

    with pytest.MonkeyPatch.context() as env:
        # Ray Train's controller checks on its workers every 2 s, so a fit returns up to 2 s
        # after its last epoch; this cluster's controllers (started with Ray's environment)
        # check every 0.2 s.
        env.setenv("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.2")
        ensure_ray(LivecartSettings(ray_num_cpus=2))
        yield
        ray.shutdown()


@pytest.fixture(scope="session")
def served_template(local_ray: None, tmp_path_factory: pytest.TempPathFactory) -> LivecartSettings:
    """The served world (tests/served_world.py), built once per run and never served or changed.

    A package that serves it takes a copy with ``tests.served_world.copy_served_home``.
    """
    return build_served_home(tmp_path_factory.mktemp("served-template"))
