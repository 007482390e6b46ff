"""Push-to-recommendation freshness over HTTP, and where its time goes (`livecart bench serve`).

Each probe buys a viewer's top product through ``POST /v1/events`` and polls the feed until the
product leaves it (:func:`livecart.simulation.live_session.purchase_probe`). The event ingest
answers with the time of each of its stages (``EventsResponse.stages_ms``); the rest of the POST is
HTTP, Serve's proxy and queueing; answer -> visible is the recommend replicas' store follower and
the feed request that sees the change.
"""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
from tqdm import tqdm

STAGES = ("typing", "validate", "append", "recompute", "push")
"""The server's stages of an event batch (``EventsResponse.stages_ms``), in order."""


def measure(url: str, auth: dict[str, str], viewers: list[str], samples: int) -> dict[str, Any]:
    """Push-to-recommendation freshness over ``samples`` viewers (see ``purchase_probe``), with
    where the time goes: the server's stages, the rest of the POST (HTTP, proxy, queueing) and
    answer -> visible (the readers' follow interval and the feed request that sees it)."""
    from livecart.simulation.live_session import purchase_probe

    with httpx.Client(timeout=30.0) as client:
        probes = [
            purchase_probe(client, url, auth, v)
            for v in tqdm(viewers[:samples], desc="freshness", leave=False)
        ]
    done = [p for p in probes if p is not None]
    seen = [p for p in done if not np.isnan(p.sent_to_visible)]

    def pct(values: list[float]) -> dict[str, float | None]:
        if not values:
            return {"p50_ms": None, "p99_ms": None}
        return {
            "p50_ms": round(float(np.percentile(values, 50)), 2),
            "p99_ms": round(float(np.percentile(values, 99)), 2),
        }

    server = [sum(p.stages.get(name, 0.0) for name in STAGES) for p in seen]
    breakdown = {name: pct([p.stages.get(name, 0.0) for p in seen]) for name in STAGES}
    breakdown["http_and_queue"] = pct([p.post - t for p, t in zip(seen, server, strict=True)])
    breakdown["answer_to_visible"] = pct([p.accepted_to_visible for p in seen])
    sent = pct([p.sent_to_visible for p in seen])
    accepted = pct([p.accepted_to_visible for p in seen])
    return {
        "samples": len(seen),
        "not_visible_within_5s": len(done) - len(seen),
        "sent_to_visible_p50_ms": sent["p50_ms"],
        "sent_to_visible_p99_ms": sent["p99_ms"],
        "accepted_to_visible_p50_ms": accepted["p50_ms"],
        "accepted_to_visible_p99_ms": accepted["p99_ms"],
        "stages": breakdown,
    }


def within(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit
