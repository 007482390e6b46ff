"""Many reader processes while materialization and pushes write; writers killed mid-commit.

Every row is written self-consistent (score == count, label == "v<score>"), so a torn read (a
row mixing two writes) is visible to the readers.

Readers, the pusher and the killed writers are forked from a server that imported Feast and
livecart once (tests/forked.py): a fresh interpreter spends about 5 s importing them.
"""

from __future__ import annotations

import os
import random
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from feast import FeatureStore
from feast.data_source import PushMode

from livecart.core.settings import LivecartSettings
from livecart.online.cache import ReadCache
from ray_jobs.materialize import run as materialize
from tests.forked import forked_processes
from tests.integration.conftest import make_repo, offline_frame

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ITEMS = 300
FEATURES = ["items:score", "items:count", "items:label"]


def _versioned_frame(version: int, at: datetime) -> pd.DataFrame:
    frame = offline_frame(ITEMS, at)
    frame["score"] = float(version)
    frame["count"] = version
    frame["label"] = f"v{version}"
    return frame


def _push_row(item: str, version: int) -> pd.DataFrame:
    now = datetime.now(UTC)
    row = _versioned_frame(version, now).iloc[:1].copy()
    row["item_id"] = item
    row["event_timestamp"], row["created"] = now, now
    return row


def reader(repo_path: str, seconds: float, out: Any) -> None:
    store = FeatureStore(repo_path=repo_path)
    rng = random.Random(os.getpid())
    stats = {"reads": 0, "errors": 0, "torn": 0, "first_error": ""}
    ids = [f"i{k}" for k in range(ITEMS)] + [f"push{k}" for k in range(5)]
    deadline = time.time() + seconds
    while time.time() < deadline:
        rows = [{"item_id": i} for i in rng.sample(ids, 40)]
        try:
            got = store.get_online_features(features=FEATURES, entity_rows=rows).to_dict()
        except Exception as error:  # counted: the test demands zero
            stats["errors"] += 1
            stats["first_error"] = stats["first_error"] or repr(error)
            continue
        stats["reads"] += 1
        for score, count, label in zip(got["score"], got["count"], got["label"], strict=True):
            if score is None:
                continue
            if count != int(score) or label != f"v{int(score)}":
                stats["torn"] += 1
    out.put(stats)


def pusher(repo_path: str, seconds: float, out: Any) -> None:
    store = FeatureStore(repo_path=repo_path)
    last: dict[str, int] = {}
    version = 1_000_000
    deadline = time.time() + seconds
    while time.time() < deadline:
        version += 1
        item = f"push{version % 5}"
        store.push("items_push", _push_row(item, version), to=PushMode.ONLINE)
        last[item] = version
        time.sleep(0.01)
    out.put(last)


def test_store__readers_during_materialize_and_push__no_errors_no_torn_reads(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo", n=ITEMS)
    repo.store.materialize(datetime.now(UTC) - timedelta(days=2), datetime.now(UTC))
    seconds = 12.0
    ctx = forked_processes()
    queue = ctx.Queue()
    root = str(repo.directory.parent)
    readers = [ctx.Process(target=reader, args=(root, seconds, queue)) for _ in range(4)]
    push = ctx.Process(target=pusher, args=(root, seconds, queue))
    for process in [*readers, push]:
        process.start()
    settings = LivecartSettings(home=tmp_path / "home")
    deadline, version, rounds = time.time() + seconds, 0, 0
    while time.time() < deadline:
        version += 1
        _versioned_frame(version, datetime.now(UTC) - timedelta(seconds=1)).to_parquet(
            repo.source_path
        )
        materialize(
            settings, start=datetime.now(UTC) - timedelta(days=1), store=repo.store, use_ray=False
        )
        rounds += 1
    results = [queue.get(timeout=120) for _ in range(5)]
    for process in [*readers, push]:
        process.join(timeout=60)
    stats = [r for r in results if "reads" in r]
    pushed = next(r for r in results if "reads" not in r)
    assert len(stats) == 4 and rounds >= 3
    assert sum(s["errors"] for s in stats) == 0, [s["first_error"] for s in stats if s["errors"]]
    assert sum(s["torn"] for s in stats) == 0, stats
    assert all(s["reads"] > 50 for s in stats), stats
    final = (
        FeatureStore(repo_path=root)
        .get_online_features(features=FEATURES, entity_rows=[{"item_id": k} for k in pushed])
        .to_dict()
    )
    assert final["count"] == list(pushed.values())
    assert final["score"][0] is not None


def materialize_loop(
    root: str, source: str, start: int, rounds: int | None, ready: Any, last: Any
) -> None:
    """Write versions start+1, start+2, ... offline and materialize each one, until killed (or
    ``rounds`` done); ``last`` holds the newest committed version, ``ready`` is set once the
    store is open (from then on it commits in a loop)."""
    store = FeatureStore(repo_path=root)
    ready.set()
    version = start
    while rounds is None or version < start + rounds:
        version += 1
        _versioned_frame(version, datetime.now(UTC) - timedelta(seconds=1)).to_parquet(source)
        materialize(
            LivecartSettings(home=Path(root) / "home"),
            start=datetime.now(UTC) - timedelta(days=1),
            store=store,
            use_ray=False,
        )
        last.value = version


def _versions_in_store(directory: Path) -> set[float]:
    state = ReadCache(directory).view("mini__items", ["item_id"])
    assert state is not None and state.table is not None
    scores = state.table.column("score").to_pylist()
    return {scores[p] for p in state.index.values()}


def test_store__materialize_killed_at_random__old_or_new_never_a_mix(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", n=ITEMS)
    root = str(repo.directory.parent)
    _versioned_frame(0, datetime.now(UTC) - timedelta(seconds=1)).to_parquet(repo.source_path)
    materialize(
        LivecartSettings(home=tmp_path / "home"),
        start=datetime.now(UTC) - timedelta(days=1),
        store=repo.store,
        use_ray=False,
    )
    assert _versions_in_store(repo.directory) == {0.0}
    rng = random.Random(3)
    ctx = forked_processes()
    committed = 0
    for kill in range(6):
        ready, last = ctx.Event(), ctx.Value("q", kill * 1000, lock=False)  # no lock to die holding
        loop = ctx.Process(
            target=materialize_loop,
            args=(root, str(repo.source_path), kill * 1000, None, ready, last),
        )
        loop.start()
        assert ready.wait(120)  # the store is open: now it commits in a loop
        time.sleep(rng.uniform(0.3, 2.5))
        loop.kill()  # SIGKILL
        loop.join(60)
        assert loop.exitcode == -signal.SIGKILL
        committed += last.value - kill * 1000
        versions = _versions_in_store(repo.directory)
        assert len(versions) == 1, versions  # one complete materialization, never a mix
    assert committed > 0
    # A rerun completes: the newest offline version becomes the served one.
    ready, last = ctx.Event(), ctx.Value("q", 0, lock=False)
    final = ctx.Process(
        target=materialize_loop, args=(root, str(repo.source_path), 99000, 1, ready, last)
    )
    final.start()
    final.join(120)
    assert final.exitcode == 0  # a failure's traceback is in the captured stderr
    assert last.value == 99001
    assert _versions_in_store(repo.directory) == {99001.0}
