"""How one recommend replica answers viewer requests: together, as one batch, when they wait.

Requests that wait while a batch is prepared form the next batch (:class:`Coalescer`; a request
alone runs at once): one feature read, one input build and one forward pass for all of them (the
read and the build cost about the same for 8 x 500 rows as for 500). Rules and explanations run
per request afterwards, on the event loop.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from serving.coalesce import Coalescer
from serving.live_rooms import LiveRooms
from serving.metrics import ServingMetrics
from serving.prepared import Prepared
from serving.ranker_placement import RankerPlacement
from serving.schemas import ViewerRequest, ViewerResponse
from serving.service import ServingCore

Ranked = tuple[Prepared, np.ndarray | None]  # a prepared request and its scores (None: unranked)


class ViewerBatcher:
    """The viewer feed of one replica: retrieve, read, rank (batched), then rules and explain."""

    def __init__(
        self,
        core: ServingCore,
        live: LiveRooms,
        placement: RankerPlacement,
        stats: ServingMetrics,
    ) -> None:
        self.core, self.live, self.placement, self.stats = core, live, placement, stats
        settings = core.settings
        self._batches: Coalescer[ViewerRequest, Ranked] = Coalescer(
            self._prepare_and_rank,
            settings.batch_max_size,
            settings.batch_wait_ms / 1000,
            on_batch=stats.rank_batch.observe,
        )

    async def recommend(self, request: ViewerRequest) -> ViewerResponse:
        """The feed for one request (never raises for a store or model failure: degrades)."""
        pipeline = self.core.pipeline
        self.core.holder.poll()
        try:
            prepared, scores = await self._batches.submit(request)
        except TimeoutError:
            live = await self.live.get()
            return pipeline.finish(pipeline.popular(request, live, "feature store timeout"), None)
        except Exception as exc:
            live = await self.live.get()
            reason = f"feature store unavailable ({type(exc).__name__})"
            return pipeline.finish(pipeline.popular(request, live, reason), None)
        # Rules and explanations are CPU work of about a millisecond with no I/O: done here
        # rather than through another thread hop.
        return pipeline.finish(prepared, scores)

    async def _prepare_and_rank(self, requests: list[ViewerRequest]) -> list[Ranked]:
        core = self.core
        pipeline = core.pipeline
        live = await self.live.get()
        if core.follows_store:
            # Reads come from memory (the store follower loads commits in the background; a
            # slow store surfaces as OnlineStoreLagging, a TimeoutError): no thread hop.
            prepared = pipeline.prepare_many(requests, live)
        else:
            prepared = await asyncio.wait_for(
                asyncio.to_thread(pipeline.prepare_many, requests, live),
                core.settings.feature_timeout_ms / 1000,
            )
        scored = [p for p in prepared if p.inputs is not None and p.rankable]
        ranker = core.holder.ranker
        scores: dict[int, np.ndarray] = {}
        if scored and ranker is not None:
            began = time.perf_counter()
            parts = [p.inputs for p in scored if p.inputs is not None]
            try:
                found = await self.placement.score(ranker, parts)
                scores = {id(p): out for p, out in zip(scored, found, strict=True)}
            except Exception as exc:
                for p in scored:
                    p.degraded.append(f"ranking unavailable ({type(exc).__name__})")
            for p in scored:
                p.timings["rank"] = (time.perf_counter() - began) * 1000
        return [(p, scores.get(id(p))) for p in prepared]
