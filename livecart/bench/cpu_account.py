"""Where a serving benchmark's CPU goes: core-milliseconds per request, per kind of process.

``livecart bench serve`` snapshots the CPU time of every process on the machine around each load
run (:func:`spent`) and divides what each kind of process spent (recommend replicas, the HTTP proxy, the ingest
replica, the floor's replicas, the rest of Ray) by the requests answered in that time. Throughput
on a small machine is set by this sum: it says which part of a request costs what, side by side
with the floor's. The load generator's own process is left out (it starts after the snapshot).
"""

from __future__ import annotations

import psutil

# (substring of the process title, group name), first match wins.
GROUPS: tuple[tuple[str, str], ...] = (
    ("livecart:Recommender", "recommend_replicas"),
    ("livecart:Ranker", "ranker_replicas"),
    ("livecart:EventIngest", "ingest_replica"),
    ("Floor", "floor_replicas"),
    ("ProxyActor", "http_proxy"),
    ("ray", "other_ray"),
)

Snapshot = dict[int, tuple[str, float]]


def snapshot() -> Snapshot:
    """pid -> (process title, user + system CPU seconds so far)."""
    out: Snapshot = {}
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            times = process.cpu_times()
            title = " ".join(process.info["cmdline"] or [])
        except (psutil.Error, OSError):
            continue
        out[process.pid] = (title, times.user + times.system)
    return out


def spent(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU seconds by group between two snapshots (processes started in between left out)."""
    out: dict[str, float] = {}
    for pid, (title, seconds) in after.items():
        if pid not in before:
            continue
        group = next((name for key, name in GROUPS if key in title), None)
        if group is None:
            continue
        out[group] = out.get(group, 0.0) + max(seconds - before[pid][1], 0.0)
    return out


def per_request_of(seconds: dict[str, float], requests: int) -> dict[str, float]:
    """Core-milliseconds per request by group, and their total."""
    out = {k: round(v * 1000 / max(requests, 1), 2) for k, v in sorted(seconds.items())}
    out["total"] = round(sum(seconds.values()) * 1000 / max(requests, 1), 2)
    return out
