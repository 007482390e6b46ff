"""`livecart refresh` on the served world: a candidate is trained and promoted only if better."""

from __future__ import annotations

import pytest

from livecart.core.settings import LivecartSettings
from livecart.model import registry
from ray_jobs.refresh import RefreshConfig
from ray_jobs.refresh import run as refresh
from ray_jobs.train import TrainConfig

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_refresh__forced__candidate_compared_on_holdout_and_promoted_only_if_better(
    served_settings: LivecartSettings,
) -> None:
    name = registry.DEFAULT_RANKER
    before = registry.serving_version(served_settings, name)
    cfg = RefreshConfig(
        force_retrain=True,
        train=TrainConfig(epochs=2, num_workers=1, hidden=16, batch_size=256, item_dim=8),
    )
    result = refresh(served_settings, cfg)
    assert "forced" in result.retrain_reasons and result.serving_version == before
    assert result.candidate_version is not None and result.candidate_version > (before or 0)
    assert result.serving_auc is not None and result.candidate_auc is not None
    after = registry.serving_version(served_settings, name)
    if result.candidate_auc > result.serving_auc:
        assert result.promoted and after == result.candidate_version
    else:
        assert not result.promoted and after == before
    assert result.feature_rows and result.materialized_rows is not None


def test_refresh__no_drift__keeps_model_without_training(served_settings: LivecartSettings) -> None:
    cfg = RefreshConfig(new_events_fraction=1.0, auc_drop=1.0)
    result = refresh(served_settings, cfg)
    assert result.retrain_reasons == [] and result.candidate_version is None
    assert (
        registry.serving_version(served_settings, registry.DEFAULT_RANKER) == result.serving_version
    )
