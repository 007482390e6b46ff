"""The ranking stage: the registered ranker, swapped in place when a new version is promoted.

Each replica keeps a :class:`ModelHolder`. A swap loads the new version completely first and then
replaces one reference, so requests in flight finish on the version they started with and no
request is dropped; every response names the version that scored it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from feast import FeatureStore

from livecart.core.settings import LivecartSettings
from livecart.features.online_columns import read_columns
from livecart.model import registry
from livecart.model.build_inputs import FeatureColumns, FrameColumns
from livecart.model.input_arrays import RankerInputs, concat_inputs
from livecart.model.scoring import DEFAULT_RANKER, LoadedRanker
from livecart.online.frames import read_frame, to_pandas
from livecart.online.plan import ServicePlan
from livecart.online.store import STORE_TYPE


class ModelHolder:
    """The current ranker of one replica, reloadable while serving."""

    def __init__(self, settings: LivecartSettings, name: str = DEFAULT_RANKER) -> None:
        self.settings, self.name = settings, name
        self._lock = threading.Lock()
        self._ranker: LoadedRanker | None = None
        self._checked = 0.0
        current = registry.serving_version(settings, name)
        if current is not None and not registry.promoted_history(settings, name):
            # Pin what serves now: a newly trained version serves only once promoted.
            registry.promote(settings, name, current)
        self.load()

    @property
    def ranker(self) -> LoadedRanker | None:
        return self._ranker

    @property
    def version(self) -> int | None:
        ranker = self._ranker
        return ranker.version if ranker is not None else None

    def load(self, version: int | None = None) -> int | None:
        """Load ``version`` (None: the promoted one); returns the version now serving."""
        wanted = (
            version if version is not None else registry.serving_version(self.settings, self.name)
        )
        if wanted is None:
            return None
        with self._lock:
            if self._ranker is None or self._ranker.version != wanted:
                self._ranker = LoadedRanker.load(self.settings, self.name, wanted)
        return wanted

    def poll(self) -> None:
        """Follow the promotion pointer, at most every ``model_poll_seconds``."""
        now = time.monotonic()
        if now - self._checked < self.settings.model_poll_seconds:
            return
        self._checked = now
        wanted = registry.serving_version(self.settings, self.name)
        if wanted is not None and wanted != self.version:
            self.load(wanted)


ColumnsReader = Callable[[FeatureStore, ServicePlan, Mapping[str, Sequence[Any]]], FeatureColumns]


def feature_columns(
    store: FeatureStore, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]
) -> FeatureColumns:
    """The ranker's feature columns for ``entities``: straight from livecart's online store, or
    through Feast's ``get_online_features`` (:func:`read_frame`) on any other store."""
    if store.config.online_store.type == STORE_TYPE:
        return read_columns(store, plan, entities)
    return frame_columns(store, plan, entities)


def frame_columns(
    store: FeatureStore, plan: ServicePlan, entities: Mapping[str, Sequence[Any]]
) -> FeatureColumns:
    """The same columns through an Arrow table and a pandas frame (any store; the baseline of
    ``livecart bench pipeline``)."""
    return FrameColumns(to_pandas(read_frame(store, plan, entities)))


def score_inputs(ranker: LoadedRanker, parts: list[RankerInputs]) -> list[np.ndarray]:
    """One forward pass over several requests' prepared inputs, split back per request."""
    sizes = [len(p) for p in parts]
    if sum(sizes) == 0:
        return [np.zeros((0, 2), dtype=np.float32) for _ in parts]
    scores = ranker.predict(concat_inputs(parts))
    return list(np.split(scores, np.cumsum(sizes)[:-1]))
