"""A live session replayed over HTTP: the world's own events, re-stamped to now, sent in batches.

Used by ``livecart demo`` after serving starts. A few rooms' busiest hour of the synthetic log is
replayed through ``POST /v1/events`` in ``batches`` batches (every event gets a fresh id and a
current timestamp; one event in ``bad_every`` is corrupted on purpose so the quarantine shows in
the report), while a reader thread asks ``/v1/recommend/viewer`` for the viewers in those rooms and
``/v1/recommend/streamer`` for the rooms. It reports request latency per endpoint, events accepted
and quarantined, and push-to-recommendation freshness (a purchase leaves the buyer's feed).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import httpx
import numpy as np

from livecart.core import contract as c
from livecart.core.settings import LivecartSettings

EVENT_FIELDS = c.SCHEMAS[c.Table.EVENTS].names


@dataclass(frozen=True)
class SessionConfig:
    rooms: int = 4
    batches: int = 20
    batch_pause_s: float = 0.2
    bad_every: int = 25
    freshness_probes: int = 10


def session_events(
    settings: LivecartSettings, rooms: int, each_room: bool = False
) -> tuple[list[dict[str, Any]], list[str]]:
    """The busiest hour of the ``rooms`` busiest rooms, in time order (original ids and stamps).

    ``each_room``: every room's own busiest hour, interleaved by the time into that hour (rooms
    of a world are live at different hours; ``livecart simulate`` keeps them all live at once).
    """
    events = f"{settings.clean_dir}/events/*.parquet"
    hour = f"date_trunc('hour', {c.EVENT_TIMESTAMP})"
    if each_room:
        busiest = f"""hour AS (SELECT {c.ROOM_ID}, {hour} AS h FROM ev GROUP BY 1, 2
                     QUALIFY row_number() OVER (PARTITION BY {c.ROOM_ID}
                                                ORDER BY count(*) DESC, h) = 1)"""
        within = f"JOIN hour ON ev.{c.ROOM_ID} = hour.{c.ROOM_ID} AND {hour} = hour.h"
        order = f"{c.EVENT_TIMESTAMP} - hour.h, {c.EVENT_ID}"
    else:
        busiest = f"""hour AS (SELECT {hour} AS h FROM ev
                     GROUP BY 1 ORDER BY count(*) DESC LIMIT 1)"""
        within = f"WHERE {hour} = (SELECT h FROM hour)"
        order = f"{c.EVENT_TIMESTAMP}, {c.EVENT_ID}"
    con = duckdb.connect()
    try:
        chosen = [
            r[0]
            for r in con.execute(
                f"SELECT {c.ROOM_ID} FROM read_parquet('{events}', union_by_name = true) "
                f"GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT {int(rooms)}"
            ).fetchall()
        ]
        frame = con.execute(
            f"""
            WITH ev AS (SELECT * FROM read_parquet('{events}', union_by_name = true)
                        WHERE {c.ROOM_ID} IN (SELECT unnest(?::VARCHAR[]))),
            {busiest}
            SELECT {", ".join(f"ev.{name}" for name in EVENT_FIELDS)} FROM ev {within}
            ORDER BY {order}
            """,
            [chosen],
        ).df()
    finally:
        con.close()
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{str(k): v for k, v in r.items()} for r in rows], chosen


def restamp(row: dict[str, Any]) -> dict[str, Any]:
    """The event as if it happened now: a fresh id, the current time, no empty fields."""
    fresh = {k: v for k, v in row.items() if v is not None}
    fresh[c.EVENT_ID] = f"live-{uuid.uuid4().hex}"
    fresh[c.EVENT_TIMESTAMP] = datetime.now(UTC).isoformat()
    return fresh


def _corrupt(row: dict[str, Any], k: int) -> dict[str, Any]:
    bad = dict(row)
    kind = k % 3
    if kind == 0:
        bad[c.AMOUNT] = -1.0
        bad[c.EVENT_TYPE] = "purchase"
    elif kind == 1:
        bad[c.EVENT_TIMESTAMP] = datetime.now(UTC).replace(tzinfo=None).isoformat()
    else:
        bad[c.VIEWER_ID] = None
    return bad


class _Reader(threading.Thread):
    def __init__(self, url: str, viewers: list[str], rooms: list[str]) -> None:
        super().__init__(daemon=True)
        self.url, self.viewers, self.rooms = url, viewers, rooms
        self.latency: dict[str, list[float]] = {"viewer": [], "streamer": []}
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                endpoint = "streamer" if i % 4 == 3 else "viewer"
                body: dict[str, Any] = (
                    {"room_id": self.rooms[i % len(self.rooms)], "k": 3}
                    if endpoint == "streamer"
                    else {"viewer_id": self.viewers[i % len(self.viewers)], "k": 10}
                )
                began = time.perf_counter()
                answer = client.post(f"{self.url}/v1/recommend/{endpoint}", json=body)
                if answer.status_code == 200:
                    self.latency[endpoint].append((time.perf_counter() - began) * 1000)
                else:
                    self.errors += 1
                i += 1


@dataclass(frozen=True)
class Probe:
    """One push-to-recommendation probe, in ms: event sent -> gone from the feed, the POST's
    round trip, answer received -> gone, and the server's own stages (``stages_ms``)."""

    sent_to_visible: float
    post: float
    accepted_to_visible: float
    stages: dict[str, float]


