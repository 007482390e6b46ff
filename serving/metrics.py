"""Prometheus metrics of one replica (``GET /metrics`` renders them in the text format).

Each replica counts its own requests; Prometheus scrapes every replica (or the Ray metrics
endpoint, where Ray exports its own Serve metrics beside these).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.5)


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "livecart_requests",
            "Requests by endpoint and status code.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "livecart_request_seconds",
            "Request latency by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "livecart_fallbacks",
            "Responses served degraded or cold-start, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.events = Counter(
            "livecart_events", "Events by outcome.", ["outcome"], registry=self.registry
        )
        self.freshness_lag = Gauge(
            "livecart_freshness_lag_seconds",
            "Seconds from the newest accepted event's timestamp to its features being pushed.",
            registry=self.registry,
        )
        self.rank_batch = Histogram(
            "livecart_rank_batch_size",
            "Requests prepared and ranked together (one batch of a replica).",
            buckets=(1, 2, 4, 8, 16, 32),
            registry=self.registry,
        )
        self.model_version = Gauge(
            "livecart_model_version", "Ranker version serving.", registry=self.registry
        )
        self._series: dict[tuple[str, int], tuple[Any, Any]] = {}

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        """One answered request (its labelled series are looked up once, then reused)."""
        series = self._series.get((endpoint, status))
        if series is None:
            series = self._series[(endpoint, status)] = (
                self.requests.labels(endpoint=endpoint, status=str(status)),
                self.latency.labels(endpoint=endpoint),
            )
        series[0].inc()
        series[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
