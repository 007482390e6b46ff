"""One way to get a Ray: the cluster named in settings, or a local Ray sized for this machine."""

from __future__ import annotations

import logging
import os
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
