"""`feast serve` (Feast's HTTP feature server, async reads where the store has them) answers every
value type, Map and Json included, the same from livecart's store as from Feast's SQLite."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from tests.forked import feast_cli, feast_serve_answer, forked_processes, free_port
from tests.integration.online_store_contract.conftest import FEATURES, NOW, STORES, build

pytestmark = pytest.mark.integration


def test_feast_serve__every_type__same_answer_on_both_stores(tmp_path: Path) -> None:
    servers, ports = [], []
    for kind in STORES:  # both servers start at once: their start-ups overlap
        contract = build(tmp_path / kind, kind)
        contract.store.materialize(NOW - timedelta(days=2), NOW)
        ports.append(free_port())
        args = ["-c", str(contract.root), "serve", "-h", "127.0.0.1", "-p", str(ports[-1])]
        servers.append(forked_processes().Process(target=feast_cli, args=(args, dict(os.environ))))
        servers[-1].start()
    try:
        body = {"features": FEATURES, "entities": {"user_id": [1, 2, 99]}}
        answers = [
            feast_serve_answer(port, server, body)
            for port, server in zip(ports, servers, strict=True)
        ]
    finally:
        for server in servers:
            server.terminate()
            server.join(timeout=30)
    ours, sqlite = (
        {n: r["values"] for n, r in zip(a["metadata"]["feature_names"], a["results"], strict=True)}
        for a in answers
    )
    assert ours == sqlite
    assert ours["attrs"][2] is None and ours["attrs"][0] is not None
    assert ours["doc"][0] is not None and ours["name"] == ["user 1", "user 2", None]
