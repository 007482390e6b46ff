"""The ranking stage: the registered ranker, swapped in place when a new version is promoted.

Each replica keeps a :class:`ModelHolder`. A swap loads the new version completely first and then
replaces one reference, so requests in flight finish on the version they started with and no
request is dropped; every response names the version that scored it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import numpy as np

from livecart.core.settings import LivecartSettings
from livecart.model import registry
from livecart.model.input_arrays import RankerInputs, concat_inputs
from livecart.model.scoring import DEFAULT_RANKER, LoadedRanker


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


M = TypeVar("M", bound=Versioned)


class VersionHolder(Generic[M]):
    """The current version of one registered model in one replica, reloadable while serving;
    ``loader(settings, name, version)`` loads a version completely."""

    def __init__(
        self,
        settings: LivecartSettings,
        name: str,
        loader: Callable[[LivecartSettings, str, int], M],
    ) -> None:
        self.settings, self.name, self.loader = settings, name, loader
        self._lock = threading.Lock()
        self._ranker: M | None = None
        self._checked = 0.0
        current = registry.serving_version(settings, name)
        if current is not None and not registry.promoted_history(settings, name):
            # Pin what serves now: a newly trained version serves only once promoted.
            registry.promote(settings, name, current)
        self.load()

    @property
    def ranker(self) -> M | None:
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
                self._ranker = self.loader(self.settings, self.name, wanted)
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


class ModelHolder(VersionHolder[LoadedRanker]):
    """The product ranker of one replica."""

    def __init__(self, settings: LivecartSettings, name: str = DEFAULT_RANKER) -> None:
        super().__init__(settings, name, LoadedRanker.load)


def score_inputs(ranker: LoadedRanker, parts: list[RankerInputs]) -> list[np.ndarray]:
    """One forward pass over several requests' prepared inputs, split back per request."""
    sizes = [len(p) for p in parts]
    if sum(sizes) == 0:
        return [np.zeros((0, 2), dtype=np.float32) for _ in parts]
    scores = ranker.predict(concat_inputs(parts))
    return list(np.split(scores, np.cumsum(sizes)[:-1]))
