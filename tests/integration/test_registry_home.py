"""A copied data directory is refused by the offline readers until `livecart apply` runs there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from livecart.core.errors import StageError
from livecart.core.settings import LivecartSettings
from livecart.features.feast_store import apply
from livecart.simulation.generate import GenerateResult
from ray_jobs.features import run as build_features
from ray_jobs.materialize import run as materialize
from validation.run import run as validate

pytestmark = pytest.mark.integration


def test_materialize__copied_home__asks_for_apply_then_works(
    settings: LivecartSettings,
    tiny_world: GenerateResult,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    validate(settings)
    build_features(settings)
    apply(settings)
    copy = tmp_path / "copied"
    shutil.copytree(settings.home, copy)
    moved = settings.model_copy(update={"home": copy})
    monkeypatch.setenv("LIVECART_HOME", str(copy))
    with pytest.raises(StageError, match="livecart apply"):
        materialize(moved, use_ray=False)
    apply(moved)
    assert materialize(moved, use_ray=False).rows
