"""The fusion ranker on a CUDA device: the training step `ray_jobs/train.py` runs there (autocast +
GradScaler) learns, and the GPU's forward pass agrees with the CPU's. Skipped without CUDA (CI has
none); run on an accelerator with ``pytest --noconftest -m gpu tests/unit/test_gpu_ranker.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from livecart.core import feature_names as f
from livecart.model.build_inputs import NUMERIC_FEATURES
from livecart.model.ranker import FusionRanker

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

TEXT_DIM, VOCAB = 16, [f"p{i}" for i in range(50)]


def _batch(rng: np.random.Generator, n: int) -> tuple[list[np.ndarray], np.ndarray]:
    numeric = rng.normal(size=(n, len(NUMERIC_FEATURES))).astype(np.float32)
    text = rng.normal(size=(n, TEXT_DIM)).astype(np.float32)
    graph = rng.normal(size=(n, f.GRAPH_DIM)).astype(np.float32)
    history = rng.integers(0, len(VOCAB) + 2, size=(n, f.LAST_ITEMS))
    candidate = rng.integers(2, len(VOCAB) + 2, size=n)
    # Planted signal: clicks follow the first numeric input, purchases the text vector's first dim.
    labels = np.stack([numeric[:, 0] > 0, text[:, 0] > 0.5], axis=1).astype(np.float32)
    return [numeric, text, graph, history, candidate], labels


def _model() -> FusionRanker:
    config = {
        "numeric_dim": len(NUMERIC_FEATURES),
        "text_dim": TEXT_DIM,
        "graph_dim": f.GRAPH_DIM,
        "hidden": 32,
        "item_dim": 16,
        "product_vocab": VOCAB,
    }
    return FusionRanker.from_config(config)


def test_training_step__cuda_autocast_and_grad_scaler__loss_falls() -> None:
    torch.manual_seed(0)
    device = torch.device("cuda")
    model = _model().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scaler = torch.amp.GradScaler("cuda", enabled=True)
    loss_fn = nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(200):
        arrays, labels = _batch(rng, 256)
        x = [torch.as_tensor(a, device=device) for a in arrays]
        y = torch.as_tensor(labels, device=device)
        with torch.autocast(device_type="cuda", enabled=True):
            loss = loss_fn(model(*x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.append(float(loss.detach()))
    assert np.isfinite(losses).all()
    assert np.mean(losses[-20:]) < 0.6 * np.mean(losses[:20]), losses[::20]


def test_forward__cuda_matches_cpu() -> None:
    torch.manual_seed(1)
    model = _model().eval()
    arrays, _ = _batch(np.random.default_rng(1), 512)
    with torch.inference_mode():
        cpu = model(*(torch.as_tensor(a) for a in arrays))
        gpu = model.to("cuda")(*(torch.as_tensor(a, device="cuda") for a in arrays)).cpu()
    torch.testing.assert_close(gpu, cpu, atol=1e-4, rtol=1e-4)
