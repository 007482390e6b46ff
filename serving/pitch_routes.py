"""The console's pitch routes: record a pitch, read what the room did since (an ``APIRouter``).

``POST /v1/console/room/{room_id}/pitch`` (bearer token: it writes a record) asks the streamer
assist of this replica for the room now, takes the product's expectation from it
(:func:`serving.pitches.pitch_record`) and has the ingest deployment keep the pitch;
``GET /v1/console/room/{room_id}/pitches`` lists the room's last pitches with their feedback
(also part of every console snapshot).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Header, HTTPException, Query

from serving.console_routes import current
from serving.pitch_models import PitchFeedback, PitchRequest
from serving.pitches import pitch_record
from serving.schemas import HARD_MAX_K, StreamerRequest
from serving.service import check_token

router = APIRouter()
LISTED = 20


@router.post("/v1/console/room/{room_id}/pitch", response_model=PitchFeedback)
async def pitch(
    room_id: str, request: PitchRequest, authorization: str | None = Header(default=None)
) -> PitchFeedback:
    """Record that the streamer pitches ``product_id`` now, with what the model expects of it."""
    deps = current()
    check_token(deps.core.settings, authorization)
    if room_id not in deps.core.catalog.rooms.index:
        raise HTTPException(status_code=404, detail=f"unknown room {room_id!r}")
    deps.core.holder.poll()
    raw = await deps.ingest.room_snapshot.remote(room_id)
    every = StreamerRequest(room_id=room_id, k=HARD_MAX_K)  # the product wherever it ranks
    response = await asyncio.to_thread(deps.core.streamer.suggest, every, raw)
    try:
        record = pitch_record(response, request)
    except LookupError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    stored = await deps.ingest.record_pitch.remote(record.model_dump(mode="json"))
    return PitchFeedback.model_validate(stored)


@router.get("/v1/console/room/{room_id}/pitches", response_model=list[PitchFeedback])
async def pitches(
    room_id: str,
    limit: int = Query(default=5, gt=0, le=LISTED),
    token: str | None = Query(default=None),
    authorization: str | None = Header(default=None),
) -> list[PitchFeedback]:
    """The room's last pitches, newest first: clicks, carts and purchases since, and the verdict."""
    deps = current()
    deps.guard(room_id, 1, authorization, token)
    answer = await deps.ingest.pitch_feedback.remote(room_id, limit)
    return [PitchFeedback.model_validate(item) for item in answer]
