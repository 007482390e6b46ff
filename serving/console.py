"""The streamer console: one live room as it happens, in a small bundled page fed by SSE.

``GET /console?room_id=...&viewer_id=...`` serves ``serving/static/console.html`` (plain HTML and
JavaScript, no build step, nothing from a CDN). The page opens an ``EventSource`` on
``GET /v1/stream/room/{room_id}``, which sends a ``snapshot`` event (audience size and
composition, comment activity and sentiment, the products to pitch next with their reasons, and a
sample viewer's recommendations) whenever the room changes, plus a heartbeat comment.

Change detection is cheap: the stream polls the ingest deployment's accepted-event counters for
the room and the sample viewer (two integers) every ``poll_s`` and builds a snapshot only when one
moved. Every ``refresh_s`` it rebuilds anyway (viewers leave the live window with no event) but
sends only when the content differs from what the page already has.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd

from livecart.core import contract as c
from serving.catalog import Catalog
from serving.schemas import StreamerResponse, ViewerResponse

PAGE = "console.html"
SUGGESTIONS = 5
VIEWER_PRODUCTS = 6
VIEWER_ROOMS = 3
COMMENTS_SHOWN = 8
RETRY_MS = 2000
_OPEN_STREAMS = [0]


def open_streams() -> int:
    """Streams open in this process. A function, not the list: Serve pickles the ingress class
    by value, and a module global it referenced directly would travel as a stale copy."""
    return _OPEN_STREAMS[0]


@cache
def console_html() -> str:
    """The bundled console page (read once per process)."""
    return (resources.files("serving") / "static" / PAGE).read_text(encoding="utf-8")


@dataclass(frozen=True)
class StreamTiming:
    """How often the stream looks for changes, rebuilds regardless, beats, and when it ends."""

    poll_s: float = 0.25
    refresh_s: float = 5.0  # picks up departures (an entry elsewhere) and window expiry
    heartbeat_s: float = 15.0
    max_s: float = 3600.0  # the browser's EventSource reconnects on its own after this


def room_snapshot(
    catalog: Catalog,
    room_id: str,
    streamer: StreamerResponse,
    raw: dict[str, Any],
    viewer: ViewerResponse | None,
    live_viewers: int | None,
    pitches: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One JSON-ready picture of the room for the console, compared for change: no clock in it
    but a running pitch's elapsed time, which moves its chart on every refresh.

    ``raw`` is the ingest deployment's ``room_snapshot`` (audience, activity, comments),
    ``live_viewers`` the room's distinct viewers in the live window (None: not live),
    ``pitches`` the feedback of the room's last pitches, newest first (:mod:`serving.pitches`).
    """
    room = room_meta(catalog.rooms, room_id)
    activity = {str(k): int(v) for k, v in sorted(raw.get("activity", {}).items())}
    comments = [str(t) for t in raw.get("comments", [])][:COMMENTS_SHOWN]
    audience = streamer.audience.model_dump(mode="json")
    audience["segments"] = dict(sorted(audience["segments"].items(), key=lambda kv: -kv[1]))
    return {
        "room": {**room, "live": live_viewers is not None, "viewers_seen": live_viewers or 0},
        "audience": audience,
        "activity": activity,
        "comments": comments,
        "suggestions": [s.model_dump(mode="json") for s in streamer.suggestions],
        "suggestions_degraded": streamer.degraded_reasons,
        "viewer": _viewer_part(viewer, catalog.products),
        "pitches": pitches or [],
        "model_version": streamer.model_version,
    }


