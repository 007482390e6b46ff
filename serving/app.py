"""The Ray Serve application: its routes, and the deployment graph (:func:`build`).

Layout (measured both ways, see README "Serving"): retrieve, features, rank, rules and explain are
classes in one ``Recommender`` replica, scaled by replicas, because a hop per stage would serialize
~500 candidate rows each way for no gain: every stage wants the same CPU. ``EventIngest`` lives
apart (one replica: the online store's single writer and the live counters). What a replica does
behind the routes has its own modules: batching (:mod:`serving.batching`), where the forward pass
runs (:mod:`serving.ranker_placement`), live rooms (:mod:`serving.live_rooms`), and the
console's routes (:mod:`serving.console_routes`, an ``APIRouter``).

Start it with ``livecart serve`` or ``serve run serving.app:app`` (``app`` is an application
builder: nothing happens on import); ``serving/serve_config.yaml`` is the ``serve deploy`` config.
"""

import asyncio
import logging
import time
from typing import Any

from fastapi import FastAPI, Header, HTTPException, Response
from fastapi.responses import JSONResponse
from ray import serve
from ray.serve import Application
from ray.serve.handle import DeploymentHandle

from livecart.core.settings import LivecartSettings
from livecart.model import registry
from serving import console_routes, http_errors, pitch_routes
from serving.batching import ViewerBatcher
from serving.event_ingest import EventIngest
from serving.live_rooms import LiveRooms
from serving.metrics import ServingMetrics
from serving.ranker_placement import Ranker, RankerPlacement
from serving.routing import router_options
from serving.schemas import (
    EventsRequest,
    EventsResponse,
    Health,
    ReloadRequest,
    ReloadResponse,
    StreamerRequest,
    StreamerResponse,
    ViewerRequest,
    ViewerResponse,
)
from serving.service import ServingCore, check_exposure, check_token, settings_payload

api = FastAPI(
    title="livecart",
    version="1",
    description="Live-stream e-commerce recommendations: viewer feed, streamer assist, events.",
)
api.include_router(console_routes.router)
api.include_router(pitch_routes.router)
http_errors.install(api)


