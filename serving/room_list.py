"""The console's room picker: every catalogue room, live ones first by audience size.

The ingest replica counts, in one query over its recent events (:func:`audience_sizes`), for each
room with events in the live window the viewers present (whose latest room entry is that room, as
the streamer assist counts its audience) and the distinct viewers seen there. The recommend
replica joins that with its catalogue (:func:`room_list`): live rooms by viewers present, then
by viewers seen, then the offline rooms by id.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from livecart.core import contract as c
from serving.live_state import EVENTS
from serving.pitch_models import RoomList, RoomListing
from serving.pitches import Fetch


def audience_sizes(
    fetch: Fetch, window_minutes: int, now: datetime | None = None
) -> dict[str, tuple[int, int]]:
    """Room -> (viewers present, viewers seen) for the rooms with events in the live window."""
    since = (now or datetime.now(UTC)) - timedelta(minutes=window_minutes)
    rows = fetch(
        f"""
        WITH recent AS (SELECT {c.VIEWER_ID} AS viewer, {c.ROOM_ID} AS room,
                               {c.EVENT_TYPE} AS kind, {c.EVENT_TIMESTAMP} AS ts
                        FROM {EVENTS} WHERE {c.EVENT_TIMESTAMP} >= ? AND {c.ROOM_ID} IS NOT NULL),
        latest AS (SELECT viewer, arg_max(room, ts) AS room FROM recent
                   WHERE kind = '{c.EventType.ENTER_ROOM.value}' GROUP BY 1),
        present AS (SELECT room, count(*) AS n FROM latest GROUP BY 1),
        seen AS (SELECT room, count(DISTINCT viewer) AS n FROM recent GROUP BY 1)
        SELECT seen.room, coalesce(present.n, 0), seen.n FROM seen LEFT JOIN present USING (room)
        """,
        [since],
    )
    return {str(room): (int(present), int(seen)) for room, present, seen in rows}


def room_list(
    rooms: pd.DataFrame, sizes: dict[str, tuple[int, int]], limit: int | None = None
) -> RoomList:
    """The catalogue's rooms (``rooms`` indexed by room id) with their audience, live first."""
    ids = [str(room) for room in rooms.index]
    live = sorted(
        (room for room in ids if room in sizes),
        key=lambda room: (-sizes[room][0], -sizes[room][1], room),
    )
    offline = sorted(room for room in ids if room not in sizes)
    order = (live + offline)[:limit] if limit else live + offline
    listed = [_listing(rooms, room, sizes.get(room)) for room in order]
    return RoomList(rooms=listed, live=len(live), total=len(ids))


def _listing(rooms: pd.DataFrame, room: str, size: tuple[int, int] | None) -> RoomListing:
    row = rooms.loc[room]
    present, seen = size or (0, 0)
    return RoomListing(
        room_id=room,
        streamer_id=_text(row.get(c.STREAMER_ID)),
        title=_text(row.get(c.TITLE)),
        category=_text(row.get(c.CATEGORY)),
        live=size is not None,
        viewers_present=present,
        viewers_seen=seen,
    )


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)
