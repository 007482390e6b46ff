"""GX metric ids from :mod:`validation.gx_ids` equal GX's own, for every metric of every suite.

The fast ids skip GX's JSON conversion for plain values; metrics are found and cached by id, so a
different id would silently change what GX computes. Every ``to_id`` call made while every source's
row and table suites validate (first pass and full results) is checked against GX's own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from great_expectations.core.id_dict import IDDict

from livecart.core.contract import Table
from livecart.core.settings import LivecartSettings
from tests.data.builders import NOW, table, valid_rows
from validation import gx_ids
from validation.engine import GxEngine
from validation.gate import ReferenceSets, validate_frame

pytestmark = pytest.mark.data


def test_ids__every_suite_validating__equal_gx_own_and_mostly_fast(
    references: ReferenceSets,
    settings: LivecartSettings,
    engines: list[GxEngine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = IDDict.to_id
    assert fast is gx_ids._to_id, "GxEngine did not install the fast ids"
    seen = {"calls": 0, "fast": 0}

    def checked(self: IDDict, id_keys: Any = None, id_ignore_keys: Any = None) -> Any:
        mine = fast(self, id_keys, id_ignore_keys)
        theirs = gx_ids.original_to_id(self, id_keys, id_ignore_keys)
        assert mine == theirs, dict(self)
        seen["calls"] += 1
        seen["fast"] += isinstance(mine, str) and "=" not in mine
        return mine

    monkeypatch.setattr(IDDict, "to_id", checked)
    for source in Table:
        rows = valid_rows(source)
        for engine in engines:
            result = validate_frame(
                source, table(source, rows), references, settings, NOW, engine=engine
            )
            assert result.quarantined == 0, (source, result.reason_counts)
    assert seen["calls"] > 1000
    assert seen["fast"] > seen["calls"] / 4, seen


def test_ids__values_that_are_not_plain__gx_own_conversion() -> None:
    for value in (
        {"a": np.float64(1.5), "b": "x"},
        {"a": {1, 2}, "b": None},
        {"a": [np.int64(3)], "b": (1, 2)},
        {"a": 1.0, "b": ["x", None, True]},
    ):
        assert gx_ids._to_id(IDDict(value)) == gx_ids.original_to_id(IDDict(value))
