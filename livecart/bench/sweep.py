"""Concurrency sweeps against several HTTP endpoints, side by side in time.

On a small shared machine the speed drifts by ±15% within minutes, so two sweeps run one after the
other compare the machine's moods as much as the endpoints. :func:`interleaved_sweep` runs each
concurrency level on every endpoint in a mirrored order (A B B A for two endpoints: a linear
drift costs both the same), each run half the level's duration, and merges each endpoint's halves
from their raw latencies. Every run is its own load-generator process
(:mod:`livecart.bench.load_client`) with its own warm-up; the CPU of every process on the machine
is accounted per endpoint (:mod:`livecart.bench.cpu_account`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

from livecart.bench import cpu_account

LoadRun = Callable[[str, int, float], dict[str, Any]]
PERCENTILES = (50, 95, 99)


def load(
    url: str, concurrency: int, bodies: Sequence[dict[str, Any]], duration_s: float
) -> dict[str, Any]:
    """One closed-loop run in a separate process (warm-up excluded), with its raw latencies and
    the CPU every kind of process spent on it."""
    config = {
        "url": url,
        "concurrency": concurrency,
        "bodies": list(bodies),
        "duration_s": duration_s,
        "warmup_s": min(2.0, duration_s / 2),
        "raw": True,
    }
    before = cpu_account.snapshot()
    done = subprocess.run(
        [sys.executable, "-m", "livecart.bench.load_client", json.dumps(config)],
        capture_output=True,
        text=True,
        check=True,
    )
    after = cpu_account.snapshot()
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["cpu_seconds"] = cpu_account.spent(before, after)
    return result


def mirrored_order(names: Sequence[str]) -> list[str]:
    """Each name twice, the second pass reversed: A B B A (A B C C B A for three)."""
    return [*names, *reversed(names)]


def merge_runs(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One level's result from several runs of one endpoint: throughput over the summed measured
    time, percentiles over the pooled latencies, errors summed, CPU per request by process kind."""
    latencies = np.concatenate([np.asarray(r["latencies_ms"], dtype=np.float64) for r in runs])
    pooled = latencies if len(latencies) else np.zeros(1)
    measured = sum(float(r["measured_s"]) for r in runs)
    errors = sum(int(r["errors"]) for r in runs)
    done = sum(int(r["requests"]) for r in runs)
    answered = sum(int(r["requests_with_warmup"]) for r in runs)
    spent: dict[str, float] = {}
    for r in runs:
        for group, seconds in r.get("cpu_seconds", {}).items():
            spent[group] = spent.get(group, 0.0) + float(seconds)
    kinds = sorted({kind for r in runs for kind in r["error_kinds"]})
    return {
        "concurrency": int(runs[0]["concurrency"]),
        "runs": len(runs),
        "requests": done,
        "requests_with_warmup": answered,
        "errors": errors,
        "error_rate": round(errors / max(done, 1), 5),
        "error_kinds": kinds[:5],
        "throughput_rps": round(len(latencies) / max(measured, 1e-9), 2),
        **{f"p{q}_ms": round(float(np.percentile(pooled, q)), 3) for q in PERCENTILES},
        "run_throughputs_rps": [r["throughput_rps"] for r in runs],
        "cpu_ms_per_request": cpu_account.per_request_of(spent, answered),
    }


def interleaved_sweep(
    urls: Mapping[str, str],
    levels: Sequence[int],
    duration_s: float,
    run: LoadRun,
) -> dict[str, dict[str, dict[str, Any]]]:
    """name -> level -> merged result; at each level the endpoints run in :func:`mirrored_order`,
    each run ``duration_s / 2`` long, so each endpoint is measured ``duration_s`` per level."""
    names = list(urls)
    out: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in names}
    for level in tqdm(levels, desc=f"interleaved sweep ({' / '.join(names)})"):
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for name in mirrored_order(names):
            runs[name].append(run(urls[name], level, duration_s / 2))
        for name in names:
            out[name][str(level)] = merge_runs(runs[name])
    return out


def sweep(
    url: str, levels: Sequence[int], duration_s: float, run: LoadRun, label: str
) -> dict[str, dict[str, Any]]:
    """level -> result for one endpoint alone (each level one run of ``duration_s``)."""
    return {
        str(level): merge_runs([run(url, level, duration_s)])
        for level in tqdm(levels, desc=f"sweep ({label})")
    }
