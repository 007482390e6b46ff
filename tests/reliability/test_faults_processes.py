"""Processes killed and files corrupted: replicas under load (retries lose no request), the
ingest replica (state reloads from the offline store), the materialization job mid-commit (the
previous state is served) and corrupt Parquet files (errors name the file)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
import ray

from livecart.core import contract as c
from livecart.core import feature_names as f
from tests.forked import forked_processes, livecart_cli
from tests.integration.serving.conftest import event
from tests.reliability.conftest import RetryingClient, World
from tests.reliability.faults import (
    OUTCOMES,
    eid,
    events,
    recovered,
    store_dir,
    wait_for,
)
from tests.reliability.support import (
    kill_replica,
    offline_ids,
    online_mismatches,
    replicas,
    valid_event,
    wait_running,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.reliability]


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
            event = valid_event(rng, eid("kill"), world.viewers, world.rooms)
            answer = client.post("/v1/events", {"events": [event]}, auth=True)
            assert answer.status_code == 200, answer.text
            quarantined = answer.json()["quarantined"]
            # A retry after a lost answer meets its own first copy: stored, reported duplicate.
            assert not quarantined or "duplicate" in quarantined[0]["reason"], quarantined
            accepted.append(event[c.EVENT_ID])
        time.sleep(0.02)
    return accepted


def _wait_requests(
    client: RetryingClient, more: int, errors: list[BaseException], what: str
) -> None:
    """Until the load has sent ``more`` further requests, or failed (a fixed sleep waited too
    long on a quiet machine and for too few requests on a loaded one)."""
    target = client.stats.requests + more
    wait_for(lambda: errors or client.stats.requests >= target, 60, what)


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
        _wait_requests(client, 20, errors, "load before the kill")
        kill_replica(before[0])
        wait_for(lambda: before[0] not in replicas("Recommender"), what="killed replica gone")
        _wait_requests(client, 20, errors, "load meeting the dead replica")  # while Serve notices
        wait_for(lambda: len(set(replicas("Recommender")) - {before[0]}) == 2, 180, "new replica")
        wait_running("Recommender", 2)
        _wait_requests(client, 20, errors, "load on the replacement")
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


def test_kill_event_ingest__torn_part_skipped_and_named__events_kept_state_reloaded_retries_deduplicated(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The ingest replica killed with a torn events part present (e.g. a copy cut short): its
    successor starts, skips the torn part (named in the log) and reloads its state from the
    rest of the offline store. One kill for both faults: each replica restart costs seconds."""
    room, streamer, products = world.rooms[-1]
    viewers = world.viewers[10:14]
    first = [event(eid("pre-kill"), "enter_room", v, room, streamer) for v in viewers]
    assert events(world, first).json()["accepted"] == len(first)
    present = _audience(world, room)
    assert present >= len(viewers)

    events_dir = world.settings.clean_dir / "events"
    source = next(iter(sorted(events_dir.glob("part-api-*.parquet"))))
    bad = events_dir / "part-zzz-torn.parquet"
    data = source.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    try:
        (name,) = replicas("EventIngest")
        kill_replica(name)  # its successor bootstraps from the offline store, torn part included
        client = RetryingClient(world.url, deadline_s=180.0)
        clicks = [
            event(eid("post-kill"), "click", v, room, streamer, product_id=products[0])
            for v in viewers
        ]
        answer = client.post("/v1/events", {"events": clicks}, auth=True)
        client.close()
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == len(clicks), answer.json()
        assert replicas("EventIngest") != [name]
        # The new replica reloaded its state from the offline store: the audience is still there.
        assert _audience(world, room) == present
        # What the new replica did at start, in-process: the readable rows, the torn file named.
        from serving.offline_events import read_recent_events

        readable = pq.read_table(source).num_rows
        since = datetime(2000, 1, 1, tzinfo=UTC)
        assert read_recent_events([str(source), str(bad)], since).num_rows == readable
        assert str(bad) in caplog.text and "unreadable" in caplog.text
        OUTCOMES["torn events part"] = (
            "EventIngest killed with a torn part present: successor started, events accepted; "
            f"the part is skipped and named: {caplog.records[-1].getMessage()[:200]}"
        )
    finally:
        bad.unlink()

    stored = offline_ids(world.settings)
    assert all(stored.get(e[c.EVENT_ID]) == 1 for e in first + clicks)
    # Fresh rows pushed after the restart count the events from before it.
    assert not online_mismatches(world.settings, viewers, [products[0]])
    # A client retrying the first batch (its answer lost in the crash) must not store it twice.
    again = events(world, first).json()
    assert again["accepted"] == 0, again
    assert all("duplicate" in q["reason"] for q in again["quarantined"])
    assert all(offline_ids(world.settings).get(e[c.EVENT_ID]) == 1 for e in first)
    OUTCOMES["EventIngest replica killed"] = (
        f"batch sent after the kill accepted after {client.stats.retries} retries; audience "
        f"{present} reloaded from the offline store; events stored once; resent pre-kill "
        "batch quarantined as duplicates; online counters equal the offline recomputation"
    )


