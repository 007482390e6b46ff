"""Per-process read cache: each reader holds the committed state of the views it reads.

Readers never open a file a writer is writing: snapshots and deltas are immutable, and the
manifest is swapped atomically. By default a read first compares the manifest's stamp (one
``stat``); when a commit happened, the reader loads only what changed (new deltas, or a new
compacted snapshot).

A serving replica instead *follows* the store (:meth:`ReadCache.follow`): a background thread
checks the stamp every few milliseconds, loads what changed and publishes manifest and view
states together. Requests then read no file but the manifest's stamp (one ``stat``), so they can
run on the event loop without a thread hop; a store that is unreadable, or so slow that the
follower has not completed a check within ``stale_after_s``, makes reads raise
(:class:`OnlineStoreUnavailable`, :class:`OnlineStoreLagging`) and the caller degrades, as it
would on a slow read. When that stamp shows a commit since the follower's last step, the
request takes the step itself (loading the new deltas, as the follower would have a few
milliseconds later), so a read that starts after a commit sees it: an event's push is visible to
the next feed request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from livecart.core.errors import LivecartError
from livecart.online.files import (
    Manifest,
    ViewEntry,
    manifest_stamp,
    missing,
    read_delta,
    read_manifest,
    read_snapshot,
)
from livecart.online.state import ViewState, append_rows

RETRIES = 5
CATCH_UP_WAIT_S = 0.05  # a request's wait for the follower's step under way before its own
Stamp = tuple[int, int, int] | None


class OnlineStoreUnavailable(LivecartError):
    """The followed store's last check failed (unreadable manifest or files)."""


class OnlineStoreLagging(LivecartError, TimeoutError):
    """The store follower has not completed a check recently (slow or hung storage)."""


@dataclass(frozen=True)
class Published:
    """What a followed cache serves: a manifest and view states loaded for it, swapped as one."""

    stamp: Stamp
    manifest: Manifest
    views: dict[str, ViewState] = field(default_factory=dict)


