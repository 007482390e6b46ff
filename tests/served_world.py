"""The served world: a small synthetic world through the real pipeline, ready for the Serve app.

Built once per test run (about 30 s on 2 cores, by the session fixture ``served_template`` in
``tests/conftest.py``): generate -> validate -> features -> embed (a tiny BERT built from a
config) -> comment probe -> feast apply -> materialize -> train both rankers (Ray Train, 1
worker). The template
is never served or changed; each package that serves it takes its own copy
(:func:`copy_served_home`), so one package's events, models and injected faults never reach
another's.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from livecart.core.settings import LivecartSettings, get_settings

TOKEN = "test-token"
HOME_ENV = ("LIVECART_HOME", "LIVECART_EMBEDDING_DIM")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def home_env(settings: LivecartSettings) -> Iterator[LivecartSettings]:
    """``LIVECART_HOME`` and ``LIVECART_EMBEDDING_DIM`` of ``settings`` for the block (Feast's
    repo reads them), then the environment as it was."""
    before = {k: os.environ.get(k) for k in HOME_ENV}
    os.environ["LIVECART_HOME"] = str(settings.home)
    os.environ["LIVECART_EMBEDDING_DIM"] = str(settings.embedding_dim)
    get_settings.cache_clear()
    try:
        yield settings
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


def build_served_home(root: Path) -> LivecartSettings:
    """Build the served world under ``root`` (the home in ``root/home``, the encoder beside it)."""
    from livecart.features.feast_store import apply
    from livecart.model.text_encoder import tiny_encoder_dir
    from livecart.simulation.generate import run as generate
    from livecart.simulation.world.config import world_config
    from ray_jobs.embed import run as embed
    from ray_jobs.features import run as build_features
    from ray_jobs.materialize import run as materialize
    from ray_jobs.train import TrainConfig
    from ray_jobs.train import run as train
    from ray_jobs.train_rooms import RoomTrainConfig
    from ray_jobs.train_rooms import run as train_rooms
    from validation.run import run as validate

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
    with home_env(settings):
        generate(
            world_config("tiny", seed=5).model_copy(update={"viewers": 400}),
            settings,
            use_ray=False,
        )
        validate(settings)
        # The room ranker needs only the clean events: its Ray Train fit (mostly the start of
        # a controller and a worker process, seconds of imports) runs beside the steps below.
        with ThreadPoolExecutor(max_workers=2) as pool:
            rooms = pool.submit(
                train_rooms,
                settings,
                RoomTrainConfig(epochs=2, num_workers=1, queries_per_user=4),
                False,
            )
            build_features(settings)
            # The comment probe (live comment signals) reads the clean comments, not the
            # embeddings: it trains in this process while the encoder actor starts.
            comments = pool.submit(_comment_signals, settings)
            embed(settings)
            comments.result()
            apply(settings)
            materialize(settings, use_ray=False)
            train(
                settings,
                TrainConfig(epochs=3, num_workers=1, hidden=16, batch_size=256, item_dim=8),
            )
            rooms.result()
    return settings


def _comment_signals(settings: LivecartSettings) -> None:
    """The comment probe, trained and run over the clean comments (signals pushed at ingest)."""
    from livecart.model.comment_probe import run as train_probe
    from livecart.model.comment_signals import run as score_comments

    train_probe(settings, limit=2_000)
    score_comments(settings)


def copy_served_home(template: LivecartSettings, root: Path) -> LivecartSettings:
    """A private copy of the template's home in ``root/home``, on a port of its own.

    Feast's registry keeps the absolute paths of the offline sources it was applied with, so the
    copy is applied again (what `livecart apply` does for a copied data directory); its online
    store, models and offline data are the template's, byte for byte. The encoder directory
    (outside the home, read only) is shared.
    """
    from livecart.features.feast_store import apply

    settings = template.model_copy(update={"home": root / "home", "serve_port": free_port()})
    shutil.copytree(template.home, settings.home)
    with home_env(settings):
        apply(settings)
    return settings
