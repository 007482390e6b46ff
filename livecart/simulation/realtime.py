"""A generated live session kept running against a server in real time (``livecart simulate``).

What a newcomer needs to see the console move, from the parts the demo already has:

- the rooms' background: the busiest hour of the ``rooms`` busiest rooms of the world's log
  (:func:`livecart.simulation.live_session.session_events`), replayed in order at ``rate`` events
  a second, each event re-stamped to now with a fresh id, from the start again when it runs out
  (viewers entering, watching, liking, commenting, clicking, buying);
- one sample viewer per room (the room's most active viewer in that hour) who enters at once and
  every ``feed_every_s`` asks ``/v1/recommend/viewer`` in the room and answers the feed through
  the world's oracle (:func:`livecart.simulation.session.respond`: impressions, then the planted
  click, cart and purchase funnel), so the console's sample viewer's feed follows what they did;
- the streamer: every ``pitch_every_s``, in turn per room, the top suggestion of
  ``/v1/recommend/streamer`` is pitched (``POST /v1/console/room/{room_id}/pitch``) and every
  viewer present in the room sees it and answers through the oracle within ``answer_spread_s``;
  the console's pitch-feedback chart then shows what the model expected and what the room did.

Without planted truth (a world ingested from Twitch, say) the background still plays, and pitches
are recorded, but nobody answers a feed or a pitch. It stops by itself after ``seconds``.
Everything goes through the public HTTP API with the settings' bearer token; the events land in
the offline store like any others (their ids start with ``live-``).
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from livecart.core import contract as c
from livecart.core.errors import LivecartError
from livecart.core.settings import LivecartSettings
from livecart.simulation.live_session import restamp, session_events
from livecart.simulation.oracle import Oracle, has_truth, load_oracle
from livecart.simulation.session import Memory, ReplayConfig, Session, respond
from serving.pitch_models import MAX_FEEDBACK_MINUTES

FAILURES_TOLERATED = 10  # consecutive failed ticks before giving up (the server went away)
PITCH_KEYS = (
    "room_id",
    "product_id",
    "title",
    "viewers_present",
    "expected_purchases",
    "degraded_reasons",
)
FEEDBACK_KEYS = ("purchases", "clicks", "carts", "status", "verdict")
ANSWER_DELAYS_S = {"impression": 0.0, "click": 1.0, "add_to_cart": 3.0, "purchase": 6.0}


class SimulateConfig(BaseModel):
    """How long, how busy, and how often the simulated streamer pitches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seconds: float = Field(default=300.0, gt=0, description="Stop by itself after this long.")
    rate: float = Field(default=10.0, gt=0, le=2000, description="Background events a second.")
    rooms: int = Field(default=3, gt=0, le=50, description="Rooms kept live (the busiest).")
    pitch_every_s: float = Field(default=30.0, gt=0, description="Seconds between pitches.")
    pitch_minutes: float = Field(
        default=2.0, gt=0, le=MAX_FEEDBACK_MINUTES, description="Each pitch's feedback window."
    )
    answer_spread_s: float = Field(
        default=20.0, ge=0, description="Audience answers a pitch within."
    )
    feed_every_s: float = Field(default=3.0, gt=0, description="Sample viewers ask their feed.")
    tick_s: float = Field(default=1.0, gt=0, le=10, description="Events are sent once a tick.")
    seed: int = Field(default=0, ge=0)


