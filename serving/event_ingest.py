"""The event ingest deployment: one replica that admits events and keeps features fresh.

One replica on purpose: the DuckDB online store takes one writer at a time, and the live counters
need one consistent order of events. It is light (validation, an append, a few small SQL queries
and a push per batch), so recommend replicas scale out while this stays single; on a Ray cluster
it still runs once, and the online store can be swapped for Redis via ``feature_store.yaml``.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from ray import serve

from livecart.core import contract as c
from livecart.core.settings import LivecartSettings
from livecart.core.stages import Stages
from livecart.features.feast_store import feature_store
from serving.event_gate import EventGate
from serving.live_state import LiveState
from serving.pitch_models import Pitch
from serving.pitches import PitchBook, pitch_log
from serving.room_list import audience_sizes
from serving.schemas import EventIn, EventsResponse


class EventIngestor:
    """Admission + live state, usable in-process (tests, replay) or inside the deployment."""

    def __init__(self, settings: LivecartSettings) -> None:
        settings.export_env()
        self.settings = settings
        self.store = feature_store(settings)
        self.gate = EventGate(settings)
        self.state = LiveState(settings, self.store)
        self._lock = threading.Lock()  # one batch at a time: duplicates are judged in order
        # Accepted events per room and per viewer: a cheap "has anything changed" for watchers.
        self.room_versions: Counter[str] = Counter()
        self.viewer_versions: Counter[str] = Counter()

    def ingest(self, events: list[EventIn]) -> EventsResponse:
        stages = Stages()
        with self._lock:
            admission = self.gate.admit(events, stages=stages)
            began = time.perf_counter()
            pushed = self.state.add(admission.accepted, stages)
            for counter, column in (
                (self.room_versions, c.ROOM_ID),
                (self.viewer_versions, c.VIEWER_ID),
            ):
                if column in admission.accepted.column_names:
                    keys = admission.accepted.column(column).to_pylist()
                    counter.update(str(k) for k in keys if k)
        return EventsResponse(
            accepted=admission.accepted.num_rows,
            quarantined=admission.quarantined,
            pushed_views=pushed,
            offline_part=admission.offline_part,
            accepted_at=datetime.now(UTC),
            push_ms=round((time.perf_counter() - began) * 1000, 3),
            stages_ms=stages.ms,
        )

    def room_snapshot(self, room_id: str) -> dict[str, Any]:
        return {
            "audience": self.state.audience(room_id),
            "activity": self.state.room_activity(room_id),
            "comments": self.state.recent_comments(room_id),
        }


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=32)
class EventIngest:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.core = EventIngestor(LivecartSettings(**settings))
        self.pitches = PitchBook(pitch_log(self.core.settings), self.core.state.fetch)
        # The catalogue's id sets, the stored event ids and the recent events live as long as the
        # replica: out of the cyclic collector's full passes (as the recommend replicas do).
        gc.collect()
        gc.freeze()

    def ingest(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        parsed = [EventIn.model_validate(e) for e in events]
        return self.core.ingest(parsed).model_dump(mode="json")

    def live_rooms(self) -> dict[str, int]:
        return self.core.state.live_rooms()

    def room_snapshot(self, room_id: str) -> dict[str, Any]:
        return self.core.room_snapshot(room_id)

    def versions(self, room_id: str, viewer_id: str | None = None) -> tuple[int, int]:
        """Accepted events so far for the room and the viewer (cheap; for change polling)."""
        core = self.core
        return core.room_versions[room_id], (core.viewer_versions[viewer_id] if viewer_id else 0)

    def record_pitch(self, pitch: dict[str, Any]) -> dict[str, Any]:
        """Keep a pitch (:mod:`serving.pitches`); the room's console sees it as a change."""
        recorded = Pitch.model_validate(pitch)
        answer = self.pitches.record(recorded)
        self.core.room_versions[recorded.room_id] += 1
        return answer.model_dump(mode="json")

    def pitch_feedback(self, room_id: str, limit: int = 5) -> list[dict[str, Any]]:
        """The room's last pitches, newest first, with what the room did since each."""
        return [f.model_dump(mode="json") for f in self.pitches.feedback(room_id, limit)]

    def audience_sizes(self) -> dict[str, tuple[int, int]]:
        """Live room -> (viewers present, viewers seen) (the console's room list)."""
        window = self.core.settings.live_window_minutes
        return audience_sizes(self.core.state.fetch, window)

    def reload(self) -> None:
        """After a feature refresh: new catalogue ids, re-based lifetime totals."""
        self.core.gate.reload_references()
        self.core.state.reset_totals()

    def check_health(self) -> None:
        self.core.state.size  # noqa: B018 - raises if the in-memory DuckDB is gone