def purchase_probe(
    client: httpx.Client, url: str, auth: dict[str, str], viewer: str, within_s: float = 5.0
) -> Probe | None:
    """Push-to-recommendation freshness for one viewer: a purchase of the viewer's top product,
    visible once the product leaves the feed (the "not just purchased" rule fed by the pushed
    ``viewer_behavior`` row). None when the viewer has no product in a live room; NaN times when
    the change is not visible within ``within_s``."""
    body = {"viewer_id": viewer, "k": 10, "explore": False}
    shown = client.post(f"{url}/v1/recommend/viewer", json=body).json()["products"]
    if not shown or shown[0]["room_id"] is None:
        return None
    top = shown[0]
    buy = {
        c.EVENT_ID: f"live-{uuid.uuid4().hex}",
        c.EVENT_TYPE: "purchase",
        c.EVENT_TIMESTAMP: datetime.now(UTC).isoformat(),
        c.VIEWER_ID: viewer,
        c.ROOM_ID: top["room_id"],
        c.STREAMER_ID: top["streamer_id"],
        c.PRODUCT_ID: top["product_id"],
        c.AMOUNT: top["price"],
    }
    sent = time.perf_counter()
    answer = client.post(f"{url}/v1/events", json={"events": [buy]}, headers=auth)
    accepted = time.perf_counter()
    if answer.status_code != 200 or answer.json()["accepted"] != 1:
        raise RuntimeError(f"freshness probe event rejected: {answer.text}")
    stages = answer.json().get("stages_ms", {})
    post = (accepted - sent) * 1000
    while time.perf_counter() - sent < within_s:
        again = client.post(f"{url}/v1/recommend/viewer", json=body).json()["products"]
        if top["product_id"] not in {p["product_id"] for p in again}:
            now = time.perf_counter()
            return Probe((now - sent) * 1000, post, (now - accepted) * 1000, stages)
    return Probe(float("nan"), post, float("nan"), stages)


def run(
    settings: LivecartSettings, url: str, config: SessionConfig | None = None
) -> dict[str, Any]:
    cfg = config or SessionConfig()
    auth = {"authorization": f"Bearer {settings.api_token.get_secret_value()}"}
    events, rooms = session_events(settings, cfg.rooms)
    viewers = sorted({e[c.VIEWER_ID] for e in events if e.get(c.VIEWER_ID)})
    reader = _Reader(url, viewers or ["unknown"], rooms)
    reader.start()
    accepted = quarantined = sent = 0
    reasons: dict[str, int] = {}
    push_ms: list[float] = []
    size = max(len(events) // cfg.batches, 1)
    with httpx.Client(timeout=60) as client:
        for b in range(0, len(events), size):
            batch = [restamp(e) for e in events[b : b + size]]
            batch = [
                _corrupt(e, k) if k % cfg.bad_every == cfg.bad_every - 1 else e
                for k, e in enumerate(batch)
            ]
            answer = client.post(f"{url}/v1/events", json={"events": batch}, headers=auth).json()
            sent += len(batch)
            accepted += answer["accepted"]
            quarantined += len(answer["quarantined"])
            push_ms.append(answer["push_ms"])
            for q in answer["quarantined"]:
                key = q["reason"].split(";")[0]
                reasons[key] = reasons.get(key, 0) + 1
            time.sleep(cfg.batch_pause_s)
    with httpx.Client(timeout=30) as client:
        probes = [purchase_probe(client, url, auth, v) for v in viewers[: cfg.freshness_probes]]
    freshness = [
        p.sent_to_visible
        for p in probes
        if p is not None and p.sent_to_visible == p.sent_to_visible  # NaN: not visible
    ]
    reader.stop.set()
    reader.join()

    def pct(values: list[float], q: float) -> float | None:
        return round(float(np.percentile(values, q)), 2) if values else None

    return {
        "rooms": rooms,
        "events_sent": sent,
        "events_accepted": accepted,
        "events_quarantined": quarantined,
        "quarantine_reasons": reasons,
        "push_ms_p50": pct(push_ms, 50),
        "latency_ms": {
            name: {"requests": len(v), "p50": pct(v, 50), "p99": pct(v, 99)}
            for name, v in reader.latency.items()
        },
        "reader_errors": reader.errors,
        "freshness_ms": {
            "probes": len(freshness),
            "p50": pct(freshness, 50),
            "p99": pct(freshness, 99),
        },
    }
