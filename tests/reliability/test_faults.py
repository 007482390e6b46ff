"""Fault injection against the served world: each test breaks one thing, checks, and restores it.

Replicas killed under load (client retries lose no request), the event ingest replica killed
(accepted events stay stored, its state reloads from the offline store), the materialization job
killed while committing (the previous state is served, a rerun completes), a quarantine flood,
corrupt Parquet files, clock skew, and the degradation paths (online store unreadable or gone,
unknown viewer). These run after the soak and the fuzzing (see conftest.MODULE_ORDER).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
import ray

from livecart import contract as c
from livecart import feature_names as f
from livecart.settings import LivecartSettings
from tests.integration.serving.conftest import event
from tests.reliability.conftest import AUTH, RetryingClient, World
from tests.reliability.support import (
    kill_replica,
    offline_ids,
    online_mismatches,
    replicas,
    valid_event,
    wait_running,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.reliability]
OUTCOMES: dict[str, str] = {}  # fault -> what was observed (reports/reliability_faults.json)


@pytest.fixture(scope="module", autouse=True)
def fault_report(world: World, request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    path = world.settings.reports_dir / "reliability_faults.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(OUTCOMES, indent=2))
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\nfault injection outcomes ({path}):")
        for fault, outcome in OUTCOMES.items():
            print(f"  {fault}: {outcome}")


def _viewer(world: World, viewer: str | None = None, **extra: Any) -> httpx.Response:
    body = {"viewer_id": viewer or world.viewers[0], "k": 5, "filters": {"live_only": False}}
    return httpx.post(f"{world.url}/v1/recommend/viewer", json={**body, **extra}, timeout=60.0)


def _events(world: World, events: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(f"{world.url}/v1/events", json={"events": events}, headers=AUTH, timeout=60)


def _eid(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}"


def _wait_for(check: Any, timeout_s: float = 30.0, what: str = "condition") -> Any:
    until = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > until:
            raise AssertionError(f"{what} not reached in {timeout_s} s")
        time.sleep(0.3)


def _store_dir(settings: LivecartSettings) -> Path:
    return settings.feast_dir / "online"


# --- clock skew, quarantine flood, cold start: nothing to restore ---------------------------


def test_clock_skew__future_quarantined_slightly_past_accepted(world: World) -> None:
    now = datetime.now(UTC)
    skew = world.settings.max_future_skew_seconds
    rng = random.Random(1)
    at = {
        "far-future": now + timedelta(seconds=skew + 120),
        "day-ahead": now + timedelta(days=1),
        "within-skew": now + timedelta(seconds=min(60.0, skew / 2)),
        "slightly-past": now - timedelta(minutes=10),
        "hours-past": now - timedelta(hours=3),
    }
    batch = [valid_event(rng, _eid(name), world.viewers, world.rooms, t) for name, t in at.items()]
    batch.append(
        {
            **batch[3],
            c.EVENT_ID: _eid("naive"),
            c.EVENT_TIMESTAMP: now.replace(tzinfo=None).isoformat(),
        }
    )
    answer = _events(world, batch)
    assert answer.status_code == 200, answer.text
    reasons = {q["index"]: q["reason"] for q in answer.json()["quarantined"]}
    assert sorted(reasons) == [0, 1, 5] and answer.json()["accepted"] == 3
    assert "future timestamp" in reasons[0] and "future timestamp" in reasons[1]
    assert "naive" in reasons[5]
    stored = offline_ids(world.settings)
    assert all(stored.get(batch[i][c.EVENT_ID]) == 1 for i in (2, 3, 4))
    OUTCOMES["clock skew"] = (
        f"+{skew + 120:.0f} s and +1 day quarantined ({reasons[0]!r}); naive quarantined "
        f"({reasons[5]!r}); +{min(60.0, skew / 2):.0f} s, -10 min, -3 h accepted and stored"
    )


def test_quarantine_flood__all_bad_batch_quarantined_with_reasons_server_healthy(
    world: World,
) -> None:
    rng = random.Random(2)
    breakers = [
        lambda e: {**e, c.VIEWER_ID: _eid("ghost")},
        lambda e: {**e, c.EVENT_TYPE: "teleport"},
        lambda e: {**e, c.EVENT_TYPE: "purchase", c.PRODUCT_ID: None},
        lambda e: {**e, c.AMOUNT: -1.0},
        lambda e: {**e, c.EVENT_TIMESTAMP: "2099-01-01T00:00:00+00:00"},
        lambda e: {**e, c.TEXT: "x" * (world.settings.max_text_chars + 1)},
        lambda e: {**e, c.WATCH_SECONDS: "long"},
        lambda e: {k: v for k, v in e.items() if k != c.ROOM_ID},
    ]
    size = 400
    batch = [
        breakers[i % len(breakers)](valid_event(rng, _eid("flood"), world.viewers, world.rooms))
        for i in range(size)
    ]
    before = set((world.settings.quarantine_dir / "api_events").glob("*.parquet"))
    answer = _events(world, batch)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == 0 and body["offline_part"] is None and body["pushed_views"] == []
    assert sorted(q["index"] for q in body["quarantined"]) == list(range(size))
    assert all(q["reason"].strip() for q in body["quarantined"])
    # Rows that reached the GX gate are kept, with their reason, in the quarantine store.
    new = set((world.settings.quarantine_dir / "api_events").glob("*.parquet")) - before
    kept = [r for p in new for r in pq.read_table(p).to_pylist()]
    assert kept and all(r[c.QUARANTINE_REASON] for r in kept)
    assert not {e[c.EVENT_ID] for e in batch} & set(offline_ids(world.settings))
    assert httpx.get(f"{world.url}/healthz").status_code == 200
    good = valid_event(rng, _eid("after-flood"), world.viewers, world.rooms)
    assert _events(world, [good]).json()["accepted"] == 1
    OUTCOMES["quarantine flood"] = (
        f"{size} bad events in one batch: 0 accepted, {size} quarantined with reasons "
        f"({len(kept)} GX-rejected rows kept in quarantine/api_events), /healthz ok, "
        "next good event accepted"
    )


def test_unknown_viewer__cold_start_not_failure(world: World) -> None:
    answer = _viewer(world, f"never-seen-{uuid.uuid4().hex[:6]}", room_id=world.rooms[0][0])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["cold_start"] and not body["degraded"] and len(body["products"]) == 5
    OUTCOMES["unknown viewer"] = "200, cold_start=true, degraded=false, 5 products"


# --- degradation: the online store unreadable or gone ---------------------------------------


@contextlib.contextmanager
def unreadable_manifest(settings: LivecartSettings) -> Iterator[None]:
    """Replace the online store's manifest with garbage (atomically), restore it afterwards."""
    manifest = _store_dir(settings) / "MANIFEST.json"
    saved = manifest.read_bytes()
    tmp = manifest.with_name(".broken.tmp")
    tmp.write_bytes(b"{ not json")
    os.replace(tmp, manifest)
    try:
        yield
    finally:
        tmp.write_bytes(saved)
        os.replace(tmp, manifest)


