"""The Ray Serve application: a FastAPI ingress that runs the whole viewer pipeline in-process.

Layout (measured both ways, see README "Serving"): retrieve, features, rank, rules and explain are
classes in one ``Recommender`` replica, scaled by replicas, because a hop per stage would serialize
~500 candidate rows each way for no gain: every stage wants the same CPU. Two things live apart:
``EventIngest`` (one replica: the online store's single writer and the live counters) and the
batch inside each replica (``@serve.batch`` over concurrent requests: one feature read, one input
build and one forward pass for all of them).

Start it with ``livecart serve`` or ``serve run serving.app:app`` (``app`` is an application
builder: nothing happens on import); ``serving/serve_config.yaml`` is the ``serve deploy`` config.
"""

import asyncio
import contextlib
import time
from typing import Any

import numpy as np
from fastapi import FastAPI, Header, HTTPException, Query, Response
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from ray import serve
from ray.serve import Application
from ray.serve.handle import DeploymentHandle

from livecart.core.settings import LivecartSettings
from livecart.model import registry
from livecart.model.input_arrays import concat_inputs
from serving.console import (
    SUGGESTIONS,
    VIEWER_PRODUCTS,
    StreamTiming,
    console_html,
    open_streams,
    room_events,
    room_snapshot,
)
from serving.event_ingest import EventIngest
from serving.metrics import ServingMetrics
from serving.prepared import Prepared
from serving.rank import score_inputs
from serving.ranker_deployment import Ranker
from serving.routing import router_options
from serving.schemas import (
    HARD_MAX_K,
    ID_MAX,
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
from serving.service import ServingCore, check_token, settings_payload

LIVE_REFRESH_S = 0.5
Ranked = tuple[Prepared, np.ndarray | None]  # a prepared request and its scores (None: unranked)

api = FastAPI(
    title="livecart",
    version="1",
    description="Live-stream e-commerce recommendations: viewer feed, streamer assist, events.",
)


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
        self.ranker = ranker  # None: rank in this replica (the default layout)
        self.stats = ServingMetrics()
        self.live: dict[str, int] = {}
        self._live_task: asyncio.Task[None] | None = None
        self._live_ready = asyncio.Event()
        self._active = 0
        batch: Any = self._prepare_batch
        batch.set_max_batch_size(self.settings.batch_max_size)
        batch.set_batch_wait_timeout_s(self.settings.batch_wait_ms / 1000)

    async def _live_rooms(self) -> dict[str, int]:
        """Rooms live now (from the ingest deployment), refreshed by one background task: a
        request never waits on that call, except the replica's first ones (up to 2 s)."""
        if self._live_task is None:
            self._live_task = asyncio.create_task(self._follow_live_rooms())
        if not self._live_ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._live_ready.wait(), 2.0)
        return self.live

    async def _follow_live_rooms(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                self.live = await self.ingest.live_rooms.remote()
            self._live_ready.set()
            await asyncio.sleep(LIVE_REFRESH_S)

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.002)
    async def _prepare_batch(self, requests: list[ViewerRequest]) -> list[Ranked]:
        """Requests that arrive together: one feature read, one input build, one forward pass."""
        self.stats.rank_batch.observe(len(requests))
        return await self._prepare_and_rank(requests)

    async def _prepare_and_rank(self, requests: list[ViewerRequest]) -> list[Ranked]:
        s, pipeline = self.settings, self.core.pipeline
        live = await self._live_rooms()
        if self.core.follows_store:
            # Reads come from memory (the store follower loads commits in the background; a
            # slow store surfaces as OnlineStoreLagging, a TimeoutError): no thread hop.
            prepared = pipeline.prepare_many(requests, live)
        else:
            prepared = await asyncio.wait_for(
                asyncio.to_thread(pipeline.prepare_many, requests, live),
                s.feature_timeout_ms / 1000,
            )
        scored = [p for p in prepared if p.inputs is not None and p.rankable]
        ranker = self.core.holder.ranker
        scores: dict[int, np.ndarray] = {}
        if scored and ranker is not None:
            began = time.perf_counter()
            parts = [p.inputs for p in scored if p.inputs is not None]
            try:
                if self.ranker is None:
                    # On the event loop: a forward pass (about half a millisecond per 500
                    # rows) costs less than a hop to a worker thread and back.
                    found = score_inputs(ranker, parts)
                else:
                    # One call for the batch, text as dense rows (rows of a table would carry
                    # the whole table through the object store).
                    joined = await asyncio.wait_for(
                        self.ranker.score.remote(concat_inputs(parts).dense()),
                        s.rank_timeout_ms / 1000,
                    )
                    found = np.split(joined, np.cumsum([len(x) for x in parts])[:-1])
                scores = {id(p): out for p, out in zip(scored, found, strict=True)}
            except Exception as exc:
                for p in scored:
                    p.degraded.append(f"ranking unavailable ({type(exc).__name__})")
            for p in scored:
                p.timings["rank"] = (time.perf_counter() - began) * 1000
        return [(p, scores.get(id(p))) for p in prepared]

    async def _viewer(self, request: ViewerRequest) -> ViewerResponse:
        self._active += 1  # viewer requests in this replica now (decides batching)
        try:
            # Let requests that arrived together all count themselves in before any of them
            # decides: then they are prepared and ranked as one batch.
            await asyncio.sleep(0)
            return await self._viewer_pipeline(request)
        finally:
            self._active -= 1

    async def _viewer_pipeline(self, request: ViewerRequest) -> ViewerResponse:
        pipeline = self.core.pipeline
        self.core.holder.poll()
        try:
            if self._active == 1:  # alone in this replica: no trip through the batch queue
                prepared, scores = (await self._prepare_and_rank([request]))[0]
            else:
                prepared, scores = await self._prepare_batch(request)
        except TimeoutError:
            live = await self._live_rooms()
            return pipeline.finish(pipeline.popular(request, live, "feature store timeout"), None)
        except Exception as exc:
            live = await self._live_rooms()
            reason = f"feature store unavailable ({type(exc).__name__})"
            return pipeline.finish(pipeline.popular(request, live, reason), None)
        # Rules and explanations are CPU work of about a millisecond with no I/O: done here
        # rather than through another thread hop.
        return pipeline.finish(prepared, scores)

    @api.post("/v1/recommend/viewer", response_model=ViewerResponse)
    async def recommend_viewer(
        self, request: ViewerRequest, authorization: str | None = Header(default=None)
    ) -> Response:
        """Ranked live rooms and products for a viewer, each with score and explanation."""
        began = time.perf_counter()
        self._guard_read(authorization)
        self.core.check_k(request.k)
        response = await self._viewer(request)
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
        payload = [e.model_dump() for e in request.events]
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

    # --- the streamer console: a bundled page, one JSON snapshot, and its SSE stream ---

    @api.get("/console", response_class=HTMLResponse, include_in_schema=False)
    async def console(self) -> HTMLResponse:
        """The streamer console page (reads room_id, viewer_id and token from its own URL)."""
        return HTMLResponse(console_html(), headers={"Cache-Control": "no-cache"})

    @api.get("/v1/console/room/{room_id}")
    async def console_room(
        self,
        room_id: str,
        viewer_id: str | None = Query(default=None, min_length=1, max_length=ID_MAX),
        k: int = Query(default=SUGGESTIONS, gt=0, le=HARD_MAX_K),
        token: str | None = Query(default=None),
        authorization: str | None = Header(default=None),
    ) -> dict[str, Any]:
        """What the console shows for a room now, as one JSON object."""
        self._console_guard(room_id, k, authorization, token)
        snapshot = await self._console_snapshot(room_id, viewer_id, k)
        return {**snapshot, "open_streams": open_streams()}

    @api.get("/v1/stream/room/{room_id}")
    async def stream_room(
        self,
        room_id: str,
        viewer_id: str | None = Query(default=None, min_length=1, max_length=ID_MAX),
        k: int = Query(default=SUGGESTIONS, gt=0, le=HARD_MAX_K),
        max_seconds: float = Query(default=StreamTiming.max_s, gt=0, le=StreamTiming.max_s),
        token: str | None = Query(default=None),
        authorization: str | None = Header(default=None),
    ) -> StreamingResponse:
        """Server-sent events: a ``snapshot`` of the room whenever it changes, and heartbeats.

        Without ``viewer_id`` the sample viewer is the first viewer present when the stream opens.
        """
        self._console_guard(room_id, k, authorization, token)
        if viewer_id is None:
            raw = await self.ingest.room_snapshot.remote(room_id)
            viewer_id = next(iter(sorted(raw.get("audience", []))), None)
        sample = viewer_id

        async def versions() -> tuple[int, int]:
            room_v, viewer_v = await self.ingest.versions.remote(room_id, sample)
            return int(room_v), int(viewer_v)

        async def snapshot() -> dict[str, Any]:
            return await self._console_snapshot(room_id, sample, k)

        body = room_events(versions, snapshot, StreamTiming(max_s=max_seconds))
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(body, media_type="text/event-stream", headers=headers)

    def _console_guard(
        self, room_id: str, k: int, authorization: str | None, token: str | None
    ) -> None:
        self._guard_read(authorization or (f"Bearer {token}" if token else None))
        self.core.check_k(k)
        if room_id not in self.core.catalog.rooms.index:
            raise HTTPException(status_code=404, detail=f"unknown room {room_id!r}")

    async def _console_snapshot(
        self, room_id: str, viewer_id: str | None, k: int
    ) -> dict[str, Any]:
        self.core.holder.poll()
        raw = await self.ingest.room_snapshot.remote(room_id)
        request = StreamerRequest(room_id=room_id, k=k)
        streamer = await asyncio.to_thread(self.core.streamer.suggest, request, raw)
        viewer = None
        if viewer_id is not None:
            asked = ViewerRequest(
                viewer_id=viewer_id, room_id=room_id, k=VIEWER_PRODUCTS, explore=False
            )
            viewer = await self._viewer(asked)
        live = await self._live_rooms()
        return room_snapshot(
            self.core.catalog, room_id, streamer, raw, viewer, live_viewers=live.get(room_id)
        )

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
    """Application builder for ``serve run serving.app:app`` (args override settings)."""
    overrides: dict[str, Any] = dict(args or {})
    return build(LivecartSettings(**overrides))
