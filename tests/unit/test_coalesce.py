"""The coalescer forms a batch only when the previous one has finished, of whatever queued."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from serving.coalesce import Coalescer

T = TypeVar("T")


class _Handler:
    """Doubles each item; each batch waits on the event loop until released (an awaited read)."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        await self.release.wait()
        if -1 in items:
            raise ValueError("a bad item")
        return [2 * i for i in items]


def _run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(main())


def test_coalescer__waiting_requests_form_the_next_batch_up_to_max_size() -> None:
    async def main() -> tuple[list[int], list[list[int]], list[int]]:
        handler = _Handler()
        sizes: list[int] = []
        batches = Coalescer(handler, max_size=4, on_batch=sizes.append)
        first = asyncio.create_task(batches.submit(0))
        await asyncio.sleep(0.01)  # the first batch runs alone and waits
        rest = [asyncio.create_task(batches.submit(i)) for i in range(1, 7)]
        await asyncio.sleep(0.01)  # six wait behind it: no batch forms while it runs
        assert handler.batches == [[0]]
        handler.release.set()
        results = await asyncio.gather(first, *rest)
        return results, handler.batches, sizes

    results, batches, sizes = _run(main)
    assert results == [0, 2, 4, 6, 8, 10, 12]
    assert batches == [[0], [1, 2, 3, 4], [5, 6]]
    assert sizes == [1, 4, 2]


def test_coalescer__requests_arriving_together_share_a_batch() -> None:
    async def main() -> list[list[int]]:
        handler = _Handler()
        handler.release.set()
        batches = Coalescer(handler, max_size=8)
        await asyncio.gather(*(batches.submit(i) for i in range(3)))
        await batches.submit(9)  # later, alone: runs at once in a batch of its own
        return handler.batches

    assert _run(main) == [[0, 1, 2], [9]]


def test_coalescer__a_failing_batch_fails_its_requests_only() -> None:
    async def main() -> tuple[list[int | BaseException], list[int]]:
        handler = _Handler()
        batches = Coalescer(handler, max_size=2)
        failing = [asyncio.create_task(batches.submit(i)) for i in (-1, 3)]
        await asyncio.sleep(0.01)
        later = asyncio.create_task(batches.submit(5))
        handler.release.set()
        found = await asyncio.gather(*failing, return_exceptions=True)
        return found, [await later]

    found, later = _run(main)
    assert [type(x) for x in found] == [ValueError, ValueError] and later == [10]


def test_coalescer__a_request_given_up_is_left_out_of_its_batch() -> None:
    async def main() -> list[list[int]]:
        handler = _Handler()
        batches = Coalescer(handler, max_size=8)
        first = asyncio.create_task(batches.submit(0))
        await asyncio.sleep(0.01)
        gone = asyncio.create_task(batches.submit(1))
        kept = asyncio.create_task(batches.submit(2))
        await asyncio.sleep(0.01)
        gone.cancel()
        handler.release.set()
        assert list(await asyncio.gather(first, kept)) == [0, 4]
        return handler.batches

    assert _run(main) == [[0], [2]]


def test_coalescer__wait_gathers_requests_arriving_within_it() -> None:
    async def main() -> list[list[int]]:
        handler = _Handler()
        handler.release.set()
        batches = Coalescer(handler, max_size=8, wait_s=0.05)
        first = asyncio.create_task(batches.submit(0))
        await asyncio.sleep(0.01)
        await asyncio.gather(first, batches.submit(1))
        return handler.batches

    assert _run(main) == [[0, 1]]


def _order_of_four_callers(suspends: bool) -> list[str]:
    """When each batch of two runs and each caller goes on, for four callers arriving together
    (``suspends``: the handler awaits, as a networked read does)."""

    async def main() -> list[str]:
        log: list[str] = []

        async def handler(items: list[int]) -> list[int]:
            log.append(f"batch {items}")
            if suspends:
                await asyncio.sleep(0.01)
            return items

        batches = Coalescer(handler, max_size=2)

        async def caller(i: int) -> None:
            await batches.submit(i)
            log.append(f"done {i}")

        await asyncio.gather(*(caller(i) for i in range(4)))
        return log

    return _run(main)


def test_coalescer__callers_go_on_before_the_next_batch_forms() -> None:
    """A handler that never suspends (a read from memory) still lets each batch's callers go
    on, and newly arrived requests queue, before the next batch forms."""
    assert _order_of_four_callers(suspends=False) == [
        "batch [0, 1]",
        "done 0",
        "done 1",
        "batch [2, 3]",
        "done 2",
        "done 3",
    ]


def test_coalescer__after_a_suspending_batch_the_next_starts_before_its_callers_go_on() -> None:
    """A handler that suspends (a networked read): the next batch starts at once and the
    finished batch's callers go on while it reads."""
    assert _order_of_four_callers(suspends=True) == [
        "batch [0, 1]",
        "batch [2, 3]",
        "done 0",
        "done 1",
        "done 2",
        "done 3",
    ]


def test_coalescer__rejects_an_empty_batch_size() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Coalescer(_Handler(), max_size=0)