def _recovered(world: World) -> bool:
    body = _viewer(world).json()
    return not body["degraded"] and not body["cold_start"]


def test_online_store_unreadable__popularity_fallback_degraded_then_normal(world: World) -> None:
    assert _recovered(world)
    with unreadable_manifest(world.settings):
        answer = _viewer(world)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["degraded"] and len(body["products"]) == 5
        assert any("feature store unavailable" in r for r in body["degraded_reasons"])
        assert {p["driver"] for p in body["products"]} == {"popularity"}
        ready = httpx.get(f"{world.url}/readyz", timeout=30)
        assert ready.status_code == 503 and "unreadable" in ready.json()["details"]["online_store"]
    _wait_for(lambda: _recovered(world), what="recommendations back to normal")
    assert httpx.get(f"{world.url}/readyz", timeout=30).status_code == 200
    OUTCOMES["online store unreadable"] = (
        f"200 with degraded=true, reasons {body['degraded_reasons']}, popularity drivers; "
        "/readyz 503; normal again after restore"
    )


def test_online_store_unreadable__streamer_assist_degrades_not_500(world: World) -> None:
    with unreadable_manifest(world.settings):
        answer = httpx.post(
            f"{world.url}/v1/recommend/streamer", json={"room_id": world.rooms[0][0]}, timeout=60
        )
    _wait_for(lambda: _recovered(world), what="recommendations back to normal")
    assert answer.status_code == 200, answer.text


