"""What one recommend replica holds, built from settings, plus request guards shared by routes."""

from __future__ import annotations

import gc
import hmac
import ipaddress
from typing import Any

import torch
from fastapi import HTTPException
from threadpoolctl import threadpool_limits

from livecart.core.errors import LivecartError
from livecart.core.settings import LivecartSettings
from livecart.features.feast_store import feature_store
from livecart.features.reader import reader_for
from livecart.online.plan import plan_service
from serving.catalog import load_catalog
from serving.pipeline import ViewerPipeline
from serving.rank import ModelHolder
from serving.retrieve import VIEWER_CONTEXT_SERVICE
from serving.streamer import StreamerAssist


def settings_payload(settings: LivecartSettings) -> dict[str, Any]:
    """Settings as plain values for another process (secrets included, unlike JSON dumps)."""
    payload = settings.model_dump()
    payload["id_salt"] = settings.id_salt.get_secret_value()
    payload["api_token"] = settings.api_token.get_secret_value()
    return {k: str(v) if hasattr(v, "__fspath__") else v for k, v in payload.items()}


DEFAULT_API_TOKEN: str = LivecartSettings.model_fields["api_token"].default.get_secret_value()


class UnsafeExposure(LivecartError):
    """Serving on a reachable address with the public default write token."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable from this machine only."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_exposure(settings: LivecartSettings, host: str | None = None) -> str | None:
    """Refuse (:class:`UnsafeExposure`) to serve on a non-loopback ``host`` (default
    ``settings.serve_host``) with the default token; a warning to show when that token serves on
    loopback; None with a token of one's own."""
    host = settings.serve_host if host is None else host
    if settings.api_token.get_secret_value() != DEFAULT_API_TOKEN:
        return None
    how = (
        "set a secret token: LIVECART_API_TOKEN=<secret> in the environment or the .env file "
        "(clients send it as `Authorization: Bearer <secret>`)"
    )
    if not is_loopback(host):
        raise UnsafeExposure(
            f"refusing to serve on {host}: the write token is the default, a public constant, so "
            f"anyone who reaches {host}:{settings.serve_port} could write events and promote "
            f"models. Either {how}, or serve on 127.0.0.1 (LIVECART_SERVE_HOST=127.0.0.1)."
        )
    return (
        f"serving with the default write token (public); fine on {host}, refused on any other "
        f"address: {how}"
    )


def check_token(settings: LivecartSettings, authorization: str | None) -> None:
    """401 unless ``Authorization: Bearer <api_token>`` (compared in constant time, as bytes:
    ``compare_digest`` refuses non-ASCII strings, and a client may send any header)."""
    expected = f"Bearer {settings.api_token.get_secret_value()}".encode()
    if authorization is None or not hmac.compare_digest(_wire(authorization), expected):
        raise HTTPException(status_code=401, detail="missing or wrong bearer token")


def _wire(text: str) -> bytes:
    """A header's bytes as received (Starlette decodes headers as Latin-1), or the UTF-8 bytes of
    a value decoded otherwise (a query string's token)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


class ServingCore:
    """Catalogue, feature store, model and stages of one replica."""

    def __init__(
        self, settings: LivecartSettings, seed: int | None = None, follow_store: bool = False
    ) -> None:
        settings.export_env()
        torch.set_num_threads(1)  # small matmuls: threads only contend with other replicas
        # The same for numpy's OpenBLAS: its idle worker thread spins on the other core after a
        # threaded call (on Redis, 38.9 -> 20.3 ms of CPU a feed request in process, same wall).
        threadpool_limits(1, user_api="blas")
        self.settings = settings
        self.store = feature_store(settings)
        self.reader = reader_for(self.store, settings.redis_near_cache_s)
        # A replica follows an in-memory store view in the background (reads from memory, on
        # the event loop); other online stores are read per request, in a worker thread.
        self.follows_store = follow_store and self.reader.in_memory
        if self.follows_store:
            self.reader.follow(settings.store_follow_ms / 1000, settings.feature_timeout_ms / 1000)
        self.catalog = load_catalog(settings)
        self.holder = ModelHolder(settings)
        self.pipeline = ViewerPipeline(settings, self.reader, self.catalog, self.holder, seed=seed)
        self.streamer = StreamerAssist(self.pipeline)
        # Catalogue, model and caches live as long as the replica: keep them out of the cyclic
        # collector's full passes, which otherwise stall requests for tens of milliseconds.
        gc.collect()
        gc.freeze()

    def check_k(self, k: int) -> None:
        if k > self.settings.max_k:
            raise HTTPException(
                status_code=422, detail=f"k={k} is above max_k={self.settings.max_k}"
            )

    def readiness(self) -> dict[str, str]:
        details = {
            "catalog": "ok" if len(self.catalog.products) else "empty catalogue",
            "model": "ok" if self.holder.ranker is not None else "no model; run `livecart train`",
        }
        try:
            self.reader.frame(
                plan_service(self.store, VIEWER_CONTEXT_SERVICE),
                {"viewer_id": ["_probe"]},
            )
            details["online_store"] = "ok"
        except Exception as exc:
            details["online_store"] = f"unreadable ({type(exc).__name__}: {exc})"
        return details
