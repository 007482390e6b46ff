"""A closed-loop HTTP load generator, run in its own process by ``livecart bench serve``.

``python -m livecart.bench.load_client '<json config>'`` keeps ``concurrency`` requests in flight
against ``url`` for ``duration_s`` (after ``warmup_s``), cycling through ``bodies``, and prints one
JSON object: latency percentiles, throughput, error count, the measured time (and with
``"raw": true`` every latency, for merging runs: :mod:`livecart.bench.sweep`). Errors are non-2xx
answers, timeouts and connection failures; every request is counted.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx
import numpy as np


async def _worker(
    client: httpx.AsyncClient,
    url: str,
    bodies: list[dict[str, Any]],
    offset: int,
    stop_at: float,
    measure_from: float,
    out: list[float],
    errors: list[str],
    completed: list[int],
) -> None:
    i = offset
    while time.perf_counter() < stop_at:
        body = bodies[i % len(bodies)]
        i += 1
        began = time.perf_counter()
        try:
            answer = await client.post(url, json=body)
            ok = answer.status_code < 300
            why = f"HTTP {answer.status_code}"
        except httpx.HTTPError as exc:
            ok, why = False, type(exc).__name__
        completed[0] += 1
        if began >= measure_from:
            if ok:
                out.append(time.perf_counter() - began)
            else:
                errors.append(why)


async def run(config: dict[str, Any]) -> dict[str, Any]:
    concurrency = int(config["concurrency"])
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    timeout = httpx.Timeout(float(config.get("timeout_s", 30.0)))
    latencies: list[float] = []
    errors: list[str] = []
    completed = [0]  # every answered request, warm-up included (for CPU accounting)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        start = time.perf_counter()
        measure_from = start + float(config.get("warmup_s", 2.0))
        stop_at = measure_from + float(config["duration_s"])
        await asyncio.gather(
            *(
                _worker(
                    client,
                    config["url"],
                    config["bodies"],
                    k * 7,
                    stop_at,
                    measure_from,
                    latencies,
                    errors,
                    completed,
                )
                for k in range(concurrency)
            )
        )
        measured = time.perf_counter() - measure_from
    ms = np.asarray(latencies) * 1000 if latencies else np.zeros(1)
    done = len(latencies) + len(errors)
    raw = {"latencies_ms": np.round(ms[: len(latencies)], 3).tolist()} if config.get("raw") else {}
    return {
        "concurrency": concurrency,
        "requests": done,
        "requests_with_warmup": completed[0],
        "errors": len(errors),
        "error_rate": round(len(errors) / max(done, 1), 5),
        "error_kinds": sorted(set(errors))[:5],
        "throughput_rps": round(len(latencies) / max(measured, 1e-9), 2),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "measured_s": round(measured, 4),
        **raw,
    }


def main() -> None:
    config = json.loads(sys.argv[1]) if len(sys.argv) > 1 else json.load(sys.stdin)
    print(json.dumps(asyncio.run(run(config))))


if __name__ == "__main__":
    main()