def test_online_store_unreadable__events_still_stored_offline_and_pushed_after(
    world: World,
) -> None:
    rng = random.Random(3)
    viewer = world.viewers[3]
    batch = [valid_event(rng, _eid("outage"), [viewer], world.rooms) for _ in range(3)]
    with unreadable_manifest(world.settings):
        answer = _events(world, batch)
    assert answer.status_code == 200, answer.text  # accepted; only the push waits for the store
    assert answer.json()["accepted"] == 3
    assert all(offline_ids(world.settings).get(e[c.EVENT_ID]) == 1 for e in batch)
    after = [valid_event(rng, _eid("after-outage"), [viewer], world.rooms)]
    assert _events(world, after).json()["accepted"] == 1
    # The viewer's next push recomputes its rows from every stored event, the outage's included.
    assert not online_mismatches(world.settings, [viewer], [])
    OUTCOMES["events during online store outage"] = (
        f"200, accepted 3, pushed_views {answer.json()['pushed_views']}, stored offline; "
        "the viewer's next push made its online counters whole"
    )


def test_online_store_directory_gone__degraded_not_silent_cold_start(world: World) -> None:
    store = _store_dir(world.settings)
    away = store.with_name("online.away")
    os.rename(store, away)
    try:
        body = _viewer(world).json()
        assert body["degraded"], body
    finally:
        os.rename(away, store)
        _wait_for(lambda: _recovered(world), what="recommendations back to normal")


def test_online_store_unreadable__fallback_still_applies_price_filter(world: World) -> None:
    with unreadable_manifest(world.settings):
        body = _viewer(world, filters={"live_only": False, "max_price": 1.0}).json()
    _wait_for(lambda: _recovered(world), what="recommendations back to normal")
    assert body["degraded"]
    assert all(p["price"] <= 1.0 for p in body["products"]), body["products"]


# --- replicas killed --------------------------------------------------------------------------


def _load(world: World, client: RetryingClient, stop: threading.Event, seed: int) -> list[str]:
    """Reads and small event batches until ``stop``; returns ids of accepted events."""
    rng = random.Random(seed)
    accepted: list[str] = []
    while not stop.is_set():
        if rng.random() < 0.7:
            body = {"viewer_id": rng.choice(world.viewers), "k": 5, "filters": {"live_only": False}}
            answer = client.post("/v1/recommend/viewer", body)
            assert answer.status_code == 200, answer.text
        else:
            event = valid_event(rng, _eid("kill"), world.viewers, world.rooms)
            answer = client.post("/v1/events", {"events": [event]}, auth=True)
            assert answer.status_code == 200, answer.text
            quarantined = answer.json()["quarantined"]
            # A retry after a lost answer meets its own first copy: stored, reported duplicate.
            assert not quarantined or "duplicate" in quarantined[0]["reason"], quarantined
            accepted.append(event[c.EVENT_ID])
        time.sleep(0.02)
    return accepted


