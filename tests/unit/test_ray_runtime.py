"""How livecart meets Ray: what travels to a cluster, and when jobs ask for GPUs."""

from __future__ import annotations

from pathlib import Path

import pytest
from ray.runtime_env import RuntimeEnv

from livecart.core.ray_runtime import CODE_PACKAGES, cluster_has_gpus, code_runtime_env
from livecart.core.settings import LivecartSettings

REPO = Path(__file__).resolve().parents[2]


def test_code_runtime_env__local_ray__ships_nothing() -> None:
    assert code_runtime_env(LivecartSettings()) is None


def test_code_runtime_env__cluster__ships_every_package_of_the_project() -> None:
    env = code_runtime_env(LivecartSettings(ray_address="ray://head:10001"))
    assert env is not None
    modules = [Path(p) for p in env["py_modules"]]
    assert sorted(p.name for p in modules) == sorted(CODE_PACKAGES)
    assert all((p / "__init__.py").is_file() for p in modules)
    # the packages pyproject installs are the ones shipped
    pyproject = (REPO / "pyproject.toml").read_text()
    assert all(f'"{name}*"' in pyproject for name in CODE_PACKAGES)
    RuntimeEnv(**env)  # Ray's own validation of the fields


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
