"""The model registry: versioned artifacts (weights, config, metadata) that serving loads by version.

Layout: ``<models_dir>/<name>/v0001/{weights.pt, config.json, metadata.json}``. A version is written
to a temporary directory and renamed into place, so a reader never sees half an artifact.
Metadata records the feature service, the data window, metrics and when it was made.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from livecart.errors import LivecartError
from livecart.settings import LivecartSettings

WEIGHTS, CONFIG, METADATA = "weights.pt", "config.json", "metadata.json"


@dataclass(frozen=True)
class ModelRecord:
    name: str
    version: int
    path: Path
    config: dict[str, Any]
    metadata: dict[str, Any]


def _model_dir(settings: LivecartSettings, name: str) -> Path:
    return settings.models_dir / name


def versions(settings: LivecartSettings, name: str) -> list[int]:
    directory = _model_dir(settings, name)
    if not directory.exists():
        return []
    return sorted(
        int(p.name[1:])
        for p in directory.iterdir()
        if p.name.startswith("v") and p.name[1:].isdigit()
    )


def save(
    settings: LivecartSettings,
    name: str,
    state: dict[str, torch.Tensor],
    config: dict[str, Any],
    metadata: dict[str, Any],
) -> ModelRecord:
    """Write a new version of ``name`` and return its record."""
    directory = _model_dir(settings, name)
    directory.mkdir(parents=True, exist_ok=True)
    version = (versions(settings, name) or [0])[-1] + 1
    tmp = directory / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    torch.save(state, tmp / WEIGHTS)
    full_meta = {
        **metadata,
        "name": name,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(),
    }
    (tmp / CONFIG).write_text(json.dumps(config, indent=2, default=str))
    (tmp / METADATA).write_text(json.dumps(full_meta, indent=2, default=str))
    final = directory / f"v{version:04d}"
    os.replace(tmp, final)
    return ModelRecord(name, version, final, config, full_meta)


def load(
    settings: LivecartSettings, name: str, version: int | None = None
) -> tuple[ModelRecord, dict[str, torch.Tensor]]:
    """A version of ``name`` (the latest when ``version`` is None) and its weights."""
    known = versions(settings, name)
    if not known:
        raise LivecartError(f"no model {name!r} in {settings.models_dir}; run `livecart train`")
    chosen = known[-1] if version is None else version
    if chosen not in known:
        raise LivecartError(f"model {name!r} has no version {chosen}; known: {known}")
    path = _model_dir(settings, name) / f"v{chosen:04d}"
    config = json.loads((path / CONFIG).read_text())
    metadata = json.loads((path / METADATA).read_text())
    state = torch.load(path / WEIGHTS, map_location="cpu", weights_only=True)
    return ModelRecord(name, chosen, path, config, metadata), state


def remove(settings: LivecartSettings, name: str, version: int) -> None:
    shutil.rmtree(_model_dir(settings, name) / f"v{version:04d}")
