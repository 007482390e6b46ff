"""The shipped `serve deploy` config is valid for Ray Serve and names a real application builder."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml
from ray.serve import Application
from ray.serve.schema import ServeDeploySchema

from serving.app import EventIngest, Recommender, app
from serving.service import UnsafeExposure, is_loopback

CONFIG = Path(__file__).resolve().parents[2] / "serving" / "serve_config.yaml"


def test_serve_config__parses_with_ray_schema__deployments_exist() -> None:
    parsed = ServeDeploySchema.model_validate(yaml.safe_load(CONFIG.read_text()))
    (application,) = parsed.applications
    names = {d.name for d in application.deployments}
    assert names == {Recommender.name, EventIngest.name}  # type: ignore[attr-defined]
    module, attr = application.import_path.split(":")
    builder = getattr(importlib.import_module(module), attr)
    built = builder({k: v for k, v in application.args.items() if k != "home"})
    assert isinstance(built, Application)


def test_serve_config__binds_loopback__builder_sees_the_same_host() -> None:
    parsed = ServeDeploySchema.model_validate(yaml.safe_load(CONFIG.read_text()))
    (application,) = parsed.applications
    assert is_loopback(parsed.http_options.host)
    assert application.args["serve_host"] == parsed.http_options.host


def test_app_builder__reachable_host_with_default_token__refused() -> None:
    with pytest.raises(UnsafeExposure, match="LIVECART_API_TOKEN"):
        app({"serve_host": "0.0.0.0"})
    assert isinstance(app({"serve_host": "0.0.0.0", "api_token": "own-secret"}), Application)
