"""The shipped `serve deploy` config is valid for Ray Serve and names a real application builder."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml
from ray.serve import Application
from ray.serve.schema import ServeDeploySchema

from serving.app import EventIngest, Recommender

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
