"""One way to get a Ray: the cluster named in settings, or a local Ray sized for this machine."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import ray

from livecart.core.settings import LivecartSettings


def ensure_ray(settings: LivecartSettings) -> dict[str, Any]:
    """Connect to ``settings.ray_address`` or start a local Ray; return its resources.

    Idempotent: an already-initialised Ray in this process is reused. The working directory's
    packages travel to a remote cluster through ``runtime_env`` only when an address is given.
    """
    if not ray.is_initialized():
        os.environ.setdefault("RAY_ACCEPT_MULTIPLE_NODES", "1")
        kwargs: dict[str, Any] = {
            "logging_level": logging.WARNING,
            "log_to_driver": False,
            "include_dashboard": False,
        }
        if settings.ray_address:
            kwargs["address"] = settings.ray_address
        else:
            kwargs["num_cpus"] = settings.ray_num_cpus
        ray.init(**kwargs)
    resources: dict[str, Any] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return resources


def cluster_has_gpus(needed: int = 1, resources: Mapping[str, float] | None = None) -> bool:
    """Whether the Ray cluster holds at least ``needed`` GPUs (``ray.cluster_resources()``
    unless ``resources`` is given): the one place jobs decide to ask Ray for GPUs.

    Decided from the cluster, never from ``torch.cuda.is_available()`` in the driver: a CPU head
    with GPU workers would never use them, and asking Ray for GPUs the cluster does not have
    waits forever (``ScalingConfig(use_gpu=True)`` on a CPU-only cluster hangs silently).
    """
    if resources is None:
        resources = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return float(resources.get("GPU", 0.0)) >= max(needed, 1)
