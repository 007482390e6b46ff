"""`feast serve` (Feast's own HTTP feature server) reads livecart's DuckDB online store."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request
from datetime import timedelta

import pytest

from tests.forked import feast_cli, forked_processes
from tests.integration.conftest import NOW, MiniRepo

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_feast_serve__http_get_online_features(mini_repo: MiniRepo) -> None:
    mini_repo.store.materialize(NOW - timedelta(days=2), NOW)
    port = _free_port()
    args = ["-c", str(mini_repo.directory.parent), "serve", "-h", "127.0.0.1", "-p", str(port)]
    server = forked_processes().Process(target=feast_cli, args=(args, dict(os.environ)))
    server.start()
    try:
        body = json.dumps(
            {"features": ["items:score", "items:label"], "entities": {"item_id": ["i3", "nobody"]}}
        ).encode()
        deadline, reply = time.time() + 90, None
        while time.time() < deadline and reply is None:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/get-online-features",
                    data=body,
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    reply = json.loads(response.read())
            except OSError:
                assert server.exitcode is None, "feast serve exited (its error is in stderr)"
                time.sleep(0.5)
        assert reply is not None, "feast serve did not answer"
        names = reply["metadata"]["feature_names"]
        values = {
            name: result["values"] for name, result in zip(names, reply["results"], strict=True)
        }
        assert values["score"] == [3.0, None]
        assert values["label"] == ["label 3", None]
    finally:
        server.terminate()
        server.join(timeout=30)
