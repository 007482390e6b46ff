"""``ensure_ray`` joining a running cluster: by ``ray_address`` it ships the project's packages
to its workers; by ``RAY_ADDRESS`` (``ray job submit``) it joins that cluster even where a home's .env
sizes a local Ray.

The cluster is the run's local Ray, joined from a second process (forked: this process already
holds a driver of it) through its address, exactly as a job joins a remote cluster.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import ray

from tests.forked import forked_processes

pytestmark = pytest.mark.integration


def join_cluster(address: str, out: Path) -> None:
    """Process target, two joins of ``address`` through ``ensure_ray``:

    1. as ``ray job submit`` runs its entrypoint (RAY_ADDRESS, no livecart address; a home's
       .env may still size a local Ray): the CPUs it reports;
    2. with ``ray_address``: per package, the ``sys.path`` entries holding it on a worker that
       the driver did not have, and the GPU decision.
    """
    from livecart.core.ray_runtime import CODE_PACKAGES, cluster_has_gpus, ensure_ray
    from livecart.core.settings import LivecartSettings

    os.environ["RAY_ADDRESS"] = address
    try:
        cpus = ensure_ray(LivecartSettings(ray_address=None, ray_num_cpus=1)).get("CPU")
    finally:
        ray.shutdown()
        del os.environ["RAY_ADDRESS"]

    ensure_ray(LivecartSettings(ray_address=address))
    driver_path = set(sys.path)

    @ray.remote(num_cpus=0)
    def shipped() -> dict[str, list[str]]:
        return {
            name: [
                p
                for p in sys.path
                if p not in driver_path and os.path.isfile(os.path.join(p, name, "__init__.py"))
            ]
            for name in CODE_PACKAGES
        }

    try:
        report = {
            "environment_cpus": cpus,
            "shipped": ray.get(shipped.remote(), timeout=60),
            "gpus": cluster_has_gpus(),
        }
        out.write_text(json.dumps(report))
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def joined(local_ray: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The joining process's report (one process for both joins: each costs seconds)."""
    out = tmp_path_factory.mktemp("join") / "report.json"
    address = ray.get_runtime_context().gcs_address
    child = forked_processes().Process(target=join_cluster, args=(address, out))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0, "the joining process failed (its error is in stderr)"
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def test_ensure_ray__joining_a_cluster__ships_every_package_to_its_workers(
    joined: dict[str, Any],
) -> None:
    assert all(joined["shipped"].values()), joined["shipped"]
    assert joined["gpus"] is False  # the run's Ray has no GPU (and says so to a joining job)


def test_ensure_ray__ray_address_in_environment__joins_that_cluster(
    joined: dict[str, Any],
) -> None:
    assert joined["environment_cpus"] == ray.cluster_resources()["CPU"]  # type: ignore[no-untyped-call]
