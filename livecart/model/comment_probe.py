"""Comment sentiment and purchase intent: a linear probe over the text encoder's embeddings.

Synthetic comments carry their planted kind (negative, positive, purchase-intent question) in
``<home>/truth/comment_labels``. The probe is a softmax layer on frozen sentence embeddings,
trained on the earlier comments and scored on the later ones (time split), then registered so
that serving and feature jobs can turn live comments into sentiment and intent signals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import torch

from livecart.core import contract as c
from livecart.core.errors import StageError
from livecart.core.io import table_path
from livecart.core.settings import LivecartSettings
from livecart.model import registry
from livecart.model.text_encoder import TextEncoder

PROBE = "comment_probe"


@dataclass(frozen=True)
class ProbeResult:
    accuracy: float
    majority_baseline: float
    train: int
    test: int
    record: registry.ModelRecord


def labelled_comments(settings: LivecartSettings, limit: int) -> pd.DataFrame:
    """Clean comment events with their planted kind, in time order."""
    labels = settings.truth_dir / c.TRUTH_COMMENT_LABELS
    if not any(labels.glob("part-*.parquet")):
        raise StageError("comments", f"no comment labels under {labels}", "run `livecart generate`")
    events = table_path(settings.clean_dir, c.Table.EVENTS) / "part-*.parquet"
    con = duckdb.connect()
    try:
        frame: pd.DataFrame = con.execute(
            f"SELECT e.{c.EVENT_ID}, e.{c.EVENT_TIMESTAMP}, e.{c.TEXT}, l.label "
            f"FROM read_parquet('{events}') e JOIN read_parquet('{labels}/part-*.parquet') l "
            f"USING ({c.EVENT_ID}) WHERE e.{c.EVENT_TYPE} = 'comment' "
            f"ORDER BY e.{c.EVENT_TIMESTAMP}, e.{c.EVENT_ID} LIMIT {int(limit)}"
        ).df()
    finally:
        con.close()
    return frame


def embed_unique(encoder: TextEncoder, texts: list[str]) -> np.ndarray:
    """Embeddings of ``texts``, encoding each distinct text once (live comments repeat a lot)."""
    unique = sorted(set(texts))
    vectors = encoder.encode(unique)
    position = {t: i for i, t in enumerate(unique)}
    return vectors[[position[t] for t in texts]]


def fit_probe(
    x: np.ndarray, y: np.ndarray, classes: int, seed: int, steps: int = 300
) -> torch.nn.Linear:
    torch.manual_seed(seed)
    layer = torch.nn.Linear(x.shape[1], classes)
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.05, weight_decay=1e-4)
    features, target = torch.as_tensor(x), torch.as_tensor(y)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(layer(features), target)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    return layer


def run(
    settings: LivecartSettings, limit: int = 5_000, seed: int = 7, encoder_path: Path | None = None
) -> ProbeResult:
    """Train the probe on planted comment kinds; report time-split accuracy; register it."""
    frame = labelled_comments(settings, limit)
    if len(frame) < 20:
        raise StageError(
            "comments", f"only {len(frame)} labelled comments", "generate a larger world"
        )
    encoder = TextEncoder(encoder_path or settings.encoder_path)
    x = embed_unique(encoder, frame[c.TEXT].astype(str).tolist())
    y = frame["label"].map({k: i for i, k in enumerate(c.COMMENT_KINDS)}).to_numpy(dtype=np.int64)
    cut = int(len(frame) * 0.8)
    layer = fit_probe(x[:cut], y[:cut], len(c.COMMENT_KINDS), seed)
    with torch.inference_mode():
        predicted = layer(torch.as_tensor(x[cut:])).argmax(dim=1).numpy()
    accuracy = float((predicted == y[cut:]).mean())
    majority = float(
        np.bincount(y[cut:], minlength=len(c.COMMENT_KINDS)).max() / max(len(y) - cut, 1)
    )
    record = registry.save(
        settings,
        PROBE,
        layer.state_dict(),
        config={"classes": list(c.COMMENT_KINDS), "encoder": str(encoder.path), "dim": encoder.dim},
        metadata={
            "accuracy": accuracy,
            "majority_baseline": majority,
            "train": cut,
            "test": len(frame) - cut,
        },
    )
    return ProbeResult(accuracy, majority, cut, len(frame) - cut, record)
