"""The streamer console's routes (an ``APIRouter``): the page, one JSON snapshot, its SSE stream.

The routes read what they need from the replica they run in (:class:`ConsoleDeps`, attached by
the ``Recommender`` when it starts). Serve hands each replica a copy of the FastAPI app, so the
replica's parts are found through this module, not through ``request.app``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import HTMLResponse, StreamingResponse
from ray.serve.handle import DeploymentHandle

from serving.console import (
    SUGGESTIONS,
    VIEWER_PRODUCTS,
    StreamTiming,
    console_html,
    open_streams,
    room_events,
    room_snapshot,
)
from serving.live_rooms import LiveRooms
from serving.pitch_models import RoomList
from serving.room_list import room_list
from serving.schemas import HARD_MAX_K, ID_MAX, StreamerRequest, ViewerRequest, ViewerResponse
from serving.service import ServingCore, check_token

router = APIRouter()
log = logging.getLogger(__name__)
PITCHES_SHOWN = 5  # the room's last pitches in a console snapshot
ROOMS_LISTED = 200


@dataclass
class ConsoleDeps:
    """What the console routes use from their replica."""

    core: ServingCore
    ingest: DeploymentHandle[Any]
    live: LiveRooms
    viewer: Callable[[ViewerRequest], Awaitable[ViewerResponse]]

    def guard(self, room_id: str, k: int, authorization: str | None, token: str | None) -> None:
        if self.core.settings.protect_reads:
            check_token(self.core.settings, authorization or (f"Bearer {token}" if token else None))
        self.core.check_k(k)
        if room_id not in self.core.catalog.rooms.index:
            raise HTTPException(status_code=404, detail=f"unknown room {room_id!r}")

    async def snapshot(self, room_id: str, viewer_id: str | None, k: int) -> dict[str, Any]:
        self.core.holder.poll()
        answers: tuple[Any, Any] = await asyncio.gather(
            self.ingest.room_snapshot.remote(room_id),
            self.ingest.pitch_feedback.remote(room_id, PITCHES_SHOWN),
            return_exceptions=True,
        )
        raw, pitches = answers
        if isinstance(raw, BaseException):
            raise raw
        if isinstance(pitches, BaseException):  # feedback is extra: never costs the snapshot
            log.warning("pitch feedback of %s failed: %s", room_id, pitches)
            pitches = []
        request = StreamerRequest(room_id=room_id, k=k)
        streamer = await asyncio.to_thread(self.core.streamer.suggest, request, raw)
        viewer = None
        if viewer_id is not None:
            asked = ViewerRequest(
                viewer_id=viewer_id, room_id=room_id, k=VIEWER_PRODUCTS, explore=False
            )
            viewer = await self.viewer(asked)
        live = await self.live.get()
        return room_snapshot(
            self.core.catalog,
            room_id,
            streamer,
            raw,
            viewer,
            live_viewers=live.get(room_id),
            pitches=pitches,
        )


_ATTACHED: list[ConsoleDeps] = []


def attach(deps: ConsoleDeps) -> None:
    """Give this process's console routes their replica (one replica per process)."""
    _ATTACHED[:] = [deps]


def current() -> ConsoleDeps:
    """This replica's console parts (503 before the replica attached them)."""
    if not _ATTACHED:
        raise HTTPException(status_code=503, detail="console not ready")
    return _ATTACHED[0]


@router.get("/console", response_class=HTMLResponse, include_in_schema=False)
async def console() -> HTMLResponse:
    """The streamer console page (reads room_id, viewer_id and token from its own URL)."""
    return HTMLResponse(console_html(), headers={"Cache-Control": "no-cache"})


@router.get("/v1/console/rooms", response_model=RoomList)
async def console_rooms(
    limit: int = Query(default=ROOMS_LISTED, gt=0, le=10_000),
    token: str | None = Query(default=None),
    authorization: str | None = Header(default=None),
) -> RoomList:
    """Every room to pick from: live ones first (by viewers present), with audience size."""
    deps = current()
    if deps.core.settings.protect_reads:
        check_token(deps.core.settings, authorization or (f"Bearer {token}" if token else None))
    sizes = await deps.ingest.audience_sizes.remote()
    return room_list(deps.core.catalog.rooms, sizes, limit)


@router.get("/v1/console/room/{room_id}")
async def console_room(
    room_id: str,
    viewer_id: str | None = Query(default=None, min_length=1, max_length=ID_MAX),
    k: int = Query(default=SUGGESTIONS, gt=0, le=HARD_MAX_K),
    token: str | None = Query(default=None),
    authorization: str | None = Header(default=None),
) -> dict[str, Any]:
    """What the console shows for a room now, as one JSON object."""
    deps = current()
    deps.guard(room_id, k, authorization, token)
    snapshot = await deps.snapshot(room_id, viewer_id, k)
    return {**snapshot, "open_streams": open_streams()}


@router.get("/v1/stream/room/{room_id}")
async def stream_room(
    room_id: str,
    viewer_id: str | None = Query(default=None, min_length=1, max_length=ID_MAX),
    k: int = Query(default=SUGGESTIONS, gt=0, le=HARD_MAX_K),
    max_seconds: float = Query(default=StreamTiming.max_s, gt=0, le=StreamTiming.max_s),
    token: str | None = Query(default=None),
    authorization: str | None = Header(default=None),
) -> StreamingResponse:
    """Server-sent events: a ``snapshot`` of the room whenever it changes, and heartbeats.

    Without ``viewer_id`` the sample viewer is the first viewer present when the stream opens.
    """
    deps = current()
    deps.guard(room_id, k, authorization, token)
    if viewer_id is None:
        raw = await deps.ingest.room_snapshot.remote(room_id)
        viewer_id = next(iter(sorted(raw.get("audience", []))), None)
    sample = viewer_id

    async def versions() -> tuple[int, int]:
        room_v, viewer_v = await deps.ingest.versions.remote(room_id, sample)
        return int(room_v), int(viewer_v)

    async def snapshot() -> dict[str, Any]:
        return await deps.snapshot(room_id, sample, k)

    body = room_events(versions, snapshot, StreamTiming(max_s=max_seconds))
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)
