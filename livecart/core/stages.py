"""Wall time per named stage of one piece of work (an event batch's way online), in ms."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Stages:
    """Milliseconds spent in each named stage; a stage timed twice adds up."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def time(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            spent = (time.perf_counter() - began) * 1000
            self.ms[name] = round(self.ms.get(name, 0.0) + spent, 3)
