"""The machine's floor: a minimal Ray Serve endpoint with the same Serve settings as livecart.

FastAPI ingress, same replica count, CPUs, concurrency limit and request router as
``Recommender``, and trivial numpy work (score ~500 candidates, take the top k). ``livecart bench serve`` sweeps it beside the
real app so the throughput ratio says what livecart's pipeline costs, not what this machine costs.
"""

from typing import Any

import numpy as np
from fastapi import FastAPI
from ray import serve
from ray.serve import Application

from livecart.core.settings import LivecartSettings
from serving.routing import router_options
from serving.schemas import ViewerRequest

floor_api = FastAPI(title="livecart floor")
CANDIDATES = 500


@serve.deployment(max_ongoing_requests=64)
@serve.ingress(floor_api)
class Floor:
    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    @floor_api.post("/v1/recommend/viewer")
    async def recommend(self, request: ViewerRequest) -> dict[str, Any]:
        scores = self.rng.random(CANDIDATES)
        top = np.argsort(-scores)[: request.k]
        return {
            "viewer_id": request.viewer_id,
            "products": [{"product_id": f"p{i}", "score": float(scores[i])} for i in top],
        }


def build_floor(settings: LivecartSettings, replica_cpus: float | None = None) -> Application:
    """The floor with livecart's Serve settings; ``replica_cpus`` overrides the CPUs each replica
    reserves (the benchmark deploys both apps at once, on what the cluster has left)."""
    cpus = settings.serve_replica_cpus if replica_cpus is None else replica_cpus
    graph: Application = Floor.options(  # type: ignore[attr-defined]
        num_replicas=settings.serve_replicas,
        ray_actor_options={"num_cpus": cpus},
        **router_options(settings),
    ).bind()
    return graph
