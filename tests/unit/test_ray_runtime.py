"""How livecart meets Ray: when jobs ask for GPUs."""

from __future__ import annotations

import pytest

from livecart.core.ray_runtime import cluster_has_gpus


@pytest.mark.parametrize(
    ("resources", "needed", "expected"),
    [
        ({"CPU": 64.0}, 1, False),  # a CPU cluster, whatever the driver's CUDA says
        ({"CPU": 2.0, "GPU": 1.0}, 1, True),  # e.g. a CPU head with one GPU worker
        ({"GPU": 1.0}, 2, False),  # one GPU for two workers would leave one waiting forever
        ({"GPU": 4.0}, 4, True),
        ({"GPU": 0.5}, 1, False),
    ],
)
def test_cluster_has_gpus__from_cluster_resources(
    resources: dict[str, float], needed: int, expected: bool
) -> None:
    assert cluster_has_gpus(needed, resources) is expected
