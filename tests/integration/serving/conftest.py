"""This package's copy of the served world, and the Serve app over HTTP.

The served world (tests/served_world.py) is built once per test run; this package gets its own
copy of it (its tests push events, register models and refresh), served by one app on the
session's Ray.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest

from livecart.core import contract as c
from livecart.core.settings import LivecartSettings
from tests.served_world import TOKEN, copy_served_home, home_env

__all__ = ["TOKEN", "event", "now_iso", "world_ids"]  # what the served-world tests import


@pytest.fixture(scope="package")
def served_settings(
    served_template: LivecartSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LivecartSettings]:
    """A copy of the run's served world for this package, its home exported while it runs."""
    with home_env(copy_served_home(served_template, tmp_path_factory.mktemp("served"))) as settings:
        yield settings


@pytest.fixture(scope="package")
def served_url(served_settings: LivecartSettings, local_ray: None) -> Iterator[str]:
    """The Serve app over HTTP on the session's Ray (Serve shut down after the package)."""
    from serving.runner import start, stop

    url = start(served_settings)
    yield url
    stop(served_settings)


def world_ids(settings: LivecartSettings) -> dict[str, Any]:
    """Known viewers (with history), rooms with their streamer, products of each room."""
    events = f"{settings.clean_dir}/events/*.parquet"
    con = duckdb.connect()
    try:
        viewers = [
            r[0]
            for r in con.execute(
                f"SELECT {c.VIEWER_ID} FROM read_parquet('{events}') WHERE {c.EVENT_TYPE} = 'click' "
                f"GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 20"
            ).fetchall()
        ]
        rooms = con.execute(
            f"SELECT r.{c.ROOM_ID}, r.{c.STREAMER_ID}, list(rp.{c.PRODUCT_ID} ORDER BY rp.{c.PRODUCT_ID}) "
            f"FROM read_parquet('{settings.clean_dir}/rooms.parquet') r "
            f"JOIN read_parquet('{settings.clean_dir}/room_products.parquet') rp USING ({c.ROOM_ID}) "
            f"GROUP BY 1, 2 ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    return {"viewers": viewers, "rooms": rooms}


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def event(
    event_id: str, kind: str, viewer: str, room: str, streamer: str, **extra: Any
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": kind,
        "event_timestamp": now_iso(),
        "viewer_id": viewer,
        "room_id": room,
        "streamer_id": streamer,
        **extra,
    }