@serve.deployment(max_ongoing_requests=64, health_check_period_s=5)
@serve.ingress(api)
class Recommender:
    def __init__(
        self,
        ingest: DeploymentHandle[Any],
        settings: dict[str, Any],
        ranker: DeploymentHandle[Any] | None = None,
    ) -> None:
        self.settings = LivecartSettings(**settings)
        self.core = ServingCore(self.settings, follow_store=True)
        self.ingest = ingest
        self.stats = ServingMetrics()
        self.live = LiveRooms(ingest)
        # ranker None: rank in this replica (the default layout); else the Ranker deployment.
        placement = RankerPlacement(ranker, self.settings.rank_timeout_ms / 1000)
        self.viewers = ViewerBatcher(self.core, self.live, placement, self.stats)
        console_routes.attach(
            console_routes.ConsoleDeps(self.core, ingest, self.live, self.viewers.recommend)
        )

    @api.post("/v1/recommend/viewer", response_model=ViewerResponse)
    async def recommend_viewer(
        self, request: ViewerRequest, authorization: str | None = Header(default=None)
    ) -> Response:
        """Ranked live rooms and products for a viewer, each with score and explanation."""
        began = time.perf_counter()
        self._guard_read(authorization)
        self.core.check_k(request.k)
        response = await self.viewers.recommend(request)
        response.timings_ms["handler"] = round((time.perf_counter() - began) * 1000, 3)
        self._observe("viewer", began, 200)
        for reason in response.degraded_reasons:
            self.stats.fallbacks.labels(reason=reason.split(" (")[0]).inc()
        if response.cold_start:
            self.stats.fallbacks.labels(reason="cold start").inc()
        # Built by the pipeline as a ViewerResponse already: serialized once, by pydantic-core,
        # instead of validated again and encoded twice (OpenAPI still documents the model).
        return Response(response.model_dump_json(), media_type="application/json")

    @api.post("/v1/recommend/streamer", response_model=StreamerResponse)
    async def recommend_streamer(
        self, request: StreamerRequest, authorization: str | None = Header(default=None)
    ) -> StreamerResponse:
        """Which of the streamer's products to pitch next for the audience in the room now."""
        began = time.perf_counter()
        self._guard_read(authorization)
        self.core.check_k(request.k)
        if request.room_id not in self.core.catalog.rooms.index:
            raise HTTPException(status_code=404, detail=f"unknown room {request.room_id!r}")
        self.core.holder.poll()
        snapshot = await self.ingest.room_snapshot.remote(request.room_id)
        response = await asyncio.to_thread(self.core.streamer.suggest, request, snapshot)
        self._observe("streamer", began, 200)
        return response

    @api.post("/v1/events", response_model=EventsResponse)
    async def events(
        self, request: EventsRequest, authorization: str | None = Header(default=None)
    ) -> EventsResponse:
        """Validate events (GX rules), quarantine bad ones with reasons, store and push good ones."""
        began = time.perf_counter()
        check_token(self.settings, authorization)
        if len(request.events) > self.settings.max_events_per_request:
            raise HTTPException(
                status_code=422,
                detail=f"{len(request.events)} events; at most "
                f"{self.settings.max_events_per_request} per request",
            )
        payload = [e.model_dump(exclude_unset=True) for e in request.events]
        result = EventsResponse.model_validate(await self.ingest.ingest.remote(payload))
        self.stats.events.labels(outcome="accepted").inc(result.accepted)
        self.stats.events.labels(outcome="quarantined").inc(len(result.quarantined))
        self.stats.freshness_lag.set(result.push_ms / 1000)
        self._observe("events", began, 200)
        return result

    @api.post("/v1/models/reload", response_model=ReloadResponse)
    async def reload(
        self, request: ReloadRequest, authorization: str | None = Header(default=None)
    ) -> ReloadResponse:
        """Promote a version (or re-read the promoted one); every replica follows within seconds."""
        check_token(self.settings, authorization)
        previous = self.core.holder.version
        name = self.core.holder.name
        try:
            if request.version is not None:
                registry.promote(self.settings, name, request.version)
            version = await asyncio.to_thread(self.core.holder.load, request.version)
        except Exception as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        return ReloadResponse(model_version=version, previous_version=previous)

    @api.get("/healthz", response_model=Health)
    async def healthz(self) -> Health:
        return Health(status="ok", model_version=self.core.holder.version)

    @api.get("/readyz", response_model=Health)
    async def readyz(self) -> Response:
        details = self.core.readiness()
        try:
            await asyncio.wait_for(self.ingest.live_rooms.remote(), 2.0)
            details["ingest"] = "ok"
        except Exception as exc:
            details["ingest"] = f"unreachable ({type(exc).__name__})"
        ready = all(v == "ok" for v in details.values())
        body = Health(
            status="ready" if ready else "not ready",
            model_version=self.core.holder.version,
            details=details,
        )
        return JSONResponse(body.model_dump(mode="json"), status_code=200 if ready else 503)

    @api.get("/metrics")
    async def prometheus(self) -> Response:
        self.stats.model_version.set(self.core.holder.version or 0)
        return Response(self.stats.render(), media_type="text/plain; version=0.0.4")

    def _guard_read(self, authorization: str | None) -> None:
        if self.settings.protect_reads:
            check_token(self.settings, authorization)

    def _observe(self, endpoint: str, began: float, status: int) -> None:
        self.stats.observe(endpoint, status, time.perf_counter() - began)

    def check_health(self) -> None:
        self.core.holder.poll()


def build(settings: LivecartSettings, split_ranker: bool = False) -> Application:
    """The application graph for ``settings`` (binds deployments; starts nothing)."""
    payload = settings_payload(settings)
    ingest = EventIngest.bind(payload)  # type: ignore[attr-defined]
    ranker = (
        Ranker.options(  # type: ignore[attr-defined]
            ray_actor_options={"num_cpus": settings.serve_replica_cpus}
        ).bind(payload)
        if split_ranker
        else None
    )
    graph: Application = Recommender.options(  # type: ignore[attr-defined]
        num_replicas=settings.serve_replicas,
        ray_actor_options={"num_cpus": settings.serve_replica_cpus},
        **router_options(settings),
    ).bind(ingest, payload, ranker)
    return graph


def app(args: dict[str, str] | None = None) -> Application:
    """Application builder for ``serve run serving.app:app`` (args override settings).

    Refuses a non-loopback ``serve_host`` with the default token. The proxy binds
    ``http_options.host`` of the config, which a builder cannot see: the shipped config repeats it
    as ``args.serve_host`` (a test keeps the two equal).
    """
    overrides: dict[str, Any] = dict(args or {})
    settings = LivecartSettings(**overrides)
    warning = check_exposure(settings)
    if warning:
        logging.getLogger(__name__).warning(warning)
    return build(settings)
