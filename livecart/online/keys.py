"""Entity keys as integer codes: a fixed universe of key values (the catalogue's products, its
streamers) and columns of codes into it.

A request's 500 candidate rows would otherwise cost one dictionary probe per row and per view
(tuple hashing and string compares, cache-cold in a busy replica). With codes, each view's
committed state keeps one position array over the universe (:meth:`ViewState.positions`, patched
in place when deltas arrive) and a batch of rows is found with one numpy take. A
:class:`CodedKeys` column still reads as a plain sequence of key values, so every other path
(Arrow tables, other online stores, Feast) sees ordinary entity values.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import numpy as np

_TOKENS = itertools.count(1)


class KeyUniverse:
    """An immutable list of distinct key values and each value's code (its position).

    ``lasting``: the universe serves many requests (the catalogue's products and streamers), so
    each view state keeps a position array over it. A short-lived one (the viewers of one batch
    of requests) is looked up per distinct code instead, and leaves nothing behind in states.
    """

    def __init__(self, values: Iterable[Any], lasting: bool = True) -> None:
        self.values: tuple[Any, ...] = tuple(dict.fromkeys(values))
        self.code: dict[Any, int] = {v: i for i, v in enumerate(self.values)}
        self.lasting = lasting
        self.token = next(_TOKENS)  # identifies this universe in per-state caches
        self._objects: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.values)

    def objects(self) -> np.ndarray:
        """The values as a numpy object array with None after the last, so that code -1 (a
        key outside the universe) takes None: a column of codes becomes its values in one take."""
        if self._objects is None:
            objects = np.empty(len(self.values) + 1, dtype=object)
            for i, value in enumerate(self.values):  # one by one: a tuple key stays one value
                objects[i] = value
            self._objects = objects  # the last stays None
        return self._objects

    def codes(self, values: Iterable[Any], count: int = -1) -> np.ndarray:
        """int64 codes of ``values`` (-1 for a value outside the universe)."""
        get = self.code.get
        return np.fromiter((get(v, -1) for v in values), dtype=np.int64, count=count)

    def encode(self, values: Sequence[Any]) -> CodedKeys:
        """``values`` as a coded column; raises if one is outside the universe."""
        codes = self.codes(values, len(values))
        if len(codes) and codes.min() < 0:
            outside = [v for v, code in zip(values, codes, strict=True) if code < 0][:5]
            raise KeyError(f"keys outside the universe: {outside}")
        return CodedKeys(self, codes)


class CodedKeys(Sequence[Any]):
    """An entity column given as codes into a :class:`KeyUniverse` (reads as its key values)."""

    def __init__(self, universe: KeyUniverse, codes: np.ndarray) -> None:
        self.universe = universe
        self.codes = np.asarray(codes, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.codes)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        values = self.universe.values
        if isinstance(index, slice):
            return [values[i] if i >= 0 else None for i in self.codes[index].tolist()]
        code = int(self.codes[index])
        return values[code] if code >= 0 else None  # -1: a key outside the universe

    def __iter__(self) -> Iterator[Any]:
        return iter(self.tolist())

    def tolist(self) -> list[Any]:
        """The key values (None for code -1), in one numpy take instead of a value at a time."""
        values: list[Any] = self.universe.objects()[self.codes].tolist()
        return values

    def constant(self) -> bool:
        """Whether every row holds the same key (a request's viewer on its candidate rows)."""
        return len(self.codes) > 0 and bool((self.codes == self.codes[0]).all())
