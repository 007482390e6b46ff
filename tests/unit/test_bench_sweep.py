"""The interleaved benchmark sweep: run order, merging of runs, and a real load-generator run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from livecart.bench import sweep


def _run(concurrency: int, latencies: list[float], seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "concurrency": concurrency,
        "requests": len(latencies) + extra.get("errors", 0),
        "requests_with_warmup": len(latencies) + 5,
        "errors": extra.get("errors", 0),
        "error_kinds": extra.get("error_kinds", []),
        "throughput_rps": round(len(latencies) / seconds, 2),
        "measured_s": seconds,
        "latencies_ms": latencies,
        "cpu_seconds": extra.get("cpu_seconds", {}),
    }


def test_mirrored_order__each_endpoint_twice_second_pass_reversed() -> None:
    assert sweep.mirrored_order(["a", "b"]) == ["a", "b", "b", "a"]
    assert sweep.mirrored_order(["a", "b", "c"]) == ["a", "b", "c", "c", "b", "a"]


def test_merge_runs__pools_latencies_and_sums_time_errors_and_cpu() -> None:
    first = _run(4, [10.0] * 30, 1.0, cpu_seconds={"http_proxy": 0.1})
    second = _run(
        4, [30.0] * 10, 1.0, errors=2, error_kinds=["HTTP 503"], cpu_seconds={"http_proxy": 0.3}
    )
    merged = sweep.merge_runs([first, second])
    assert merged["throughput_rps"] == 20.0  # 40 answers over 2 measured seconds
    assert merged["requests"] == 42 and merged["errors"] == 2
    assert merged["error_kinds"] == ["HTTP 503"]
    assert merged["p50_ms"] == 10.0 and merged["p99_ms"] == 30.0
    assert merged["run_throughputs_rps"] == [30.0, 10.0]
    # 0.4 CPU seconds over 40 + 10 answered requests (warm-up included) = 8 ms each
    assert merged["cpu_ms_per_request"] == {"http_proxy": 8.0, "total": 8.0}


def test_interleaved_sweep__mirrors_each_level_and_halves_each_run() -> None:
    calls: list[tuple[str, int, float]] = []

    def fake(url: str, concurrency: int, seconds: float) -> dict[str, Any]:
        calls.append((url, concurrency, seconds))
        latency = 5.0 if url == "A" else 10.0
        return _run(concurrency, [latency] * 10, seconds)

    out = sweep.interleaved_sweep({"lc": "A", "floor": "B"}, [1, 4], 10.0, fake)
    assert [(u, c) for u, c, _ in calls] == [
        ("A", 1), ("B", 1), ("B", 1), ("A", 1), ("A", 4), ("B", 4), ("B", 4), ("A", 4),
    ]  # fmt: skip
    assert {s for _, _, s in calls} == {5.0}
    assert out["lc"]["1"]["runs"] == 2 and out["lc"]["1"]["p50_ms"] == 5.0
    assert out["floor"]["4"]["p50_ms"] == 10.0


class _Answer(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        status = 500 if self.path.endswith("/broken") else 200
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def local_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_load__a_real_load_generator_run_counts_answers_and_errors(local_url: str) -> None:
    bodies = [{"viewer_id": "v1", "k": 3}]
    ok = sweep.load(f"{local_url}/ok", 2, bodies, 0.6)
    assert ok["errors"] == 0 and len(ok["latencies_ms"]) == ok["requests"] > 0
    assert ok["measured_s"] >= 0.6 and isinstance(ok["cpu_seconds"], dict)
    broken = sweep.merge_runs([sweep.load(f"{local_url}/broken", 1, bodies, 0.4)])
    assert broken["errors"] == broken["requests"] > 0
    assert broken["error_kinds"] == ["HTTP 500"] and broken["throughput_rps"] == 0.0
