"""`feast ui` (Feast's web UI and its REST registry API) starts over livecart's Feast repo."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from typing import Any

import pytest

from tests.forked import feast_cli, forked_processes, free_port
from tests.integration.conftest import MiniRepo

pytestmark = pytest.mark.integration


def get(url: str, server: Any) -> bytes:
    """The body of ``GET url``, retried while the server starts (up to 90 s; an exited server
    fails at once)."""
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body: bytes = response.read()
                return body
        except OSError:
            assert server.exitcode is None, "feast ui exited (its error is in stderr)"
            time.sleep(0.5)
    raise AssertionError(f"feast ui did not answer {url}")


def test_feast_ui__answers_http__lists_the_repo_and_its_views(mini_repo: MiniRepo) -> None:
    port = free_port()
    args = ["-c", str(mini_repo.directory.parent), "ui", "-h", "127.0.0.1", "-p", str(port)]
    server = forked_processes().Process(target=feast_cli, args=(args, dict(os.environ)))
    server.start()
    try:
        base = f"http://127.0.0.1:{port}"
        page = get(f"{base}/", server)
        assert b"<html" in page.lower()
        projects = json.loads(get(f"{base}/projects-list.json", server))
        assert "mini" in {p["id"] for p in projects["projects"]}
        views = json.loads(get(f"{base}/api/v1/feature_views?project=mini", server))
        assert "items" in json.dumps(views)
    finally:
        server.terminate()
        server.join(timeout=30)