class _Due:
    """Events to send later (answers to a pitch or a feed), in time order."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, dict[str, Any]]] = []
        self._n = 0

    def add(self, at: float, event: dict[str, Any]) -> None:
        self._n += 1
        heapq.heappush(self._heap, (at, self._n, event))

    def pop_until(self, now: float) -> list[dict[str, Any]]:
        out = []
        while self._heap and self._heap[0][0] <= now:
            out.append(heapq.heappop(self._heap)[2])
        return out


class Simulation:
    """One running session: the background cursor, who is where, the oracle's viewers."""

    def __init__(
        self, settings: LivecartSettings, url: str, config: SimulateConfig, client: httpx.Client
    ) -> None:
        self.url, self.cfg, self.client = url.rstrip("/"), config, client
        self.auth = {"authorization": f"Bearer {settings.api_token.get_secret_value()}"}
        self.events, busiest = session_events(settings, config.rooms, each_room=True)
        if not self.events:
            raise LivecartError(
                f"no events under {settings.clean_dir / 'events'} to replay; run "
                "`livecart generate` (or `make demo`) first"
            )
        self.streamer = {e[c.ROOM_ID]: e[c.STREAMER_ID] for e in self.events if e.get(c.ROOM_ID)}
        self.rooms = [room for room in busiest if room in self.streamer]  # busy in that hour
        per_room = Counter(
            (e[c.ROOM_ID], e[c.VIEWER_ID]) for e in self.events if e.get(c.VIEWER_ID)
        )
        # each room's most active viewer, a different one per room where the room has one
        ranked = [(r, v) for (r, v), _ in per_room.most_common() if r in self.rooms]
        self.samples: dict[str, str] = {}
        for room, viewer in ranked:
            if room not in self.samples and viewer not in self.samples.values():
                self.samples[room] = viewer
        for room, viewer in ranked:
            self.samples.setdefault(room, viewer)
        self.oracle: Oracle | None = load_oracle(settings) if has_truth(settings) else None
        viewers = sorted({v for _, v in per_room} & set(self.oracle.viewers if self.oracle else []))
        self.session = Session(
            seed=config.seed,
            rooms={room: self.streamer[room] for room in self.rooms},
            viewers=viewers,
            room_of={},
            browsed=[],
            active=np.ones((1, len(viewers)), dtype=bool),
            start=datetime.now(UTC),
            step_seconds=config.tick_s,
        )
        self.index = {v: i for i, v in enumerate(viewers)}
        self.memory, self.replay = Memory(), ReplayConfig()
        self.rng = np.random.default_rng(config.seed)
        self.present: dict[str, str] = {}  # viewer -> the room entered last
        self.due = _Due()
        self.cursor = self.answers = 0
        self.counts: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.pitched: list[dict[str, Any]] = []
        self.last_pitched: dict[str, dict[str, float]] = {}  # room -> product -> when
        self.window = config.pitch_minutes * 60

    def console_links(self) -> dict[str, str]:
        return {
            room: f"{self.url}/console?room_id={room}&viewer_id={self.samples[room]}"
            for room in self.rooms
        }

    def background(self, n: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(n):
            out.append(self.events[self.cursor % len(self.events)])
            self.cursor += 1
        return out

    def send(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        batch = rows  # stamped when queued: a retry resends the same ids (duplicates, not twice)
        answer = self.client.post(
            f"{self.url}/v1/events", json={"events": batch}, headers=self.auth
        )
        if answer.status_code != 200:
            raise LivecartError(f"POST /v1/events answered {answer.status_code}: {answer.text}")
        body = answer.json()
        refused = {q["index"] for q in body["quarantined"]}
        for q in body["quarantined"]:
            self.reasons[q["reason"].split(";")[0]] += 1
        self.counts["events_sent"] += len(batch)
        self.counts["events_accepted"] += body["accepted"]
        self.counts["events_quarantined"] += len(refused)
        for i, event in enumerate(batch):
            if i not in refused and event.get(c.EVENT_TYPE) == c.EventType.ENTER_ROOM.value:
                self.present[event[c.VIEWER_ID]] = event[c.ROOM_ID]

    def answer(self, viewer: str, shown: list[tuple[str, str]], at: float, spread: float) -> None:
        """``viewer`` answers ``shown`` ((product, room) best first) through the oracle."""
        if self.oracle is None or viewer not in self.index:
            return
        known = [(p, r) for p, r in shown if p in self.oracle.products]
        self.answers += 1  # a fresh step: the oracle's draws are per (seed, step, viewer)
        index, step = self.index[viewer], self.answers
        outcome = respond(self.oracle, self.session, self.memory, step, index, known, self.replay)
        start = at + float(self.rng.uniform(0, spread))
        for event in outcome.events:
            row = event.model_dump(exclude_none=True)
            self.due.add(start + ANSWER_DELAYS_S.get(str(row[c.EVENT_TYPE]), 0.0), row)

    def feed(self, now: float) -> None:
        """Each room's sample viewer looks at their feed in the room and answers it."""
        for room, viewer in self.samples.items():
            body = {"viewer_id": viewer, "room_id": room, "k": 6, "explore": False}
            answer = self.client.post(f"{self.url}/v1/recommend/viewer", json=body)
            self.counts["feed_requests"] += 1
            if answer.status_code == 200:
                shown = [(p["product_id"], p["room_id"] or room) for p in answer.json()["products"]]
                self.answer(viewer, shown, now, 0.0)

    def pitch(self, room: str, now: float) -> None:
        """The streamer pitches the best suggestion not pitched here within a feedback window
        (the last one was just shown); everyone present sees it and answers."""
        top = self.client.post(f"{self.url}/v1/recommend/streamer", json={"room_id": room, "k": 5})
        suggestions = top.json().get("suggestions", []) if top.status_code == 200 else []
        if not suggestions:
            return
        recent = {p for p, at in self.last_pitched.get(room, {}).items() if now - at < self.window}
        fresh = [s["product_id"] for s in suggestions if s["product_id"] not in recent]
        product = (fresh or [suggestions[0]["product_id"]])[0]
        self.last_pitched.setdefault(room, {})[product] = now
        body = {"product_id": product, "minutes": self.cfg.pitch_minutes, "source": "simulate"}
        answer = self.client.post(
            f"{self.url}/v1/console/room/{room}/pitch", json=body, headers=self.auth
        )
        if answer.status_code != 200:
            raise LivecartError(f"recording a pitch answered {answer.status_code}: {answer.text}")
        self.pitched.append(answer.json()["pitch"])
        for viewer in [v for v, r in self.present.items() if r == room]:
            self.answer(viewer, [(product, room)], now, self.cfg.answer_spread_s)

    def outcome(self) -> list[dict[str, Any]]:
        """Each recorded pitch with what its room did so far (the pitch-feedback endpoint)."""
        mine, out = {p["pitch_id"] for p in self.pitched}, []
        for room in self.rooms:
            answer = self.client.get(
                f"{self.url}/v1/console/room/{room}/pitches",
                params={"limit": 20},
                headers=self.auth,  # reads may be protected too
            )
            for item in answer.json() if answer.status_code == 200 else []:
                pitch = item["pitch"]
                if pitch["pitch_id"] in mine:
                    out.append(
                        {key: pitch[key] for key in PITCH_KEYS}
                        | {key: item[key] for key in FEEDBACK_KEYS}
                    )
        return out


def run(
    settings: LivecartSettings,
    url: str,
    config: SimulateConfig | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the session against ``url`` until ``config.seconds`` have passed; what happened.

    ``progress`` gets the console links once at the start, then the counts every ~10 s.
    """
    cfg = config or SimulateConfig()
    with httpx.Client(timeout=30.0) as client:
        try:
            client.get(f"{url}/healthz").raise_for_status()
        except httpx.HTTPError as exc:
            raise LivecartError(
                f"no livecart server answers at {url} ({exc}); start one with `livecart serve`"
            ) from exc
        sim = Simulation(settings, url, cfg, client)
        if progress:
            progress({"console": sim.console_links(), "rooms": sim.rooms})
        began = time.monotonic()
        next_pitch = began + min(cfg.pitch_every_s, 3 * cfg.tick_s)
        next_feed, next_note = began + cfg.tick_s, began + 10.0
        # the sample viewers enter first: the console has a viewer to show from the start
        first = [
            {
                c.EVENT_TYPE: c.EventType.ENTER_ROOM.value,
                c.VIEWER_ID: viewer,
                c.ROOM_ID: room,
                c.STREAMER_ID: sim.streamer[room],
            }
            for room, viewer in sim.samples.items()
        ]
        tick = failures = 0
        last_error = None
        # Events not accepted or refused yet, stamped (id, time) once: retried on the next tick.
        pending = [restamp(r) for r in first]
        turn = 0  # whose turn to pitch: advances even when a room has nothing to pitch
        while (now := time.monotonic()) - began < cfg.seconds:
            pending += [restamp(r) for r in sim.background(int(sim.rng.poisson(cfg.rate * cfg.tick_s)))]
            pending += [restamp(r) for r in sim.due.pop_until(now)]
            try:
                while pending:
                    sim.send(pending[: settings.max_events_per_request])
                    del pending[: settings.max_events_per_request]
                if now >= next_feed:
                    sim.feed(now)
                    next_feed += cfg.feed_every_s
                if now >= next_pitch:
                    sim.pitch(sim.rooms[turn % len(sim.rooms)], now)
                    turn += 1
                    next_pitch += cfg.pitch_every_s
                failures = 0
            except (httpx.HTTPError, LivecartError) as exc:
                failures += 1
                sim.counts["failed_ticks"] += 1
                last_error = str(exc)
                if failures >= FAILURES_TOLERATED:
                    raise LivecartError(
                        f"the server failed {failures} ticks in a row, last: {last_error}; "
                        f"stopped after {now - began:.0f} s ({dict(sim.counts)})"
                    ) from exc
            if progress and now >= next_note:
                progress({"elapsed_s": round(now - began), **sim.counts})
                next_note += 10.0
            tick += 1
            time.sleep(max(0.0, began + tick * cfg.tick_s - time.monotonic()))
        report: dict[str, Any] = {
            "url": url,
            "seconds": round(time.monotonic() - began, 1),
            "rooms": sim.rooms,
            "console": sim.console_links(),
            "oracle": sim.oracle is not None,
            "events_sent": sim.counts["events_sent"],
            "events_accepted": sim.counts["events_accepted"],
            "events_quarantined": sim.counts["events_quarantined"],
            "quarantine_reasons": dict(sim.reasons),
            "events_not_sent": len(pending) + len(sim.due.pop_until(float("inf"))),
            "feed_requests": sim.counts["feed_requests"],
            "failed_ticks": sim.counts["failed_ticks"],
            "last_error": last_error,
            "pitches": sim.outcome(),
        }
        return report
