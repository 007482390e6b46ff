"""Request and response models of the serving API (one pair per endpoint, OpenAPI from these).

Limits that depend on settings (k, batch size, text length) are checked in the routes against
:class:`~livecart.core.settings.LivecartSettings`; the hard ceilings here keep absurd payloads out
before any work is done.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

HARD_MAX_K = 200
HARD_MAX_EVENTS = 10_000
ID_MAX = 128


def printable(text: str) -> str:
    """``text`` with lone surrogates escaped (``\\ud800``): what a client sent, fit to echo.

    JSON may carry ``"\\ud800"``, and Python decodes it to a lone surrogate that no UTF-8 encoder
    (a JSON response, Parquet, a log line) accepts.
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _utf8(text: str) -> str:
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise ValueError("not valid UTF-8 (a lone surrogate)")
    return text


Text = Annotated[str, AfterValidator(_utf8)]
"""A request string: refused (422, naming the field) if it holds a lone surrogate."""
Id = Annotated[Text, Field(min_length=1, max_length=ID_MAX)]
Echo = Annotated[str, AfterValidator(printable)]
"""A response string that may repeat what a client sent."""


class Driver(StrEnum):
    """Which profile drove a recommendation (what the explanation names)."""

    BEHAVIOR = "behavior"
    INTERACTION = "interaction"
    TEXT = "text_similarity"
    POPULARITY = "popularity"
    EXPLORATION = "exploration"
    AUDIENCE = "audience"


class ViewerFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: list[Text] | None = Field(default=None, max_length=50)
    max_price: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    live_only: bool = Field(default=True, description="Only products of rooms that are live now.")


class ViewerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    viewer_id: Id
    room_id: Id | None = None
    k: int = Field(default=10, gt=0, le=HARD_MAX_K)
    filters: ViewerFilters = Field(default_factory=ViewerFilters)
    explore: bool = Field(default=True, description="Let the exploration budget fill some slots.")


class RecommendedProduct(BaseModel):
    product_id: str
    streamer_id: str
    room_id: str | None
    category: str
    price: float
    score: float
    p_click: float
    p_purchase: float
    sources: list[str]
    driver: Driver
    explanation: str


class RecommendedRoom(BaseModel):
    room_id: str
    streamer_id: str
    title: str
    score: float
    explanation: str


class ViewerResponse(BaseModel):
    viewer_id: str
    products: list[RecommendedProduct]
    rooms: list[RecommendedRoom]
    model_version: int | None
    degraded: bool = False
    degraded_reasons: list[str] = Field(default_factory=list)
    cold_start: bool = False
    candidates: int = 0
    timings_ms: dict[str, float] = Field(default_factory=dict)


class StreamerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room_id: Id
    k: int = Field(default=5, gt=0, le=HARD_MAX_K)


class PitchSuggestion(BaseModel):
    product_id: str
    title: str
    category: str
    price: float
    score: float
    expected_purchases: float
    expected_low: float | None = None  # the 95 % band when the audience was sampled
    expected_high: float | None = None
    explanation: str


class AudienceSummary(BaseModel):
    viewers_present: int
    viewers_scored: int = 0  # all present (exact) or a uniform sample of them
    segments: dict[str, int]
    top_categories: dict[str, float]
    comment_sentiment: float | None
    purchase_intent: float | None
    recent_comments: int
    likes_5m: int


class StreamerResponse(BaseModel):
    room_id: str
    streamer_id: str
    suggestions: list[PitchSuggestion]
    audience: AudienceSummary
    model_version: int | None
    degraded: bool = False
    degraded_reasons: list[str] = Field(default_factory=list)


class EventIn(BaseModel):
    """One raw event as a client sends it; types are checked by the contract, not here.

    Fields are loose on purpose: a wrong type or a missing field must come back as a quarantine
    row with its reason, beside the valid events of the same batch, not as a 422 for all.
    """

    model_config = ConfigDict(extra="allow")

    event_id: Any = None
    event_type: Any = None
    event_timestamp: Any = None
    viewer_id: Any = None
    room_id: Any = None
    streamer_id: Any = None
    product_id: Any = None
    watch_seconds: Any = None
    amount: Any = None
    gift_value: Any = None
    text: Any = None

    @model_validator(mode="before")
    @classmethod
    def _printable_keys(cls, data: Any) -> Any:
        """Lone surrogates in field names escaped: pydantic refuses such a key, which would turn
        one unknown field into a 422 for the whole batch instead of this event's quarantine."""
        if isinstance(data, dict):
            return {printable(k) if isinstance(k, str) else k: v for k, v in data.items()}
        return data


class EventsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=HARD_MAX_EVENTS)


class QuarantinedEvent(BaseModel):
    index: int
    event_id: Echo | None
    reason: Echo


class EventsResponse(BaseModel):
    accepted: int
    quarantined: list[QuarantinedEvent]
    pushed_views: list[str]
    offline_part: str | None
    accepted_at: datetime
    push_ms: float
    stages_ms: dict[str, float] = Field(
        default_factory=dict,
        description="Time in each stage of the batch's way online, in ms: typing, validate "
        "(the GX suite), append (offline store and quarantine), recompute (fresh rows), push.",
    )


class ReloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, gt=0, description="None: the promoted version.")


class ReloadResponse(BaseModel):
    model_version: int | None
    previous_version: int | None


class Health(BaseModel):
    status: str
    model_version: int | None = None
    details: dict[str, Any] = Field(default_factory=dict)
