"""`serving.runner.stop` deletes livecart's application only: another one beside it survives,
and Serve itself is shut down only on the local Ray with nothing else left on it.

The application named ``livecart`` here is a stand-in (one echo replica, 0 CPUs): what is under
test is what stopping deletes on a real Serve, not the livecart app's start (which the serving
tests cover).
"""

from __future__ import annotations

import httpx
import pytest
from ray import serve

from livecart.core.settings import LivecartSettings
from serving.runner import APP_NAME, stop
from tests.forked import free_port

pytestmark = pytest.mark.integration


@serve.deployment(
    ray_actor_options={"num_cpus": 0},
    graceful_shutdown_wait_loop_s=0.1,
    graceful_shutdown_timeout_s=1,
)
class Echo:
    def __init__(self, word: str) -> None:
        self.word = word

    def __call__(self) -> str:
        return self.word


def test_stop__other_app_beside_livecart__survives_and_serve_shuts_down_only_when_ours(
    local_ray: None,
) -> None:
    local = LivecartSettings(serve_port=free_port())
    shared = local.model_copy(update={"ray_address": "auto"})  # this Ray, treated as a cluster
    serve.start(http_options={"host": "127.0.0.1", "port": local.serve_port})
    try:
        serve.run_many(  # both at once: each deployment waited on alone costs a 1 s poll
            [
                serve.RunTarget(Echo.bind(name), name=name, route_prefix=f"/{name}")
                for name in (APP_NAME, "other")
            ]
        )
        stop(local)
        assert set(serve.status().applications) == {"other"}
        answer = httpx.get(f"http://127.0.0.1:{local.serve_port}/other", timeout=10)
        assert answer.text == "other"

        stop(shared, apps=("other",))  # a shared cluster keeps Serve up with no app left
        status = serve.status()
        assert status.applications == {}
        assert status.proxies

        stop(local)  # the local Ray's Serve with nothing on it: shut down
        assert serve.status().proxies == {}
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]
