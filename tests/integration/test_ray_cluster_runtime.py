"""``ensure_ray`` joining a running cluster ships the project's packages to its workers.

The cluster is the run's local Ray, joined from a second process (forked: this process already
holds a driver of it) through its address, exactly as a job joins a remote cluster.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import ray

from tests.forked import forked_processes

pytestmark = pytest.mark.integration


def join_cluster(address: str, out: Path) -> None:
    """Process target: join ``address`` through ``ensure_ray``; write, per package, the
    ``sys.path`` entries holding it on a worker that the driver did not have, and the GPU
    decision."""
    from livecart.core.ray_runtime import CODE_PACKAGES, cluster_has_gpus, ensure_ray
    from livecart.core.settings import LivecartSettings

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
        report = {"shipped": ray.get(shipped.remote(), timeout=60), "gpus": cluster_has_gpus()}
        out.write_text(json.dumps(report))
    finally:
        ray.shutdown()


def test_ensure_ray__joining_a_cluster__ships_every_package_to_its_workers(
    local_ray: None, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    address = ray.get_runtime_context().gcs_address
    child = forked_processes().Process(target=join_cluster, args=(address, out))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0, "the joining process failed (its error is in stderr)"
    report = json.loads(out.read_text())
    assert all(report["shipped"].values()), report["shipped"]
    assert report["gpus"] is False  # the run's Ray has no GPU (and says so to a joining job)
