"""A served world: a small synthetic world through the real pipeline, then the Serve app over HTTP.

Built once per test package (about a minute on 2 cores): generate -> validate -> features -> embed (a
tiny BERT built from a config) -> feast apply -> materialize -> train (Ray Train, 1 worker).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import ray

from livecart.core import contract as c
from livecart.core.settings import LivecartSettings, get_settings
from livecart.features.feast_store import apply
from livecart.model.comment_probe import run as train_probe
from livecart.model.comment_signals import run as score_comments
from livecart.model.text_encoder import tiny_encoder_dir
from livecart.simulation.generate import run as generate
from livecart.simulation.world.config import world_config
from ray_jobs.embed import run as embed
from ray_jobs.features import run as build_features
from ray_jobs.materialize import run as materialize
from ray_jobs.train import TrainConfig
from ray_jobs.train import run as train
from validation.run import run as validate

TOKEN = "test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_served_home(root: Path) -> LivecartSettings:
    encoder = tiny_encoder_dir(root / "encoder", hidden=32)
    settings = LivecartSettings(
        home=root / "home",
        encoder_path=encoder,
        embedding_dim=32,
        ray_num_cpus=2,
        api_token=TOKEN,  # type: ignore[arg-type]
        serve_port=free_port(),
        model_poll_seconds=0.5,
        # Two cores shared by the test client, the proxy and both replicas: budgets that only a
        # hang would exceed (the degradation tests shorten them on purpose).
        feature_timeout_ms=5000,
        rank_timeout_ms=5000,
    )
    os.environ["LIVECART_HOME"] = str(settings.home)
    os.environ["LIVECART_EMBEDDING_DIM"] = "32"
    get_settings.cache_clear()
    generate(
        world_config("tiny", seed=5).model_copy(update={"viewers": 400}), settings, use_ray=False
    )
    validate(settings)
    build_features(settings)
    embed(settings)
    train_probe(settings, limit=2_000)  # the comment probe: live comment signals at ingest
    score_comments(settings)
    apply(settings)
    materialize(settings, use_ray=False)
    train(settings, TrainConfig(epochs=3, num_workers=1, hidden=16, batch_size=256, item_dim=8))
    return settings


@contextmanager
def served_home(root: Path) -> Iterator[LivecartSettings]:
    """``build_served_home`` for the length of the block, then the environment as it was."""
    before = {k: os.environ.get(k) for k in ("LIVECART_HOME", "LIVECART_EMBEDDING_DIM")}
    try:
        yield build_served_home(root)
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


@pytest.fixture(scope="package")
def served_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivecartSettings]:
    with served_home(tmp_path_factory.mktemp("served")) as settings:
        yield settings


@pytest.fixture(scope="package")
def served_url(served_settings: LivecartSettings) -> Iterator[str]:
    """The Serve app over HTTP on a real local Ray (shut down after the session)."""
    from serving.runner import start, stop

    url = start(served_settings)
    yield url
    stop()
    ray.shutdown()


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
