"""A registered ranker, loaded for scoring: the one contract between training and serving.

Serving fetches the feature service named in the model's metadata for its candidate rows and
passes the resulting frame here; how a frame becomes model inputs (:func:`ranker_inputs`) is
defined once, in :mod:`livecart.model.build_inputs`, and used by training and scoring alike. The
product vocabulary and its text vectors (for the viewer's recent products) come with the artifact;
everything else comes from the online feature frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import torch

from livecart.core.settings import LivecartSettings
from livecart.model import registry
from livecart.model.build_inputs import (
    NUMERIC_FEATURES,
    FeatureColumns,
    ranker_inputs,
    token_vocabulary,
)
from livecart.model.folded import FoldedRanker
from livecart.model.input_arrays import RankerInputs, TableRows
from livecart.model.ranker import FusionRanker

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
        model = FusionRanker.from_config(record.config)
        model.load_state_dict(state)
        model.eval()
        return cls(record, model)

    @cached_property
    def token_ids(self) -> dict[str, int]:
        """The product vocabulary's token ids (built once per loaded version)."""
        return token_vocabulary(self.record.config.get("product_vocab", []))

    def inputs(self, columns: FeatureColumns | pd.DataFrame) -> RankerInputs:
        """Model inputs for feature-service columns (derived columns added here); text vectors
        as rows of the source's table (see :meth:`predict`)."""
        config = self.record.config
        return ranker_inputs(
            columns,
            config.get("numeric_features", NUMERIC_FEATURES),
            self.token_ids,
            int(config.get("text_dim", 0)),
            int(config.get("graph_dim", 0)),
            shared_text=True,
            behaviour=self.model.behaviour is not None,
            viewer_text_dim=int(config.get("viewer_text_dim", 0)),
        )

    def predict(self, inputs: RankerInputs) -> np.ndarray:
        """``(n, 2)`` probabilities ``[click, purchase]`` for prepared inputs.

        A model without a behaviour encoder is scored by its :class:`FoldedRanker` (the same
        function in fewer numpy steps). Its text given as :class:`TableRows` goes through the
        text branch and the first layer's text block once per table (all of its rows, cached),
        and each request gathers its rows of the result: projecting 500 x 384 text floats per
        request was a third of a forward pass. A model with a behaviour encoder (which also
        reads the raw text) runs in torch on dense rows.
        """
        if len(inputs) == 0:
            return np.zeros((0, 2), dtype=np.float32)
        folded = self.folded
        if folded is not None:
            text_first = None
            if isinstance(inputs.text, TableRows):
                text_first = self._text_first(inputs.text.table)[inputs.text.rows]
            elif inputs.text is not None:
                text_first = folded.text_first(inputs.text)
            match = self._match(folded, inputs) if folded.match_w is not None else None
            return folded.probabilities(inputs.numeric, text_first, inputs.graph, match)
        dense = inputs.dense()
        with torch.inference_mode():
            logits = self.model(
                *(None if a is None else torch.as_tensor(a) for a in dense.in_forward_order())
            )
            out: np.ndarray = torch.sigmoid(logits).numpy()
        return out

    @cached_property
    def folded(self) -> FoldedRanker | None:
        """The model folded for numpy scoring (None with a behaviour encoder)."""
        return FoldedRanker.of(self.model)

    @cached_property
    def _tables(self) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
        return {}

    def _per_table(
        self, kind: str, table: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]
    ) -> np.ndarray:
        """``fn`` of each row of ``table``, and last of a zero vector (so row -1, an absent
        vector, reads that of zeros), computed once per table and kind."""
        key = (kind, id(table))
        cached = self._tables.get(key)
        if cached is None or cached[0] is not table:
            padded = np.concatenate([table, np.zeros((1, table.shape[1]), dtype=table.dtype)])
            if len(self._tables) >= 8:  # tables of past states: let them go
                self._tables.clear()
            cached = self._tables[key] = (table, fn(padded))
        return cached[1]

    def _text_first(self, table: np.ndarray) -> np.ndarray:
        """The folded first layer's text part for each row of ``table``."""
        assert self.folded is not None
        return self._per_table("text_first", table, self.folded.text_first)

    def _match(self, folded: FoldedRanker, inputs: RankerInputs) -> np.ndarray:
        """``(n, match_dim)``: the viewer's words and the candidate's text, each through the
        match's projection, multiplied. The candidates' table is projected once (cached); the
        viewer's words once per distinct viewer row (a request's rows share one viewer)."""
        text, words = inputs.text, inputs.viewer_text
        if text is None:
            raise ValueError("the model matches the viewer's words to text, but has no text")
        if isinstance(text, TableRows):
            candidates = self._per_table("match", text.table, folded.project_match)[text.rows]
        else:
            candidates = folded.project_match(text)
        if words is None:
            viewers = np.zeros_like(candidates)
        elif isinstance(words, TableRows):
            distinct, inverse = np.unique(words.rows, return_inverse=True)
            viewers = folded.project_match(TableRows(words.table, distinct).dense())[inverse]
        else:
            viewers = folded.project_match(words)
        out: np.ndarray = candidates * viewers
        return out

    def score(self, columns: FeatureColumns | pd.DataFrame) -> np.ndarray:
        """``(n, 2)`` probabilities ``[click, purchase]`` for each row of ``columns``."""
        return self.predict(self.inputs(columns))
