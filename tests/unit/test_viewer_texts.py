"""What viewers say they shop for, as `livecart embed` reads it from the clean viewers table."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from livecart.core import contract as c
from livecart.core.io import write_source
from livecart.core.settings import LivecartSettings
from ray_jobs.embed import TEXT, viewer_texts


def _viewers(said: list[str | None], with_column: bool = True) -> pa.Table:
    columns = {
        c.VIEWER_ID: [f"v{i}" for i in range(len(said))],
        c.SIGNUP_TIMESTAMP: pa.array(
            [datetime(2026, 1, 1 + i, tzinfo=UTC) for i in range(len(said))], c.UTC_TIMESTAMP
        ),
    }
    if with_column:
        columns[c.SHOPPING_FOR] = pa.array(said, pa.string())
    return pa.table(columns)


def test_viewer_texts__blank_and_null_lines_left_out_stamped_at_signup(
    settings: LivecartSettings,
) -> None:
    write_source(
        settings.clean_dir, c.Table.VIEWERS, _viewers(["  rain gear ", None, "   ", "vegan"])
    )
    with duckdb.connect() as con:
        found = viewer_texts(settings, con).to_pylist()
    assert [(r[c.VIEWER_ID], r[TEXT]) for r in found] == [("v0", "rain gear"), ("v3", "vegan")]
    assert found[1][c.EVENT_TIMESTAMP] == datetime(2026, 1, 4, tzinfo=UTC)


def test_viewer_texts__no_viewers_or_no_column__none(settings: LivecartSettings) -> None:
    with duckdb.connect() as con:
        assert viewer_texts(settings, con).num_rows == 0
        write_source(settings.clean_dir, c.Table.VIEWERS, _viewers(["x"], with_column=False))
        assert viewer_texts(settings, con).num_rows == 0
