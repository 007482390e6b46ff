"""The comment probe separates praise, complaints and purchase-intent questions (real MiniLM)."""

from __future__ import annotations

import pytest

from livecart import registry
from livecart.settings import LivecartSettings
from ray_jobs.generate import run as generate
from ray_jobs.text.comments import PROBE
from ray_jobs.text.comments import run as train_probe
from ray_jobs.world.config import world_config
from validation.run import run as validate

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_comment_probe__beats_majority_class_on_later_comments(settings: LivecartSettings) -> None:
    generate(world_config("small", seed=2), settings, use_ray=False)
    validate(settings)
    result = train_probe(settings, limit=2_000)
    assert result.test >= 100
    assert result.accuracy > max(0.8, result.majority_baseline + 0.2), result
    record, state = registry.load(settings, PROBE)
    assert record.config["classes"] == ["negative", "positive", "intent"] and "weight" in state
