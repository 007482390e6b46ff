"""`feast serve` (Feast's own HTTP feature server) reads livecart's DuckDB online store."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from tests.forked import feast_cli, feast_serve_answer, forked_processes, free_port
from tests.integration.conftest import NOW, MiniRepo

pytestmark = pytest.mark.integration


def test_feast_serve__http_get_online_features(mini_repo: MiniRepo) -> None:
    mini_repo.store.materialize(NOW - timedelta(days=2), NOW)
    port = free_port()
    args = ["-c", str(mini_repo.directory.parent), "serve", "-h", "127.0.0.1", "-p", str(port)]
    server = forked_processes().Process(target=feast_cli, args=(args, dict(os.environ)))
    server.start()
    try:
        body = {
            "features": ["items:score", "items:label"],
            "entities": {"item_id": ["i3", "nobody"]},
        }
        reply = feast_serve_answer(port, server, body)
        names = reply["metadata"]["feature_names"]
        values = {
            name: result["values"] for name, result in zip(names, reply["results"], strict=True)
        }
        assert values["score"] == [3.0, None]
        assert values["label"] == ["label 3", None]
    finally:
        server.terminate()
        server.join(timeout=30)
