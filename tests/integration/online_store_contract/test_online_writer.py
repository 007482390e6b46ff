"""Event ingest's writer (:mod:`livecart.features.online_writer`) stores what Feast's own write does.

On livecart's store the views of a batch go in as Arrow in one commit; on any other store through
``write_to_online_store``. Both must serve the same values, every type included, and a batch of
several views must leave each of them readable.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from livecart.features.online_writer import CommitWriter, FeastWriter, writer_for
from tests.integration.online_store_contract.conftest import (
    FEATURE_NAMES,
    NOW,
    Contract,
    frame,
    row,
)

pytestmark = pytest.mark.integration


def test_writer_for__each_store__its_writer(contract: Contract) -> None:
    expected = CommitWriter if contract.kind == "livecart" else FeastWriter
    assert type(writer_for(contract.store)) is expected


def test_write__two_views_in_one_batch__both_served_every_type(contract: Contract) -> None:
    profile = pa.Table.from_pandas(frame([row(40), row(41)]), preserve_index=False)
    stale = pa.table({"user_id": [40], "score": [7.5], "event_timestamp": [NOW]})
    writer_for(contract.store).write({"profile": profile, "stale": stale})
    out = contract.read([40, 41])
    for name in FEATURE_NAMES:
        assert out[name] == [row(40)[name], row(41)[name]], name
    assert contract.read([40], ["stale:score"])["score"] == [7.5]
