"""A followed read cache (serving replicas): commits become visible to the next read (one
``stat`` per read, the loading done by the follower or by that read), an unreadable store and a
stuck follower surface as errors the caller degrades on, and the store reads normally again once
it is readable."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from feast import FeatureService
from feast.data_source import PushMode

from livecart.online.access import read_cache
from livecart.online.cache import OnlineStoreLagging, OnlineStoreUnavailable, ReadCache
from livecart.online.frames import read_frame
from livecart.online.plan import plan_service
from tests.integration.conftest import NOW, MiniRepo, make_repo

pytestmark = pytest.mark.integration


def _score(repo: MiniRepo, item: str) -> object:
    plan = plan_service(repo.store, "items_service")
    return read_frame(repo.store, plan, {"item_id": [item]}).column("score")[0].as_py()


def _push(repo: MiniRepo, item: str, score: float) -> None:
    frame = pd.DataFrame({
        "item_id": [item], "score": [score], "count": [7], "label": ["pushed"], "tags": [["p"]],
        "ratio": [0.5], "flag": [True], "small": [3],
        "embedding": [[1.0, 0.0, 0.0, 0.0]], "event_timestamp": [NOW], "created": [NOW],
    })
    repo.store.push("items_push", frame, to=PushMode.ONLINE)


def _eventually(check: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def _healthy(cache: ReadCache) -> bool:
    try:
        cache.manifest()
    except (OnlineStoreLagging, OnlineStoreUnavailable):
        return False
    return True


@pytest.fixture
def followed(tmp_path: Path) -> MiniRepo:
    repo = make_repo(tmp_path / "repo", n=30)
    repo.store.materialize(NOW - timedelta(days=2), NOW)
    repo.store.apply([FeatureService(name="items_service", features=[repo.view])])
    assert _score(repo, "i4") == 4.0  # loaded before following: carried over
    read_cache(repo.store.config).follow(interval_s=0.01, stale_after_s=0.5)
    return repo


def test_follow__a_commit__visible_to_the_next_read_and_to_the_follower(
    followed: MiniRepo,
) -> None:
    cache = read_cache(followed.store.config)
    assert cache.following and _score(followed, "i4") == 4.0
    _push(followed, "i4", 44.0)  # the store's writer commits a delta
    assert _score(followed, "i4") == 44.0  # the read after the commit sees it, follower or not
    assert _score(followed, "i5") == 5.0 and _score(followed, "nope") is None
    cache.manifest()
    stamp = cache._published.stamp
    _push(followed, "i5", 55.0)  # no read now: the follower alone loads it
    _eventually(lambda: cache._published.stamp != stamp)
    assert cache._published.views  # published by the follower's thread, before any read


def test_follow__unreadable_manifest__raises_then_recovers(followed: MiniRepo) -> None:
    cache = read_cache(followed.store.config)
    manifest = cache.directory / "MANIFEST.json"
    saved = manifest.read_bytes()
    broken = manifest.with_name(".broken.tmp")
    broken.write_bytes(b"{ not json")
    os.replace(broken, manifest)
    try:
        _eventually(lambda: not _healthy(cache))
        with pytest.raises(OnlineStoreUnavailable, match="unreadable"):
            _score(followed, "i4")
    finally:
        broken.write_bytes(saved)
        os.replace(broken, manifest)
    _eventually(lambda: _healthy(cache))
    assert _score(followed, "i4") == 4.0


def test_follow__stuck_follower__reads_raise_lagging_a_timeout(
    followed: MiniRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = read_cache(followed.store.config)
    release = threading.Event()
    monkeypatch.setattr(ReadCache, "_refresh", lambda self: release.wait(30))  # hung storage
    try:
        time.sleep(0.7)  # past stale_after_s without a completed check
        with pytest.raises(OnlineStoreLagging) as raised:
            cache.manifest()
        assert isinstance(raised.value, TimeoutError)  # the serving path's timeout fallback
    finally:
        release.set()
    _eventually(lambda: _healthy(cache))  # checks complete again
