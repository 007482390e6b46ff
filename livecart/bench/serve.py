"""`livecart bench serve`: the serving app over HTTP vs a minimal Serve endpoint, in one run.

Against the world in ``settings.home`` (prepared by ``livecart demo`` or the pipeline commands; the
issue's reference is the medium world), it deploys the livecart app, makes rooms live with real
``enter_room`` events until their products give about 500 candidates per request, and deploys
:mod:`serving.floor` beside it with the same Serve settings. Both are swept over the concurrency
levels together, interleaved (:func:`livecart.bench.sweep.interleaved_sweep`: A B B A per level,
so the machine's drift costs both the same), with a closed-loop load generator in a separate
process (:mod:`livecart.bench.load_client`). Then the floor is removed and push-to-recommendation
freshness measured (a purchase event accepted -> the product leaves that viewer's
recommendations, the "not just purchased" rule fed by the pushed ``viewer_behavior`` row).
Ratios are livecart / floor. Other layouts are swept alone afterwards, for the layout comparison.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import duckdb
import httpx
import numpy as np
from ray import serve

from livecart.bench import sweep
from livecart.bench.freshness import measure, within
from livecart.core import contract as c
from livecart.core.errors import LivecartError
from livecart.core.settings import LivecartSettings

TARGET_CANDIDATES = 500
FLOOR_APP = "floor"
METHOD = (
    "livecart and the floor deployed side by side; at each level A B B A runs of half the "
    "level's duration (each its own load-generator process, 2 s warm-up), merged per endpoint"
)


def _world(
    settings: LivecartSettings, viewers: int
) -> tuple[list[str], list[tuple[str, str, list[str]]]]:
    clean = settings.clean_dir
    con = duckdb.connect()
    try:
        known = [
            r[0]
            for r in con.execute(
                f"SELECT {c.VIEWER_ID} FROM read_parquet('{clean}/events/*.parquet') "
                f"WHERE {c.EVENT_TYPE} = 'click' GROUP BY 1 ORDER BY hash({c.VIEWER_ID}) LIMIT {viewers}"
            ).fetchall()
        ]
        rooms = con.execute(
            f"SELECT r.{c.ROOM_ID}, r.{c.STREAMER_ID}, list(rp.{c.PRODUCT_ID}) "
            f"FROM read_parquet('{clean}/rooms.parquet') r "
            f"JOIN read_parquet('{clean}/room_products.parquet') rp USING ({c.ROOM_ID}) "
            f"GROUP BY 1, 2 ORDER BY hash(r.{c.ROOM_ID})"
        ).fetchall()
    finally:
        con.close()
    if not known or not rooms:
        raise LivecartError(
            f"no served world in {settings.home}; run `livecart demo` (or generate, validate, "
            "features, embed, apply, materialize, train) first"
        )
    chosen, seen_streamers, products = [], set(), 0
    for room, streamer, items in rooms:
        if streamer in seen_streamers:
            continue
        chosen.append((str(room), str(streamer), [str(p) for p in items]))
        seen_streamers.add(streamer)
        products += len(items)
        if products >= TARGET_CANDIDATES:
            break
    return known, chosen


def _event(kind: str, viewer: str, room: str, streamer: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"bench-{uuid.uuid4().hex}",
        "event_type": kind,
        "event_timestamp": datetime.now(UTC).isoformat(),
        "viewer_id": viewer,
        "room_id": room,
        "streamer_id": streamer,
        **extra,
    }


def _activate(
    url: str,
    auth: dict[str, str],
    viewers: list[str],
    rooms: list[tuple[str, str, list[str]]],
    per_request: int,
    rng: np.random.Generator,
) -> None:
    """Each viewer clicks 3 products of live rooms now (pushed like any event)."""
    clicks = []
    for viewer in viewers:
        for j in rng.choice(len(rooms), size=min(3, len(rooms)), replace=False):
            room, streamer, items = rooms[int(j)]
            product = str(rng.choice(items))
            clicks.append(_event("click", viewer, room, streamer, product_id=product))
    size = min(per_request, 500)
    for lo in range(0, len(clicks), size):
        batch = clicks[lo : lo + size]
        answer = httpx.post(f"{url}/v1/events", json={"events": batch}, headers=auth, timeout=60)
        if answer.status_code != 200 or answer.json()["accepted"] != len(batch):
            raise LivecartError(f"could not push viewer activity: {answer.text[:500]}")


def run(
    settings: LivecartSettings,
    levels: tuple[int, ...] = (1, 4, 16, 64),
    duration_s: float = 10.0,
    viewers: int = 400,
    freshness_samples: int = 30,
    layouts: tuple[str, ...] = ("in_process",),
    active_viewers: bool = False,
) -> dict[str, Any]:
    """The first layout ("in_process" or "split_ranker") and the floor, interleaved; then each
    other layout alone (for the layout comparison); the JSON report.

    ``active_viewers``: before the sweep every sampled viewer clicks 3 products in live rooms,
    so requests carry a recent history (vector retrieval, item-CF and the behaviour inputs at
    work). Without it, the world's own behaviour rows are older than the view's TTL and those
    sources find nothing, as for viewers idle for a day."""
    from serving.floor import build_floor
    from serving.runner import APP_NAME, start, stop

    known, rooms = _world(settings, viewers)
    auth = {"authorization": f"Bearer {settings.api_token.get_secret_value()}"}
    bodies = [{"viewer_id": v, "k": 10} for v in known]

    def run_load(url: str, concurrency: int, seconds: float) -> dict[str, Any]:
        return sweep.load(url, concurrency, bodies, seconds)

    try:
        url = start(settings, split_ranker=layouts[0] == "split_ranker")
        _make_rooms_live(url, auth, known, rooms)
        if active_viewers:
            rng = np.random.default_rng(1)
            _activate(url, auth, known, rooms, settings.max_events_per_request, rng)
        time.sleep(1.0)
        recommend = f"{url}/v1/recommend/viewer"
        probe = httpx.post(recommend, json=bodies[0], timeout=30).json()
        sizes = [
            httpx.post(recommend, json=b, timeout=30).json()["candidates"] for b in bodies[:20]
        ]
        floor_cpus = _spare_cpus(settings)
        both: dict[str, dict[str, Any]] = {"livecart": {}, "floor": {}}
        if levels:  # none: freshness only
            serve.run(
                build_floor(settings, replica_cpus=floor_cpus),
                name=FLOOR_APP,
                route_prefix="/floor",
                blocking=False,
            )
            floor_url = f"{url}/floor/v1/recommend/viewer"
            _wait(floor_url)
            both = sweep.interleaved_sweep(
                {"livecart": recommend, "floor": floor_url}, levels, duration_s, run_load
            )
            serve.delete(FLOOR_APP)
        freshness = measure(url, auth, known[::-1], freshness_samples)
        sweeps = {layouts[0]: both["livecart"]}
        for layout in layouts[1:] if levels else ():
            serve.delete(APP_NAME)
            url = start(settings, split_ranker=layout == "split_ranker")
            _make_rooms_live(url, auth, known, rooms)
            sweeps[layout] = sweep.sweep(
                f"{url}/v1/recommend/viewer", levels, duration_s, run_load, layout
            )
    finally:
        stop(settings, apps=(APP_NAME, FLOOR_APP))
    livecart, floor = both["livecart"], both["floor"]
    ratios = {
        level: round(
            livecart[level]["throughput_rps"] / max(floor[level]["throughput_rps"], 1e-9), 3
        )
        for level in livecart
    }
    return {
        "world": {
            "home": str(settings.home),
            "viewers_sampled": len(known),
            "live_rooms": len(rooms),
            "active_viewers": active_viewers,
        },
        "candidates_per_request": {
            "mean": float(np.mean(sizes)),
            "min": int(min(sizes)),
            "max": int(max(sizes)),
        },
        "model_version": probe.get("model_version"),
        "duration_s_per_level": duration_s,
        "method": METHOD,
        "layout": layouts[0],
        "livecart": livecart,
        "layouts": {
            name: {
                lvl: {k: v[k] for k in ("p50_ms", "p99_ms", "throughput_rps", "errors")}
                for lvl, v in result.items()
            }
            for name, result in sweeps.items()
        },
        "floor": floor,
        "throughput_ratio": ratios,
        "freshness": freshness,
        "targets": {
            **(
                {
                    "p99_ms_at_1_le_25": livecart[str(levels[0])]["p99_ms"] <= 25.0,
                    "throughput_ratio_ge_0.6_every_level": all(r >= 0.6 for r in ratios.values()),
                    "zero_errors_every_level": all(v["errors"] == 0 for v in livecart.values()),
                }
                if levels
                else {}
            ),
            "freshness_p99_le_1s": within(freshness["sent_to_visible_p99_ms"], 1000.0),
            "freshness_p99_le_150ms": within(freshness["sent_to_visible_p99_ms"], 150.0),
        },
        "settings": {
            "replicas": settings.serve_replicas,
            "replica_cpus": settings.serve_replica_cpus,
            "floor_replica_cpus": floor_cpus,
            "batch_max_size": settings.batch_max_size,
            "batch_wait_ms": settings.batch_wait_ms,
        },
    }


def _make_rooms_live(
    url: str, auth: dict[str, str], known: list[str], rooms: list[tuple[str, str, list[str]]]
) -> None:
    """One ``enter_room`` event per chosen room (a sampled viewer enters it)."""
    rng = np.random.default_rng(0)
    entering = [
        _event("enter_room", str(rng.choice(known)), room, streamer) for room, streamer, _ in rooms
    ]
    answer = httpx.post(f"{url}/v1/events", json={"events": entering}, headers=auth, timeout=60)
    if answer.status_code != 200 or answer.json()["accepted"] != len(entering):
        raise LivecartError(f"could not make rooms live: {answer.text[:500]}")


def _spare_cpus(settings: LivecartSettings) -> float:
    """CPUs per floor replica: the livecart replicas' share, or what the cluster has left when
    both apps do not fit (Ray's ``num_cpus`` reserves for scheduling; it does not cap a
    process, and every fractional share gets the same one-thread settings)."""
    import ray

    free = float(ray.available_resources().get("CPU", 0.0))  # type: ignore[no-untyped-call]
    return round(max(min(settings.serve_replica_cpus, free / settings.serve_replicas), 0.0), 3)


def _wait(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.post(url, json={"viewer_id": "warm", "k": 1}, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise LivecartError(f"floor endpoint did not come up at {url}")
