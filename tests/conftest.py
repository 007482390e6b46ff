"""Shared fixtures: every test gets its own livecart home under pytest's tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from livecart.core.settings import LivecartSettings, get_settings
from livecart.simulation.generate import GenerateResult
from livecart.simulation.generate import run as generate
from livecart.simulation.world.config import WorldConfig, world_config


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
