"""The warm-first request router on a real Serve: back-to-back sequential requests stay on one
replica, a concurrent burst spreads over both (as Serve's default power of two choices would)."""

from __future__ import annotations

import concurrent.futures as cf
import os
import time

import httpx
import pytest
from fastapi import FastAPI
from ray import serve

from livecart.core.settings import LivecartSettings
from serving.routing import router_options

pytestmark = pytest.mark.integration

probe_api = FastAPI()


@serve.deployment(max_ongoing_requests=8)
@serve.ingress(probe_api)
class Probe:
    @probe_api.get("/pid")
    async def pid(self, hold_ms: float = 0.0) -> int:
        if hold_ms:
            time.sleep(hold_ms / 1000)  # keeps the request in flight (blocks this replica)
        return os.getpid()


def test_warm_first__idle_requests_one_replica__burst_spreads(
    served_url: str, served_settings: LivecartSettings
) -> None:
    options = router_options(served_settings)
    assert options, "the default router is warm_first"
    app = Probe.options(  # type: ignore[attr-defined]
        num_replicas=2, ray_actor_options={"num_cpus": 0.01}, **options
    ).bind()
    serve.run(app, name="router-probe", route_prefix="/router-probe", blocking=False)
    url = f"{served_url}/router-probe/pid"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        time.sleep(2.0)  # both replicas up and known to the proxy
        # One kept-alive connection, each request sent as soon as the previous one is answered
        # (as the benchmark's concurrency-1 client does).
        with httpx.Client(timeout=10) as client:
            sequential = {client.get(url).json() for _ in range(60)}
        with cf.ThreadPoolExecutor(8) as pool:
            burst = set(pool.map(lambda _: httpx.get(url, params={"hold_ms": 150}, timeout=30).json(), range(16)))
    finally:
        serve.delete("router-probe")
    assert len(sequential) == 1, sequential
    assert len(burst) == 2, burst
