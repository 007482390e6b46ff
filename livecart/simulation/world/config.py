"""Sizes and knobs of the synthetic live-commerce world."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from livecart.simulation.world.text import Language

Scale = Literal["tiny", "small", "medium", "large"]

# A fixed start keeps worlds reproducible and safely in the past.
WORLD_START = datetime(2026, 6, 1, tzinfo=UTC)


class WorldConfig(BaseModel):
    """Everything that determines a world; the same config and seed give the same bytes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    viewers: int = Field(gt=0)
    streamers: int = Field(gt=0)
    days: int = Field(gt=0)
    visits_per_viewer_day: float = Field(gt=0, description="Mean visits per viewer per day.")
    products_per_streamer: tuple[int, int] = (4, 12)
    featured_per_room: tuple[int, int] = (3, 6)
    favourites_per_viewer: int = 3
    seed: int = 7
    language: Language = "en"
    start: datetime = WORLD_START
    visits_per_chunk: int = Field(default=30_000, gt=0, description="Bounds memory per task.")

    @property
    def viewers_per_chunk(self) -> int:
        per_viewer = max(self.visits_per_viewer_day * self.days, 1e-9)
        return max(50, min(self.viewers, int(self.visits_per_chunk / per_viewer)))

    @property
    def chunks(self) -> int:
        return -(-self.viewers // self.viewers_per_chunk)


SCALES: dict[str, dict[str, float | int]] = {
    "tiny": {"viewers": 200, "streamers": 10, "days": 2, "visits_per_viewer_day": 1.5},
    "small": {"viewers": 2_000, "streamers": 50, "days": 7, "visits_per_viewer_day": 1.0},
    "medium": {"viewers": 20_000, "streamers": 300, "days": 14, "visits_per_viewer_day": 1.0},
    "large": {"viewers": 120_000, "streamers": 1_500, "days": 30, "visits_per_viewer_day": 0.5},
}


def world_config(scale: Scale, seed: int = 7, language: Language = "en") -> WorldConfig:
    """The config of a named scale."""
    return WorldConfig(seed=seed, language=language, **SCALES[scale])