# --- the materialization job killed, a Parquet file corrupted ---------------------------------


class CliJob:
    """A ``livecart`` command in a forked process (tests/forked.py: no 5 s of imports first), with
    the parts of ``subprocess.Popen`` these tests use; its stdout and stderr go to a file."""

    def __init__(self, process: BaseProcess, output: Path) -> None:
        self.process, self.output = process, output

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.exitcode

    def poll(self) -> int | None:
        return self.process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self.process.join(timeout)
        if self.process.exitcode is None:
            raise subprocess.TimeoutExpired("livecart", timeout or 0)
        return self.process.exitcode

    def communicate(self, timeout: float | None = None) -> tuple[str, None]:
        self.wait(timeout)
        return self.output.read_text(errors="replace"), None


def _cli(world: World, *args: str) -> CliJob:
    """``livecart ARGS`` in a new session, on this test's Ray (a driver that can be killed)."""
    env = {
        **os.environ,
        "LIVECART_HOME": str(world.settings.home),
        "LIVECART_EMBEDDING_DIM": str(world.settings.embedding_dim),
        "LIVECART_RAY_ADDRESS": ray.get_runtime_context().gcs_address,
        "_TYPER_STANDARD_TRACEBACK": "1",  # plain tracebacks: paths not wrapped by rich
        "COLUMNS": "400",
    }
    output = world.settings.home.parent / f"livecart-{args[0]}-{uuid.uuid4().hex[:8]}.log"
    output.touch()
    process = forked_processes().Process(target=livecart_cli, args=(list(args), env, output))
    process.start()
    return CliJob(process, output)


def _holds_open(pid: int, path: Path) -> bool:
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) == str(path):
                    return True
    return False


def _manifest(world: World) -> bytes:
    return (store_dir(world.settings) / "MANIFEST.json").read_bytes()


def test_kill_materialize_midway__previous_state_served_and_rerun_completes(
    world: World,
) -> None:
    from livecart.online.files import LOCK, read_manifest

    store = store_dir(world.settings)
    before = _manifest(world)
    lock = store / LOCK
    with open(lock, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # the job reads every view, then waits here
        job = _cli(world, "materialize")
        try:
            wait_for(
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
    assert recovered(world)

    rerun = _cli(world, "materialize")
    output = rerun.communicate(timeout=300)[0]
    assert rerun.returncode == 0, output[-2000:]
    assert read_manifest(store).version > manifest.version
    assert recovered(world)
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
        assert recovered(world)  # serving is not affected by a failed job
        named = next(line for line in output.splitlines() if str(path) in line)
        OUTCOMES["truncated feature table"] = (
            f"materialize exit {job.returncode}: {named.strip()[:300]}; online store "
            "unchanged, serving normal"
        )
    finally:
        path.write_bytes(saved)
