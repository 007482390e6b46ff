"""`livecart bench streamer`: the streamer endpoint's work at audience sizes up to 100,000.

Against the world in ``settings.home`` (after ``livecart demo`` or the pipeline commands), one
replica's :class:`serving.service.ServingCore` answers pitch requests for the room with the most
products, with an audience of the world's viewers (those with a click first) topped up with new
viewer ids (no online rows: a large live room is mostly new viewers). Each timed request does the
endpoint's work: who is present (the ingest state's :class:`serving.presence.Presence`, holding
the room's entries and half as many viewers elsewhere), the snapshot's trip between deployments
(a pickle round trip, as Ray's handle does), then ``StreamerAssist.suggest``; only HTTP and JSON are left out. Per size it reports p50/p99, whether
the pitch scores were exact or sampled, and, where exact scoring is feasible, the sampled answer's
top-k overlap with exact scoring and how often the exact expected purchases fell inside the
reported 95 % band.
"""

from __future__ import annotations

import pickle
import time
from typing import Any

import duckdb
import numpy as np
from tqdm import tqdm

from livecart.core import contract as c
from livecart.core.errors import LivecartError
from livecart.core.settings import LivecartSettings
from serving.presence import Presence

EXACT_UP_TO = 10_000
"""Sizes up to this are also scored exactly, for the overlap and band coverage."""


def _world(settings: LivecartSettings) -> tuple[str, list[str]]:
    clean = settings.clean_dir
    con = duckdb.connect()
    try:
        room = con.execute(
            f"SELECT {c.ROOM_ID} FROM read_parquet('{clean}/room_products.parquet') "
            f"GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        ).fetchone()
        viewers = [
            str(v)
            for (v,) in con.execute(
                f"SELECT {c.VIEWER_ID} FROM read_parquet('{clean}/events/*.parquet') GROUP BY 1 "
                f"ORDER BY max(({c.EVENT_TYPE} = 'click')::INT) DESC, hash({c.VIEWER_ID})"
            ).fetchall()
        ]
    finally:
        con.close()
    if room is None or not viewers:
        raise LivecartError(f"no rooms or events under {clean}: run `livecart demo` first")
    return str(room[0]), viewers


def _audience(known: list[str], size: int) -> list[str]:
    return known[:size] + [f"bench-new-{i}" for i in range(max(0, size - len(known)))]


def _presence(room: str, present: list[str]) -> Presence:
    """An ingest state's presence index: each present viewer's entry into ``room``, and half as
    many viewers in another room."""
    now = time.time()
    index = Presence()
    index.enter((v, room, now - i % 600) for i, v in enumerate(present))
    index.enter((f"bench-away-{i}", f"{room}-other", now) for i in range(len(present) // 2))
    return index


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = np.asarray(samples)
    return round(float(np.percentile(ordered, 50)), 2), round(float(np.percentile(ordered, 99)), 2)


def run(settings: LivecartSettings, sizes: list[int], requests: int = 30) -> dict[str, Any]:
    from serving.schemas import StreamerRequest
    from serving.service import ServingCore

    core = ServingCore(settings, follow_store=True)
    if core.holder.ranker is None:
        raise LivecartError("no registered ranker: run `livecart train` first")
    assist = core.streamer
    room, known = _world(settings)
    request = StreamerRequest(room_id=room, k=5)
    result_products = len(assist.catalog.room_products.get(room) or [])
    result: dict[str, Any] = {
        "room": room,
        "room_products": result_products,
        "known_viewers": len(known),
        "pair_budget": assist.pair_budget,
        "sizes": {},
    }
    since = time.time() - 3600  # every bench entry is inside the live window
    for size in tqdm(sizes, desc="audience sizes", leave=False):
        presence = _presence(room, _audience(known, size))

        def answer_once(presence: Presence = presence) -> tuple[Any, dict[str, Any]]:
            audience = presence.audience(room, since)
            snapshot = pickle.loads(pickle.dumps({"audience": audience, "activity": {}}))
            return assist.suggest(request, snapshot), snapshot

        answer, snapshot = answer_once()  # warm-up: reads, caches, the ranker's first call
        if len(snapshot["audience"]) != size:
            raise RuntimeError(f"{len(snapshot['audience'])} present, expected {size}")
        samples = []
        for _ in range(requests):
            began = time.perf_counter()
            answer, _ = answer_once()
            samples.append((time.perf_counter() - began) * 1000)
        assert answer is not None
        p50, p99 = _percentiles(samples)
        row: dict[str, Any] = {
            "p50_ms": p50,
            "p99_ms": p99,
            "viewers_scored": answer.audience.viewers_scored,
            "exact": answer.audience.viewers_scored >= size,
            "known_viewers_present": min(size, len(known)),
            "segments_counted": sum(answer.audience.segments.values()),
        }
        if size <= EXACT_UP_TO and not row["exact"]:
            row.update(_agreement(assist, request, snapshot, answer))
        result["sizes"][str(size)] = row
    return result


def _agreement(assist: Any, request: Any, snapshot: dict[str, Any], sampled: Any) -> dict[str, Any]:
    """Top-5 overlap of the sampled answer with exact scoring, and the band's coverage."""
    budget = assist.pair_budget
    assist.pair_budget = 1 << 40
    try:
        began = time.perf_counter()
        exact = assist.suggest(request.model_copy(update={"k": 1000}), snapshot)
        exact_ms = (time.perf_counter() - began) * 1000
    finally:
        assist.pair_budget = budget
    order_exact = [s.product_id for s in exact.suggestions]
    order_sampled = [s.product_id for s in sampled.suggestions]
    truth = {s.product_id: s.expected_purchases for s in exact.suggestions}
    inside = [
        s.expected_low <= truth[s.product_id] <= s.expected_high
        for s in sampled.suggestions
        if s.expected_low is not None and s.expected_high is not None
    ]
    return {
        "exact_ms": round(exact_ms, 2),
        "products": len(order_exact),
        **{
            f"top{k}_overlap_with_exact": len(set(order_exact[:k]) & set(order_sampled[:k])) / k
            for k in (1, 3, 5)
            if k <= len(order_exact)
        },
        "band_covers_exact": round(float(np.mean(inside)), 3) if inside else None,
    }
