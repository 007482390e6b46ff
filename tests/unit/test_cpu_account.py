"""CPU accounting of the serving benchmark: grouping by process title, per-request division."""

from __future__ import annotations

import os

from livecart.bench.cpu_account import per_request_of, snapshot, spent


def test_per_request__groups_titles_and_skips_processes_started_later() -> None:
    before = {
        1: ("ray::ServeReplica:livecart:Recommender", 10.0),
        2: ("ray::ServeReplica:livecart:Recommender", 5.0),
        3: ("ray::ProxyActor", 1.0),
        4: ("/usr/bin/vim", 0.0),
    }
    after = {
        1: ("ray::ServeReplica:livecart:Recommender", 11.0),
        2: ("ray::ServeReplica:livecart:Recommender", 6.0),
        3: ("ray::ProxyActor", 1.5),
        4: ("/usr/bin/vim", 3.0),  # not a serving process
        5: ("ray::ServeReplica:floor:Floor", 9.0),  # started after the first snapshot
    }
    out = per_request_of(spent(before, after), requests=500)
    assert out == {"http_proxy": 1.0, "recommend_replicas": 4.0, "total": 5.0}


def test_snapshot__sees_this_process() -> None:
    title, seconds = snapshot()[os.getpid()]
    assert "python" in title.lower() or "pytest" in title.lower()
    assert seconds > 0
