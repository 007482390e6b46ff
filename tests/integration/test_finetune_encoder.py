"""Encoder fine-tuning on Ray Train (2 CPU workers, a tiny BERT): the loss falls, only the last
layer moves in ``last`` mode, and the registered directory is a drop-in encoder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModel

from livecart.core.settings import LivecartSettings
from livecart.model import registry
from livecart.model.text_encoder import TextEncoder, tiny_encoder_dir
from livecart.simulation.generate import GenerateResult
from ray_jobs.features import run as build_features
from ray_jobs.finetune_encoder import ENCODER, FinetuneConfig, training_pairs
from ray_jobs.finetune_encoder import run as finetune
from validation.run import run as validate

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_finetune__last_layer_two_workers__loss_falls_and_encoder_registered(
    settings: LivecartSettings, tiny_world: GenerateResult, tmp_path: Path, local_ray: None
) -> None:
    validate(settings)
    build_features(settings)
    base = tiny_encoder_dir(tmp_path / "tiny", hidden=32)
    tuned_settings = settings.model_copy(update={"encoder_path": base, "ray_num_cpus": 2})
    pairs = training_pairs(tuned_settings, 400, seed=1)
    assert len(pairs) >= 64 and all(a and b for a, b in pairs)
    cfg = FinetuneConfig(layers="last", epochs=3, batch_size=32, lr=1e-3, max_pairs=400)
    result = finetune(tuned_settings, cfg)
    assert len(result.losses) == 3 and result.losses[-1] < result.losses[0], result.losses
    record, _ = registry.load(settings, ENCODER)
    assert record.version == 1 and record.config["layers"] == "last"
    before = AutoModel.from_pretrained(str(base), local_files_only=True).state_dict()
    after = AutoModel.from_pretrained(str(result.encoder_dir), local_files_only=True).state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(".layer.1." in k for k in changed), sorted(changed)[:5]
    vectors = TextEncoder(result.encoder_dir).encode(["red lipstick", "dog toy"])
    assert vectors.shape == (2, 32)
