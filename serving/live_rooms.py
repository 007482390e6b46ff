"""Rooms live now, as one recommend replica sees them: the ingest deployment's answer, followed
by one background task so that a request never waits on it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ray.serve.handle import DeploymentHandle

REFRESH_S = 0.5


class LiveRooms:
    """Live room id -> viewers present, refreshed every :data:`REFRESH_S` from the ingest
    deployment (its ``live_rooms``)."""

    def __init__(self, ingest: DeploymentHandle[Any], refresh_s: float = REFRESH_S) -> None:
        self.ingest, self.refresh_s = ingest, refresh_s
        self.now: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def get(self) -> dict[str, int]:
        """The latest answer; only a replica's first requests wait for one (up to 2 s)."""
        if self._task is None:
            self._task = asyncio.create_task(self._follow())
        if not self._ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), 2.0)
        return self.now

    async def _follow(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                self.now = await self.ingest.live_rooms.remote()
            self._ready.set()
            await asyncio.sleep(self.refresh_s)