class ReadCache:
    """The committed state of a store directory, refreshed on demand or by a follower."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._stamp: Stamp = None
        self._manifest = Manifest()
        self._views: dict[str, ViewState] = {}
        self._lock = threading.Lock()
        self._follower: _Follower | None = None
        self._published = Published(None, Manifest())
        self._keys: dict[str, tuple[str, ...]] = {}
        self._refreshing = threading.Lock()  # one refresh at a time: follower or a request

    @property
    def following(self) -> bool:
        return self._follower is not None

    def follow(self, interval_s: float, stale_after_s: float) -> None:
        """From now on, refresh in a background thread and serve reads from memory only."""
        with self._lock:
            if self._follower is None:
                self._published = Published(self._stamp, self._manifest, dict(self._views))
                self._follower = _Follower(self, interval_s, stale_after_s)
        self._follower.start_once()

    def manifest(self) -> Manifest:
        """The latest committed manifest (one ``stat`` when nothing changed; none when
        following)."""
        if self._follower is not None:
            self._follower.check()
            if manifest_stamp(self.directory) != self._published.stamp:
                # A commit since the follower's last step: take it now (after the step under
                # way, if any, but never waiting long on a hung one: the lag check reports it).
                self._follower.step(wait_s=CATCH_UP_WAIT_S)
            return self._published.manifest
        stamp = manifest_stamp(self.directory)
        if stamp != self._stamp or stamp is None:  # none: a new store, or a lost manifest
            with self._lock:
                self._manifest, self._stamp = read_manifest(self.directory), stamp
        return self._manifest

    def in_memory(self, name: str) -> bool:
        """Whether reading view ``name`` now needs no file read (one ``stat`` unless following):
        async readers then read on the event loop rather than in a worker thread."""
        if self._follower is not None:
            published = self._published
            return name in published.views or name not in published.manifest.views
        if manifest_stamp(self.directory) != self._stamp:
            return False
        entry = self._manifest.views.get(name)
        state = self._views.get(name)
        return entry is None or (state is not None and _covers(state, entry))

    def view(
        self, name: str, keys: Sequence[str], manifest: Manifest | None = None
    ) -> ViewState | None:
        """The view's rows as of the latest commit (or of ``manifest``, a just-read one, so
        one request reading many views checks the store once), None if there is no such view."""
        if self._follower is not None:
            return self._followed_view(name, keys)
        for attempt in range(RETRIES):
            current = manifest if manifest is not None and attempt == 0 else self.manifest()
            entry = current.views.get(name)
            if entry is None:
                self._views.pop(name, None)
                return None
            try:
                with self._lock:
                    state = self._sync(self._views.get(name), entry, keys)
                    self._views[name] = state
                    self._keys[name] = tuple(keys)
                return state
            except FileNotFoundError as gone:
                # The file was collected after a newer commit: read the manifest again. A file
                # the latest manifest still names after every retry is lost: corruption.
                self._stamp = None
                if attempt == RETRIES - 1:
                    raise missing(self.directory, Path(str(gone.filename)).name) from None
        return None

    def _followed_view(self, name: str, keys: Sequence[str]) -> ViewState | None:
        published = self._published
        state = published.views.get(name)
        if state is not None or name not in published.manifest.views:
            return state
        with self._lock:  # first read of this view here: load it once, the follower keeps it
            published = self._published
            entry = published.manifest.views.get(name)
            state = published.views.get(name)
            if state is None and entry is not None:
                state = self._sync(None, entry, keys)
                self._keys[name] = tuple(keys)
                self._published = replace(published, views={**published.views, name: state})
        return state

    def refresh(self, wait_s: float = -1) -> bool:
        """The follower's step: if the store committed, load what changed and publish it.
        False, doing nothing, when another refresh is still under way after ``wait_s``
        (negative: wait for it)."""
        if not self._refreshing.acquire(timeout=wait_s):
            return False
        try:
            self._refresh()
        finally:
            self._refreshing.release()
        return True

    def _refresh(self) -> None:
        stamp = manifest_stamp(self.directory)
        published = self._published
        if stamp == published.stamp and stamp is not None:
            return
        manifest = read_manifest(self.directory)
        views = {}
        for name, keys in list(self._keys.items()):
            entry = manifest.views.get(name)
            if entry is not None:
                views[name] = self._sync(published.views.get(name), entry, keys)
        with self._lock:
            # Views first loaded by a request meanwhile stay, if this manifest still has them.
            for name, state in self._published.views.items():
                entry = manifest.views.get(name)
                if name not in views and entry is not None and _covers(state, entry):
                    views[name] = state
            self._published = Published(stamp, manifest, views)

    def _sync(self, state: ViewState | None, entry: ViewEntry, keys: Sequence[str]) -> ViewState:
        if state is not None and _folded_from(state, entry):
            # The writer compacted what this state holds (plus deltas it lists): catch up with
            # those deltas and take the new base's name, instead of loading the snapshot again.
            # A reader ahead of a background compaction holds deltas past the fold already.
            assert entry.folded is not None
            state = _copy_for_append(state)
            folded = entry.folded.deltas
            for name in folded[len(state.deltas) :]:
                append_rows(state, read_delta(self.directory, name), keys, trusted=False)
            state.base, state.deltas = entry.base, state.deltas[len(folded) :]
        stale = (
            state is None
            or state.base != entry.base
            or entry.deltas[: len(state.deltas)] != state.deltas
        )
        if state is None or stale:
            fresh = ViewState(base=entry.base)
            if entry.base is not None:
                append_rows(fresh, read_snapshot(self.directory, entry.base), keys, trusted=True)
            state = fresh
        elif len(entry.deltas) > len(state.deltas):
            state = _copy_for_append(state)
        for name in entry.deltas[len(state.deltas) :]:
            append_rows(state, read_delta(self.directory, name), keys, trusted=False)
            state.deltas.append(name)
        return state


# A state that catches up across compactions keeps the rows later writes superseded; past this
# share of its live keys, it loads the compacted snapshot instead (bounded memory).
SUPERSEDED_SHARE = 0.25


def _folded_from(state: ViewState, entry: ViewEntry) -> bool:
    folded = entry.folded
    if folded is None or state.base == entry.base or state.base != folded.base:
        return False
    held, fold = tuple(state.deltas), folded.deltas
    if held[: len(fold)] != fold[: len(held)]:
        return False
    if len(held) > len(fold) and list(held[len(fold) :]) != entry.deltas[: len(held) - len(fold)]:
        return False
    rows = state.table.num_rows if state.table is not None else 0
    return rows - len(state.index) <= SUPERSEDED_SHARE * max(len(state.index), 1)


def _copy_for_append(state: ViewState) -> ViewState:
    """Copy on write: a thread still reading ``state`` keeps a consistent view."""
    return replace(
        state,
        deltas=list(state.deltas),
        index=dict(state.index),
        combined={},
        numeric={},
        matrices={},
        by_universe={t: (u, found.copy()) for t, (u, found) in state.by_universe.items()},
    )


def _covers(state: ViewState, entry: ViewEntry) -> bool:
    return state.base == entry.base and state.deltas == entry.deltas


class _Follower:
    """The thread behind :meth:`ReadCache.follow` and the health requests check."""

    def __init__(self, cache: ReadCache, interval_s: float, stale_after_s: float) -> None:
        self.cache, self.interval_s, self.stale_after_s = cache, interval_s, stale_after_s
        self.last_ok = time.monotonic()
        self.error: Exception | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Lock()

    def start_once(self) -> None:
        with self._started:
            if self._thread is None:
                self.step()  # publish the current state before the first request reads
                self._thread = threading.Thread(
                    target=self._run, name="online-store-follower", daemon=True
                )
                self._thread.start()

    def step(self, wait_s: float = -1) -> None:
        try:
            ran = self.cache.refresh(wait_s)
        except Exception as exc:  # kept for the requests to report; the next step retries
            self.error = exc
        else:
            if ran:  # a step skipped beside a running one proves nothing about the store
                self.error = None
                self.last_ok = time.monotonic()

    def _run(self) -> None:
        while True:
            self.step()
            time.sleep(self.interval_s)

    def check(self) -> None:
        error = self.error
        if error is not None:
            raise OnlineStoreUnavailable(
                f"online store at {self.cache.directory} unreadable: "
                f"{type(error).__name__}: {error}"
            )
        lag = time.monotonic() - self.last_ok
        if lag > self.stale_after_s:
            raise OnlineStoreLagging(
                f"online store at {self.cache.directory} not checked for {lag:.1f} s "
                "(slow or unreachable storage)"
            )