def test_kill_recommender_replica_during_load__retries_lose_no_request(world: World) -> None:
    before = replicas("Recommender")
    assert len(before) == 2, before
    client = RetryingClient(world.url, deadline_s=150.0)
    stop = threading.Event()
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run(seed: int) -> None:
        try:
            results.append(_load(world, client, stop, seed))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    try:
        time.sleep(2.0)
        kill_replica(before[0])
        _wait_for(lambda: before[0] not in replicas("Recommender"), what="killed replica gone")
        time.sleep(3.0)  # load meets the dead replica while Serve notices
        _wait_for(lambda: len(set(replicas("Recommender")) - {before[0]}) == 2, 180, "new replica")
        wait_running("Recommender", 2)
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join()
        client.close()
    assert not errors, errors
    assert not client.stats.failed and client.stats.requests > 20, client.stats.as_dict()
    stored = offline_ids(world.settings)
    ids = [i for r in results for i in r]
    assert ids and all(stored.get(i) == 1 for i in ids)
    stats = client.stats.as_dict()
    OUTCOMES["Recommender replica killed under load"] = (
        f"{stats['requests']} requests, {stats['retries']} retried, 0 lost; statuses "
        f"{stats['statuses']}, transport errors {stats['transport_errors']}; "
        f"{len(ids)} events accepted and stored once; replacement replica running"
    )


def _audience(world: World, room: str) -> int:
    answer = httpx.post(f"{world.url}/v1/recommend/streamer", json={"room_id": room}, timeout=60)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["audience"]["viewers_present"])


def test_kill_event_ingest__accepted_events_kept_state_reloaded_retries_deduplicated(
    world: World,
) -> None:
    room, streamer, products = world.rooms[-1]
    viewers = world.viewers[10:14]
    first = [event(_eid("pre-kill"), "enter_room", v, room, streamer) for v in viewers]
    assert _events(world, first).json()["accepted"] == len(first)
    present = _audience(world, room)
    assert present >= len(viewers)

    (name,) = replicas("EventIngest")
    kill_replica(name)
    client = RetryingClient(world.url, deadline_s=180.0)
    clicks = [
        event(_eid("post-kill"), "click", v, room, streamer, product_id=products[0])
        for v in viewers
    ]
    answer = client.post("/v1/events", {"events": clicks}, auth=True)
    client.close()
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == len(clicks), answer.json()
    assert replicas("EventIngest") != [name]

    # The new replica reloaded its state from the offline store: the audience is still there.
    assert _audience(world, room) == present
    stored = offline_ids(world.settings)
    assert all(stored.get(e[c.EVENT_ID]) == 1 for e in first + clicks)
    # Fresh rows pushed after the restart count the events from before it.
    assert not online_mismatches(world.settings, viewers, [products[0]])
    # A client retrying the first batch (its answer lost in the crash) must not store it twice.
    again = _events(world, first).json()
    assert again["accepted"] == 0, again
    assert all("duplicate" in q["reason"] for q in again["quarantined"])
    assert all(offline_ids(world.settings).get(e[c.EVENT_ID]) == 1 for e in first)
    OUTCOMES["EventIngest replica killed"] = (
        f"batch sent after the kill accepted after {client.stats.retries} retries; audience "
        f"{present} reloaded from the offline store; events stored once; resent pre-kill "
        "batch quarantined as duplicates; online counters equal the offline recomputation"
    )


# --- the materialization job killed, a Parquet file corrupted ---------------------------------


def _cli(world: World, *args: str) -> subprocess.Popen[str]:
    """``livecart ARGS`` in a new session, on this test's Ray (a driver that can be killed)."""
    env = {
        **os.environ,
        "LIVECART_HOME": str(world.settings.home),
        "LIVECART_EMBEDDING_DIM": str(world.settings.embedding_dim),
        "LIVECART_RAY_ADDRESS": ray.get_runtime_context().gcs_address,
        "_TYPER_STANDARD_TRACEBACK": "1",  # plain tracebacks: paths not wrapped by rich
        "COLUMNS": "400",
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from livecart.cli import app; app()", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _holds_open(pid: int, path: Path) -> bool:
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) == str(path):
                    return True
    return False


