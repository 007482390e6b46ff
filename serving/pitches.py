"""Pitch feedback: what a room did with a product after the streamer pitched it, against what the
model expected.

A *pitch* is the streamer saying "I am presenting this product now", as a streamer tool would
record it: the console's "pitch this" button (or ``livecart simulate``, playing the streamer)
posts ``POST /v1/console/room/{room_id}/pitch``. The recommend replica asks the streamer assist at
that moment (:func:`pitch_record`): the product's rank among the suggestions, its expected
purchases among the viewers present and the 95 % band of a sampled audience. A pitch shows the
product to everyone present, so the model's expectation for it is exactly that figure.

The ingest replica keeps the pitches (:class:`PitchBook`: in memory, and appended to
``<home>/live/pitches.jsonl`` with an fsync before the pitch is acknowledged, so a restart loses
none) and computes the feedback from the events it already holds (the recent-events table of
:class:`serving.live_state.LiveState`, one query per room): the room's clicks, carts and purchases
of the product in the ``minutes`` after the pitch, cumulative per twentieth of the window for the
console's chart, and the same counts in as long a time before the pitch as a baseline. Once the
window has closed the purchases are judged against :func:`plausible_range` (the model's band
widened by Poisson noise on a count): above, as, or below expectation.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from scipy.stats import poisson

from livecart.core import contract as c
from livecart.core.settings import LivecartSettings
from serving.live_state import EVENTS
from serving.pitch_models import FeedbackPoint, Pitch, PitchFeedback, PitchRequest, Verdict
from serving.schemas import StreamerResponse

Fetch = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
"""Rows of a read-only query over the recent events (``LiveState.fetch``)."""
BUCKETS = 20
KEPT_PER_ROOM = 100
HORIZON = timedelta(hours=24)  # as long as the ingest replica keeps events
OUTCOMES = {
    c.EventType.CLICK.value: "clicks",
    c.EventType.ADD_TO_CART.value: "carts",
    c.EventType.PURCHASE.value: "purchases",
}
log = logging.getLogger(__name__)


def pitch_log(settings: LivecartSettings) -> Path:
    """Where the ingest replica appends the pitches it acknowledged."""
    return settings.home / "live" / "pitches.jsonl"


def pitch_record(
    response: StreamerResponse, request: PitchRequest, now: datetime | None = None
) -> Pitch:
    """The pitch of ``request.product_id`` with the expectation of ``response`` (the streamer
    assist for the room at this moment, asked for all its products).

    Raises ``LookupError`` when the product is not among them (not the room's, or out of stock).
    """
    ranked = [s.product_id for s in response.suggestions]
    if request.product_id not in ranked:
        raise LookupError(
            f"product {request.product_id!r} is not pitchable in room {response.room_id!r}: "
            f"not one of streamer {response.streamer_id!r}'s products in stock"
        )
    rank = ranked.index(request.product_id)
    suggestion = response.suggestions[rank]
    model = not response.degraded and response.model_version is not None
    expected = suggestion.expected_purchases if model else None
    return Pitch(
        pitch_id=f"pitch-{uuid.uuid4().hex}",
        room_id=response.room_id,
        streamer_id=response.streamer_id,
        product_id=suggestion.product_id,
        title=suggestion.title,
        category=suggestion.category,
        price=suggestion.price,
        pitched_at=now or datetime.now(UTC),
        minutes=request.minutes,
        rank=rank + 1,
        viewers_present=response.audience.viewers_present,
        expected_purchases=expected,
        expected_low=_band(suggestion.expected_low, expected),
        expected_high=_band(suggestion.expected_high, expected),
        model_version=response.model_version,
        degraded_reasons=response.degraded_reasons or ([] if model else ["no model"]),
        source=request.source,
    )


def _band(edge: float | None, expected: float | None) -> float | None:
    """A band's edge; the expectation itself when the audience was scored exactly."""
    return None if expected is None else expected if edge is None else edge


def plausible_range(low: float, high: float, level: float = 0.95) -> tuple[int, int]:
    """Purchase counts a right model would see: a Poisson count around any mean in the band."""
    tail = (1 - level) / 2
    return int(poisson.ppf(tail, max(low, 0.0))), int(poisson.ppf(1 - tail, max(high, 0.0)))


def verdict(pitch: Pitch, purchases: int, done: bool) -> tuple[tuple[int, int] | None, Verdict]:
    if pitch.expected_purchases is None:
        return None, "no model"
    low = pitch.expected_low if pitch.expected_low is not None else pitch.expected_purchases
    high = pitch.expected_high if pitch.expected_high is not None else pitch.expected_purchases
    span = plausible_range(low, high)
    if purchases > span[1]:  # already above, even before the window closes
        return span, "above expectation"
    if not done:
        return span, "running"
    return span, "below expectation" if purchases < span[0] else "as expected"


def feedback(
    fetch: Fetch, pitches: Sequence[Pitch], now: datetime | None = None
) -> list[PitchFeedback]:
    """Feedback of ``pitches`` (all of one room) from the recent events, in one query."""
    if not pitches:
        return []
    room = pitches[0].room_id
    if any(p.room_id != room for p in pitches):
        raise ValueError("feedback() takes the pitches of one room")
    now = now or datetime.now(UTC)
    at_ms = [int(p.pitched_at.timestamp() * 1000) for p in pitches]
    window_ms = [p.minutes * 60_000 for p in pitches]
    rows = fetch(
        f"""
        WITH p AS (SELECT unnest(?::VARCHAR[]) AS pid, unnest(?::VARCHAR[]) AS product,
                          unnest(?::BIGINT[]) AS at_ms, unnest(?::DOUBLE[]) AS window_ms),
        e AS (SELECT {c.PRODUCT_ID} AS product, {c.EVENT_TYPE} AS kind,
                     epoch_ms({c.EVENT_TIMESTAMP}) AS ts
              FROM {EVENTS} WHERE {c.ROOM_ID} = ? AND {c.EVENT_TYPE} IN (SELECT unnest(?::VARCHAR[])))
        SELECT p.pid, e.kind,
               CAST(floor((e.ts - p.at_ms) * {BUCKETS} / p.window_ms) AS BIGINT) AS bucket,
               count(*)
        FROM e JOIN p USING (product)
        WHERE e.ts >= p.at_ms - p.window_ms AND e.ts < p.at_ms + p.window_ms
        GROUP BY ALL
        """,
        [
            [p.pitch_id for p in pitches],
            [p.product_id for p in pitches],
            at_ms,
            window_ms,
            room,
            list(OUTCOMES),
        ],
    )
    counts: dict[str, dict[tuple[str, int], int]] = defaultdict(dict)
    for pid, kind, bucket, n in rows:
        counts[str(pid)][(str(kind), int(bucket))] = int(n)
    return [_one(p, counts.get(p.pitch_id, {}), now) for p in pitches]


def _one(pitch: Pitch, counts: dict[tuple[str, int], int], now: datetime) -> PitchFeedback:
    window_s = pitch.minutes * 60
    elapsed = min(max((now - pitch.pitched_at).total_seconds(), 0.0), window_s)
    done = elapsed >= window_s
    step = window_s / BUCKETS
    reached = BUCKETS if done else min(int(elapsed // step) + 1, BUCKETS)
    totals = dict.fromkeys(OUTCOMES.values(), 0)
    before = dict.fromkeys(OUTCOMES.values(), 0)
    timeline = [FeedbackPoint(t_s=0.0, clicks=0, carts=0, purchases=0)]
    for (kind, bucket), n in counts.items():
        if bucket < 0:
            before[OUTCOMES[kind]] += n
    for bucket in range(reached):
        for kind, name in OUTCOMES.items():
            totals[name] += counts.get((kind, bucket), 0)
        timeline.append(FeedbackPoint(t_s=round(min((bucket + 1) * step, elapsed), 1), **totals))
    span, judged = verdict(pitch, totals["purchases"], done)
    return PitchFeedback(
        pitch=pitch,
        status="done" if done else "running",
        elapsed_s=round(elapsed, 1),
        before=before,
        timeline=timeline,
        plausible_purchases=span,
        verdict=judged,
        **totals,
    )


class PitchBook:
    """The pitches acknowledged so far (one per ingest replica), kept in memory and on disk."""

    def __init__(self, path: Path, fetch: Fetch, now: datetime | None = None) -> None:
        self.path, self.fetch = path, fetch
        self._lock = threading.Lock()
        self._rooms: dict[str, list[Pitch]] = defaultdict(list)
        for pitch in self._load(now or datetime.now(UTC)):
            self._keep(pitch)

    def _load(self, now: datetime) -> list[Pitch]:
        if not self.path.exists():
            return []
        kept = []
        with self.path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    pitch = Pitch.model_validate(json.loads(line))
                except (ValueError, ValidationError) as exc:  # a torn last line after a crash
                    log.error("skipping unreadable pitch at %s line %d: %s", self.path, number, exc)
                    continue
                if now - pitch.pitched_at <= HORIZON:
                    kept.append(pitch)
        return kept

    def _keep(self, pitch: Pitch) -> None:
        room = self._rooms[pitch.room_id]
        room.append(pitch)
        del room[:-KEPT_PER_ROOM]

    def record(self, pitch: Pitch) -> PitchFeedback:
        """Append ``pitch`` (durably) and keep it; its feedback so far."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(pitch.model_dump_json() + "\n")
                out.flush()
                os.fsync(out.fileno())
            self._keep(pitch)
        return feedback(self.fetch, [pitch])[0]

    def latest(self, room_id: str, limit: int) -> list[Pitch]:
        """The room's last ``limit`` pitches, newest first."""
        with self._lock:
            return list(reversed(self._rooms.get(room_id, [])[-limit:]))

    def feedback(
        self, room_id: str, limit: int = 5, now: datetime | None = None
    ) -> list[PitchFeedback]:
        """Feedback of the room's last ``limit`` pitches, newest first."""
        return feedback(self.fetch, self.latest(room_id, limit), now)
