"""Interaction logs read from the livecart contract, as index arrays for offline evaluation.

The recommender ranks rooms, and a room is a live session of a streamer, so the evaluated *item* is
the streamer: for Twitch each ``tw-s<id>`` is an item, for the synthetic world each streamer is one
(its rooms are sessions). Rows are sorted by time, stably, so rows sharing a timestamp keep the
order in which they were written (the Twitch adapter writes them by original row number); every
protocol in :mod:`ray_jobs.evaluation.protocols` relies on that order to decide what came before.
Times are integers in a fixed unit (10 minutes by default, the Twitch log's step), which is also the
grain of "live now" windows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from livecart.core.arrays import BoolArray, IntArray
from livecart.core.contract import (
    EVENT_TIMESTAMP,
    EVENT_TYPE,
    STREAMER_ID,
    VIEWER_ID,
    EventType,
    Table,
)
from livecart.core.errors import ContractError, StageError
from livecart.core.io import read_source, source_exists
from livecart.core.settings import LivecartSettings

DEFAULT_TIME_UNIT_SECONDS: Final = 600.0
DEFAULT_EVENT_TYPES: Final[tuple[str, ...]] = (EventType.WATCH.value,)
DATASET_MANIFEST: Final = "dataset.json"
DATASET_EVENT_TYPES: Final[dict[str, tuple[str, ...]]] = {
    "twitch": (EventType.WATCH.value,),
    # A synthetic watch event is stamped when the watch ends; entering the room is its start,
    # which is what Twitch's rows record.
    "synthetic": (EventType.ENTER_ROOM.value,),
}
"""Per dataset in a livecart home: the events that are a viewer's visit to a streamer."""


@dataclass(frozen=True)
class Interactions:
    """A time-ordered interaction log: row ``r`` is user ``users[r]`` with item ``items[r]``.

    ``user_ids`` and ``item_ids`` map indices back to contract ids; every subset made with
    :meth:`subset` keeps the same maps, so indices stay comparable across train and test.
    """

    users: IntArray
    items: IntArray
    times: IntArray
    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    time_unit_seconds: float = DEFAULT_TIME_UNIT_SECONDS
    _user_order: IntArray = field(init=False, repr=False, compare=False)
    _user_starts: IntArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = self.users.shape[0]
        if self.items.shape != (n,) or self.times.shape != (n,):
            raise ValueError("users, items and times must be 1-D arrays of the same length")
        if n and np.any(np.diff(self.times) < 0):
            raise ValueError("interactions must be sorted by time")
        if n and (self.users.max() >= len(self.user_ids) or self.items.max() >= len(self.item_ids)):
            raise ValueError("an index is outside its id map")
        order = np.argsort(self.users, kind="stable").astype(np.int64)
        counts = np.bincount(self.users, minlength=len(self.user_ids))
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        object.__setattr__(self, "_user_order", order)
        object.__setattr__(self, "_user_starts", starts)

    def __len__(self) -> int:
        return int(self.users.shape[0])

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def user_rows(self, user: int) -> IntArray:
        """Row numbers of ``user``'s interactions, in time order."""
        return self._user_order[self._user_starts[user] : self._user_starts[user + 1]]

    def user_counts(self) -> IntArray:
        """Interactions per user index."""
        return np.diff(self._user_starts)

    def item_counts(self) -> IntArray:
        """Interactions per item index (global popularity)."""
        return np.bincount(self.items, minlength=self.n_items).astype(np.int64)

    def subset(self, mask: BoolArray) -> Interactions:
        """The rows where ``mask`` holds, with the same id maps and order."""
        return Interactions(
            users=self.users[mask],
            items=self.items[mask],
            times=self.times[mask],
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            time_unit_seconds=self.time_unit_seconds,
        )


def from_arrays(
    users: Sequence[str],
    items: Sequence[str],
    times: Sequence[int] | IntArray,
    time_unit_seconds: float = DEFAULT_TIME_UNIT_SECONDS,
) -> Interactions:
    """Interactions from id strings and integer times (already in units), sorted stably by time.

    Used by tests and by callers with logs outside the contract.
    """
    time_array = np.asarray(times, dtype=np.int64)
    order = np.argsort(time_array, kind="stable")
    user_ids, user_index = np.unique(
        np.asarray(users, dtype=object).astype(str), return_inverse=True
    )
    item_ids, item_index = np.unique(
        np.asarray(items, dtype=object).astype(str), return_inverse=True
    )
    return Interactions(
        users=user_index.astype(np.int64)[order],
        items=item_index.astype(np.int64)[order],
        times=time_array[order],
        user_ids=tuple(str(u) for u in user_ids),
        item_ids=tuple(str(i) for i in item_ids),
        time_unit_seconds=time_unit_seconds,
    )