def _manifest(world: World) -> bytes:
    return (_store_dir(world.settings) / "MANIFEST.json").read_bytes()


def test_kill_materialize_midway__previous_state_served_and_rerun_completes(
    world: World,
) -> None:
    from livecart.online.files import LOCK, read_manifest

    store = _store_dir(world.settings)
    before = _manifest(world)
    lock = store / LOCK
    with open(lock, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # the job reads every view, then waits here
        job = _cli(world, "materialize")
        try:
            _wait_for(
                lambda: _holds_open(job.pid, lock) or job.poll() is not None,
                240,
                "materialize reaching its commit",
            )
            assert job.poll() is None, job.communicate()[0][-2000:]
            os.killpg(job.pid, signal.SIGKILL)
            job.wait(30)
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            if job.poll() is None:
                os.killpg(job.pid, signal.SIGKILL)
    assert job.returncode == -signal.SIGKILL
    assert _manifest(world) == before, "a killed job changed the committed state"
    manifest = read_manifest(store)
    assert all((store / name).exists() for name in manifest.files())
    assert _recovered(world)

    rerun = _cli(world, "materialize")
    output = rerun.communicate(timeout=300)[0]
    assert rerun.returncode == 0, output[-2000:]
    assert read_manifest(store).version > manifest.version
    assert _recovered(world)
    OUTCOMES["materialize killed (SIGKILL) while committing"] = (
        f"manifest unchanged (version {manifest.version}), every referenced file present, "
        f"serving normal; rerun exit 0, version {read_manifest(store).version}"
    )


def test_corrupt_feature_table__job_error_names_file__serving_unaffected(world: World) -> None:
    path = world.settings.feature_table_path(f.FeatureTable.PRODUCT_PROFILE.value)
    saved = path.read_bytes()
    before = _manifest(world)
    path.write_bytes(saved[: len(saved) // 2])
    try:
        job = _cli(world, "materialize")
        output = job.communicate(timeout=300)[0]
        assert job.returncode != 0
        assert str(path) in output, output[-3000:]
        assert "Traceback" not in output, output[-3000:]  # one clear line, not a stack
        assert _manifest(world) == before
        assert _recovered(world)  # serving is not affected by a failed job
        named = next(line for line in output.splitlines() if str(path) in line)
        OUTCOMES["truncated feature table"] = (
            f"materialize exit {job.returncode}: {named.strip()[:300]}; online store "
            "unchanged, serving normal"
        )
    finally:
        path.write_bytes(saved)


def test_corrupt_events_part__ingest_restarts_and_serves__reader_names_file(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """A torn events part (e.g. a copy cut short) must not take the ingest replica down."""
    events_dir = world.settings.clean_dir / "events"
    source = next(iter(sorted(events_dir.glob("part-api-*.parquet"))))
    bad = events_dir / "part-zzz-torn.parquet"
    data = source.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    try:
        (name,) = replicas("EventIngest")
        kill_replica(name)  # its successor bootstraps from the offline store, torn part included
        good = valid_event(random.Random(5), _eid("torn"), world.viewers, world.rooms)
        client = RetryingClient(world.url, deadline_s=120.0)
        answer = client.post("/v1/events", {"events": [good]}, auth=True)
        client.close()
        assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text
        assert replicas("EventIngest") != [name]
        # What the new replica did at start, in-process: the readable rows, the torn file named.
        from serving.live_state import read_recent_events

        readable = pq.read_table(source).num_rows
        since = datetime(2000, 1, 1, tzinfo=UTC)
        assert read_recent_events([str(source), str(bad)], since).num_rows == readable
        assert str(bad) in caplog.text and "unreadable" in caplog.text
        OUTCOMES["torn events part"] = (
            "EventIngest killed with a torn part present: successor started, event accepted; "
            f"the part is skipped and named: {caplog.records[-1].getMessage()[:200]}"
        )
    finally:
        bad.unlink()
