"""A registered ranker, loaded for scoring: the one contract between training and serving.

Serving fetches the feature service named in the model's metadata for its candidate rows and
passes the resulting frame here; how a frame becomes model inputs (:func:`matrices`) is defined
once, in :mod:`ray_jobs.training.examples`, and used by training and scoring alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from livecart import registry
from livecart.settings import LivecartSettings
from ray_jobs.training.examples import CATEGORY_MATCH, category_match, matrices
from ray_jobs.training.model import FusionRanker

DEFAULT_RANKER = "product_ranker"


@dataclass(frozen=True)
class LoadedRanker:
    """A ranker version ready for inference (CPU, eval mode, no gradients)."""

    record: registry.ModelRecord
    model: FusionRanker

    @property
    def version(self) -> int:
        return self.record.version

    @property
    def feature_service(self) -> str:
        return str(self.record.metadata["feature_service"])

    @property
    def with_text(self) -> bool:
        return int(self.record.config.get("text_dim", 0)) > 0

    @classmethod
    def load(
        cls, settings: LivecartSettings, name: str = DEFAULT_RANKER, version: int | None = None
    ) -> LoadedRanker:
        record, state = registry.load(settings, name, version)
        config = record.config
        model = FusionRanker(
            int(config["numeric_dim"]), int(config.get("text_dim", 0)), int(config["hidden"])
        )
        model.load_state_dict(state)
        model.eval()
        return cls(record, model)

    def inputs(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """Model inputs for a frame of feature-service columns (derived columns added here)."""
        if CATEGORY_MATCH not in frame.columns:
            frame = frame.assign(**{CATEGORY_MATCH: category_match(frame)})
        numeric, text = matrices(frame, self.with_text)
        if text is not None and text.shape[1] != self.model.text_dim:
            # No embedding row for any candidate yet: zeros of the trained width.
            text = np.zeros((len(frame), self.model.text_dim), dtype=np.float32)
        return numeric, text

    def predict(self, numeric: np.ndarray, text: np.ndarray | None) -> np.ndarray:
        """``(n, 2)`` probabilities ``[click, purchase]`` for prepared inputs."""
        if len(numeric) == 0:
            return np.zeros((0, 2), dtype=np.float32)
        with torch.inference_mode():
            logits = self.model(
                torch.as_tensor(numeric),
                torch.as_tensor(text) if text is not None else None,
            )
            out: np.ndarray = torch.sigmoid(logits).numpy()
        return out

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """``(n, 2)`` probabilities ``[click, purchase]`` for each row of ``frame``."""
        return self.predict(*self.inputs(frame))
