"""Live rooms for a viewer: ranked by their best candidate's score."""

from __future__ import annotations

import numpy as np

from serving.catalog import Catalog
from serving.retrieve import LiveNow
from serving.schemas import RecommendedRoom


def rank_live_rooms(
    catalog: Catalog,
    products: list[str],
    streamer_codes: np.ndarray,
    scores: np.ndarray,
    now: LiveNow,
    live: dict[str, int],
    k: int,
) -> list[RecommendedRoom]:
    """Live rooms ranked by their best candidate's score (ties: the earlier candidate)."""
    by_code, rooms = now.room_by_streamer, now.room_ids
    order = np.argsort(-scores, kind="stable")
    room_index = by_code[streamer_codes[order]]
    live_rows = room_index >= 0
    _, first = np.unique(room_index[live_rows], return_index=True)
    best = order[live_rows][np.sort(first)[:k]]  # best first: scores fall along ``order``
    out = []
    for i in best.tolist():
        room = rooms[by_code[streamer_codes[i]]]
        out.append(
            RecommendedRoom(
                room_id=room,
                streamer_id=catalog.room_streamer[room],
                title=catalog.room_title[room],
                score=round(float(scores[i]), 6),
                explanation=f"{live.get(room, 0)} viewers live now; "
                f"best match: {catalog.title_of[products[i]]}",
            )
        )
    return out