def load_interactions(
    directory: Path,
    event_types: Sequence[str] = DEFAULT_EVENT_TYPES,
    time_unit_seconds: float = DEFAULT_TIME_UNIT_SECONDS,
) -> Interactions:
    """Viewer-streamer interactions of ``event_types`` from the contract events under ``directory``.

    Rows lacking a viewer, streamer or timestamp (possible in a raw synthetic world with injected
    faults) are dropped: they cannot be placed in anyone's history. Times become whole units of
    ``time_unit_seconds`` counted from the Unix epoch (floor), so two events in the same unit are
    simultaneous for "live now" windows while their written order still decides which came first.
    """
    unknown = sorted(set(event_types) - {e.value for e in EventType})
    if unknown:
        raise ContractError(str(directory), EVENT_TYPE, f"unknown event types {unknown}")
    if time_unit_seconds <= 0:
        raise ValueError(f"time_unit_seconds must be positive, got {time_unit_seconds}")
    if not source_exists(directory, Table.EVENTS):
        raise ContractError(str(directory), None, "no events/part-*.parquet under this directory")
    events = read_source(directory, Table.EVENTS).select(
        [EVENT_TYPE, EVENT_TIMESTAMP, VIEWER_ID, STREAMER_ID]
    )
    keep = pc.and_(
        pc.is_in(events[EVENT_TYPE], value_set=pa.array(list(event_types), type=pa.string())),
        pc.and_(
            pc.is_valid(events[EVENT_TIMESTAMP]),
            pc.and_(pc.is_valid(events[VIEWER_ID]), pc.is_valid(events[STREAMER_ID])),
        ),
    )
    events = events.filter(pc.fill_null(keep, False))
    if events.num_rows == 0:
        raise ContractError(str(directory), EVENT_TYPE, f"no events of types {list(event_types)}")
    micros = events[EVENT_TIMESTAMP].cast(pa.int64()).to_numpy()
    # Sort by the exact time first, stably, then coarsen: the written order breaks exact ties.
    order = np.argsort(micros, kind="stable")
    unit_us = round(time_unit_seconds * 1_000_000)
    viewers = np.asarray(events[VIEWER_ID].to_numpy(zero_copy_only=False), dtype=object)
    streamers = np.asarray(events[STREAMER_ID].to_numpy(zero_copy_only=False), dtype=object)
    user_ids, user_index = np.unique(viewers.astype(str), return_inverse=True)
    item_ids, item_index = np.unique(streamers.astype(str), return_inverse=True)
    return Interactions(
        users=user_index.astype(np.int64)[order],
        items=item_index.astype(np.int64)[order],
        times=np.floor_divide(micros[order], unit_us).astype(np.int64),
        user_ids=tuple(str(u) for u in user_ids),
        item_ids=tuple(str(i) for i in item_ids),
        time_unit_seconds=time_unit_seconds,
    )


def home_manifest(settings: LivecartSettings) -> dict[str, Any]:
    """The home's ``dataset.json`` (empty without one)."""
    manifest = settings.raw_dir / DATASET_MANIFEST
    found: dict[str, Any] = json.loads(manifest.read_text()) if manifest.is_file() else {}
    return found


def home_dataset(settings: LivecartSettings, expected: str | None = None) -> tuple[str, Path]:
    """(name, directory) of the world in the livecart home: the validated tables when the gate
    has run, else the raw ones. ``expected``: fail unless the home holds that dataset."""
    found = home_manifest(settings).get("name")
    if found is None or (expected is not None and found != expected):
        wanted = expected or "a dataset"
        command = "livecart generate" if expected == "synthetic" else "livecart ingest twitch"
        raise StageError(
            "data",
            f"no {wanted} world in {settings.raw_dir} (found: {found})",
            f"run `{command}` first (or pass a directory of contract tables)",
        )
    directory = settings.raw_dir
    if source_exists(settings.clean_dir, Table.EVENTS):
        directory = settings.clean_dir
    return str(found), directory


def visit_event_types(settings: LivecartSettings) -> tuple[str, ...]:
    """The events that are visits in the home's world (a home without a manifest: livecart's own
    event model, where entering a room is the visit)."""
    found = home_manifest(settings)
    if not found:
        return (EventType.ENTER_ROOM.value,)
    if found.get("visit_event_types"):  # brought data says which of its events are visits
        return tuple(str(t) for t in found["visit_event_types"])
    return DATASET_EVENT_TYPES.get(str(found["name"]), DEFAULT_EVENT_TYPES)


def home_interactions(settings: LivecartSettings) -> tuple[str, Interactions]:
    """The visits (viewer -> streamer) of the world in the livecart home, and its name."""
    name, directory = home_dataset(settings)
    return name, load_interactions(directory, visit_event_types(settings))