def _viewer_part(viewer: ViewerResponse | None, products: pd.DataFrame) -> dict[str, Any] | None:
    if viewer is None:
        return None
    return {
        "viewer_id": viewer.viewer_id,
        "cold_start": viewer.cold_start,
        "degraded_reasons": viewer.degraded_reasons,
        "products": [
            {
                "product_id": p.product_id,
                "title": _title(products, p.product_id),
                "category": p.category,
                "price": p.price,
                "score": round(p.score, 4),
                "room_id": p.room_id,
                "driver": p.driver.value,
                "explanation": p.explanation,
            }
            for p in viewer.products[:VIEWER_PRODUCTS]
        ],
        "rooms": [
            {"room_id": r.room_id, "title": r.title, "score": round(r.score, 4)}
            for r in viewer.rooms[:VIEWER_ROOMS]
        ],
    }


def _title(products: pd.DataFrame, product_id: str) -> str:
    if product_id in products.index and c.TITLE in products.columns:
        return str(products.at[product_id, c.TITLE])
    return product_id


def sse(event: str, data: dict[str, Any], event_id: str | None = None) -> str:
    """One server-sent event (``data`` as one JSON line)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


HEARTBEAT = ": heartbeat\n\n"


async def room_events(
    versions: Callable[[], Awaitable[tuple[int, int]]],
    snapshot: Callable[[], Awaitable[dict[str, Any]]],
    timing: StreamTiming | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[str]:
    """The SSE body: a snapshot now, then one on each change, heartbeats in between.

    ``versions`` is the cheap poll (accepted events for the room and the viewer so far),
    ``snapshot`` the full picture. A failure becomes one ``problem`` event; the snapshot is retried
    on the next change or refresh. The stream ends after ``timing.max_s`` (the page reconnects).
    """
    _OPEN_STREAMS[0] += 1
    try:
        async for chunk in _room_events(versions, snapshot, timing or StreamTiming(), clock):
            yield chunk
    finally:  # also when the client goes away: Serve cancels the request
        _OPEN_STREAMS[0] -= 1


async def _room_events(
    versions: Callable[[], Awaitable[tuple[int, int]]],
    snapshot: Callable[[], Awaitable[dict[str, Any]]],
    timing: StreamTiming,
    clock: Callable[[], float],
) -> AsyncIterator[str]:
    began = clock()
    yield f"retry: {RETRY_MS}\n\n"
    seen: tuple[int, int] | None = None
    sent: str | None = None
    built_at = beat_at = -float("inf")
    seq, failing = 0, False
    while clock() - began < timing.max_s:
        now = clock()
        try:
            room_v, viewer_v = await versions()
            current = (int(room_v), int(viewer_v))
        except Exception as exc:
            current = seen or (0, 0)
            if not failing:
                yield sse("problem", {"detail": f"ingest unreachable ({type(exc).__name__})"})
            failing = True
        if current != seen or now - built_at >= timing.refresh_s:
            seen, built_at = current, now
            try:
                picture = await snapshot()
                failing = False
            except Exception as exc:
                picture = None
                yield sse("problem", {"detail": f"snapshot failed ({type(exc).__name__}: {exc})"})
            body = json.dumps(picture, sort_keys=True) if picture is not None else sent
            if picture is not None and body != sent:
                sent, seq, beat_at = body, seq + 1, now
                message = {
                    **picture,
                    "seq": seq,
                    "room_events": current[0],
                    "viewer_events": current[1],
                    "generated_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                }
                yield sse("snapshot", message, event_id=f"{current[0]}.{current[1]}.{seq}")
        if now - beat_at >= timing.heartbeat_s:
            beat_at = now
            yield HEARTBEAT
        await asyncio.sleep(timing.poll_s)
    yield sse("bye", {"detail": "stream closed after max_s; the page reconnects"})


def room_meta(rooms: pd.DataFrame, room_id: str) -> dict[str, Any]:
    """Id, streamer, title and category of a catalogue room (``rooms`` indexed by room id)."""
    row = rooms.loc[room_id]
    meta: dict[str, Any] = {c.ROOM_ID: room_id}
    for key in (c.STREAMER_ID, c.TITLE, c.CATEGORY):
        value = row.get(key)
        meta[key] = None if value is None or pd.isna(value) else str(value)
    return meta
