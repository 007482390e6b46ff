"""A viewer request between its stages: retrieved and read (``prepare``), then ranked and
finished into a response (``finish``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from livecart.model.input_arrays import RankerInputs
from serving.retrieve import Candidates, ViewerContext
from serving.room_ranking import RoomReads
from serving.schemas import ViewerRequest


class FreshCounts(NamedTuple):
    """Per candidate: its live impressions and clicks of the last 30 minutes (0 where none)."""

    impressions: np.ndarray
    clicks: np.ndarray


@dataclass
class Prepared:
    request: ViewerRequest
    context: ViewerContext | None
    candidates: Candidates
    live: dict[str, int]
    version: int | None
    timings: dict[str, float] = field(default_factory=dict)
    degraded: list[str] = field(default_factory=list)
    inputs: RankerInputs | None = None  # the ranker's inputs (known viewers only)
    fresh: FreshCounts | None = None  # None: the features were not read
    rooms: RoomReads | None = None  # the room ranker's reads (None: rooms by best product)

    @property
    def rankable(self) -> bool:
        """Whether the model ranks this request (a known viewer with candidates and inputs)."""
        return self.inputs is not None and len(self.inputs) > 0
