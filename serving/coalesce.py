"""Requests that wait together are handled together: one batch at a time, of whatever queued.

A recommend replica reads features, builds inputs and ranks once per batch, whatever its size,
so a batch should hold every request that waited for the previous one to finish. Ray Serve's
``@serve.batch`` (2.60) forms its next batch as soon as a request is queued, whether or not
``max_concurrent_batches`` lets it run: when the handler awaits (a networked store read in a
worker thread), the requests behind it wait in batches of one each, and each pays a whole
read. On Redis at concurrency 64 that gave a mean batch of 1.16 requests and half the
throughput (README, "Serving on Redis"). :class:`Coalescer` forms a batch only when the
previous one has finished: a request alone runs at once, and under load every batch is full.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    """Runs ``handler`` on batches of submitted items, one batch at a time.

    A batch is what has queued (at most ``max_size``, oldest first) when the previous batch has
    finished; with ``wait_s`` > 0 a batch smaller than ``max_size`` first waits that long for
    more. ``handler`` answers one result per item, in order; if it raises, every item of the
    batch gets that exception. Items whose caller stopped waiting are left out."""

    def __init__(
        self,
        handler: Callable[[list[Item]], Awaitable[list[Result]]],
        max_size: int,
        wait_s: float = 0.0,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_size < 1:
            raise ValueError(f"a batch holds at least one item, not {max_size}")
        self.handler, self.max_size, self.wait_s = handler, max_size, wait_s
        self.on_batch = on_batch
        self._queue: deque[tuple[Item, asyncio.Future[Result]]] = deque()
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """The handler's result for ``item``, handled in the next batch to form."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._worker is None or self._worker.done():
            # Runs after the callbacks already due: requests that arrived together queue first.
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            if self.wait_s > 0 and len(self._queue) < self.max_size:
                await asyncio.sleep(self.wait_s)
            batch: list[tuple[Item, asyncio.Future[Result]]] = []
            while self._queue and len(batch) < self.max_size:
                item, future = self._queue.popleft()
                if not future.done():  # not cancelled while it waited
                    batch.append((item, future))
            turned: list[bool] = []
            loop.call_soon(turned.append, True)  # runs at the event loop's next turn
            if batch:
                await self._run(batch)
            if not turned:
                # The handler never suspended (a read from memory): a turn of the event loop
                # now, so the batch's callers go on (a replica finishes their responses) and
                # new requests queue before the next batch forms; else the replica would run
                # batch after batch while its intake waits, then idle while the proxy catches
                # up. A handler that suspended (a networked read in a worker thread) has let
                # earlier callers go on meanwhile: the next batch starts at once, and this
                # batch's callers go on while it reads.
                await asyncio.sleep(0)

    async def _run(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        if self.on_batch is not None:
            self.on_batch(len(batch))
        try:
            results = await self.handler([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
        except BaseException as exc:  # every waiting caller gets it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):  # cancelled (the replica stops): stop too
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
