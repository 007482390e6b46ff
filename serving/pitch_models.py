"""Request and response models of the console's pitch and room-list endpoints.

Kept beside :mod:`serving.schemas` (the recommend and event endpoints) so the console's endpoints
can grow without touching the core API's models; the same conventions: ``extra="forbid"`` on
requests, hard ceilings on sizes and ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from serving.schemas import ID_MAX

FEEDBACK_MINUTES = 5.0
"""Default window after a pitch in which the room's clicks, carts and purchases count for it."""
MAX_FEEDBACK_MINUTES = 60.0
PitchSource = Literal["console", "simulate", "api"]
Verdict = Literal["running", "above expectation", "as expected", "below expectation", "no model"]


class PitchRequest(BaseModel):
    """``POST /v1/console/room/{room_id}/pitch``: the streamer presents ``product_id`` now."""

    model_config = ConfigDict(extra="forbid")

    product_id: str = Field(min_length=1, max_length=ID_MAX)
    minutes: float = Field(
        default=FEEDBACK_MINUTES,
        gt=0,
        le=MAX_FEEDBACK_MINUTES,
        description="Window after the pitch whose clicks, carts and purchases count for it.",
    )
    source: PitchSource = Field(default="api", description="Who pitched (for the record).")


class Pitch(BaseModel):
    """One pitch as recorded: the product, when, and what the model expected at that moment."""

    model_config = ConfigDict(extra="forbid")

    pitch_id: str = Field(min_length=1, max_length=ID_MAX)
    room_id: str = Field(min_length=1, max_length=ID_MAX)
    streamer_id: str
    product_id: str = Field(min_length=1, max_length=ID_MAX)
    title: str
    category: str
    price: float
    pitched_at: datetime
    minutes: float = Field(gt=0, le=MAX_FEEDBACK_MINUTES)
    rank: int | None = Field(description="The product's place among the suggestions (1: top).")
    viewers_present: int = Field(ge=0)
    expected_purchases: float | None = Field(
        description="The model's expected purchases among the viewers present (None: degraded)."
    )
    expected_low: float | None = None  # the 95 % band of a sampled audience (else = expected)
    expected_high: float | None = None
    model_version: int | None = None
    degraded_reasons: list[str] = Field(default_factory=list)
    source: PitchSource = "api"


class FeedbackPoint(BaseModel):
    """Cumulative counts since the pitch at ``t_s`` seconds after it (a bucket's end)."""

    t_s: float
    clicks: int
    carts: int
    purchases: int


class PitchFeedback(BaseModel):
    """What the room did with the product after the pitch, against what the model expected."""

    pitch: Pitch
    status: Literal["running", "done"]
    elapsed_s: float = Field(description="Seconds since the pitch, at most the window.")
    clicks: int
    carts: int
    purchases: int
    before: dict[str, int] = Field(
        description="Clicks, carts and purchases of the product in the room in the same length "
        "of time before the pitch (a baseline)."
    )
    timeline: list[FeedbackPoint]
    plausible_purchases: tuple[int, int] | None = Field(
        description="95 % range of the purchase count if the model is right (its band widened "
        "by Poisson noise); None without an expectation."
    )
    verdict: Verdict


class RoomListing(BaseModel):
    """One room of ``GET /v1/console/rooms``."""

    room_id: str
    streamer_id: str | None
    title: str | None
    category: str | None
    live: bool = Field(description="Events in the live window.")
    viewers_present: int = Field(description="Viewers whose latest room entry is this room.")
    viewers_seen: int = Field(description="Distinct viewers with events here in the live window.")


class RoomList(BaseModel):
    rooms: list[RoomListing]
    live: int
    total: int
