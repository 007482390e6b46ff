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

from livecart.core.errors import LivecartError
from livecart.core.settings import LivecartSettings

WEIGHTS, CONFIG, METADATA = "weights.pt", "config.json", "metadata.json"
DEFAULT_RANKER = "product_ranker"
"""The ranker serving loads unless told otherwise."""


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


SERVING_POINTER = "SERVING"
"""File naming the promoted version of a model, with the promotion history (one version a line)."""


def promoted_history(settings: LivecartSettings, name: str) -> list[int]:
    pointer = _model_dir(settings, name) / SERVING_POINTER
    if not pointer.exists():
        return []
    return [int(line) for line in pointer.read_text().split() if line.strip().isdigit()]


def serving_version(settings: LivecartSettings, name: str) -> int | None:
    """The promoted version (the latest when none was promoted); None without any model."""
    history = promoted_history(settings, name)
    if history:
        return history[-1]
    known = versions(settings, name)
    return known[-1] if known else None


def _write_history(settings: LivecartSettings, name: str, history: list[int]) -> None:
    pointer = _model_dir(settings, name) / SERVING_POINTER
    tmp = pointer.with_name(f".{SERVING_POINTER}.{uuid.uuid4().hex}")
    tmp.write_text("".join(f"{v}\n" for v in history))
    os.replace(tmp, pointer)  # replicas polling the pointer never see half a file


def promote(settings: LivecartSettings, name: str, version: int) -> int:
    """Make ``version`` the one serving loads; replicas pick it up at their next poll."""
    if version not in versions(settings, name):
        raise LivecartError(
            f"model {name!r} has no version {version}; known: {versions(settings, name)}"
        )
    history = promoted_history(settings, name)
    if not history:
        # Nothing promoted yet: what served so far was the latest older version; remember it,
        # so a rollback returns there.
        older = [v for v in versions(settings, name) if v < version]
        history = older[-1:]
    if not history or history[-1] != version:
        _write_history(settings, name, [*history, version])
    return version


def rollback(settings: LivecartSettings, name: str) -> int:
    """Return serving to the previously promoted version; that version."""
    history = promoted_history(settings, name)
    if len(history) < 2:
        raise LivecartError(f"model {name!r} has no earlier promoted version to roll back to")
    _write_history(settings, name, history[:-1])
    return history[-2]
