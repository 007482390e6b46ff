"""One way to get a Ray: the cluster named in settings, or a local Ray sized for this machine."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import ray

from livecart.core.settings import PROJECT_ROOT, LivecartSettings

# livecart's top-level packages (pyproject's packages.find): what a cluster's workers import.
CODE_PACKAGES = ("livecart", "ray_jobs", "serving", "validation", "feature_repo")


def code_runtime_env(settings: LivecartSettings) -> dict[str, Any] | None:
    """The ``runtime_env`` that ships this checkout's packages to a cluster's workers, or None.

    None for the local Ray (its workers import from this machine). With ``ray_address`` the
    packages travel as Ray ``py_modules`` (content-hashed, uploaded once per change), so a cluster
    whose nodes lack livecart, or hold another version of it, runs the driver's code. Inside
    ``ray job submit --working-dir .`` Ray merges this with the job's own runtime env (the two
    name different fields). No environment variables: jobs hand their settings to workers
    explicitly and Serve replicas export their own ``LIVECART_HOME``.
    """
    if not settings.ray_address:
        return None
    return {
        "py_modules": [str(PROJECT_ROOT / name) for name in CODE_PACKAGES],
        "excludes": ["__pycache__/", "*.pyc"],
    }


def ensure_ray(settings: LivecartSettings) -> dict[str, Any]:
    """Connect to ``settings.ray_address`` (or ``RAY_ADDRESS``, as under ``ray job submit``) or
    start a local Ray; return its resources.

    Idempotent: an already-initialised Ray in this process is reused. Connecting to a cluster
    ships this checkout's packages to its workers (:func:`code_runtime_env`).
    """
    if not ray.is_initialized():
        os.environ.setdefault("RAY_ACCEPT_MULTIPLE_NODES", "1")
        kwargs: dict[str, Any] = {
            "logging_level": logging.WARNING,
            "log_to_driver": False,
            "include_dashboard": False,
        }
        # ``ray job submit`` hands its entrypoint the cluster in RAY_ADDRESS (its working_dir
        # ships the code); ray.init would join it and refuse a num_cpus.
        address = settings.ray_address or os.environ.get("RAY_ADDRESS")
        if address:
            kwargs["address"] = address
            kwargs["runtime_env"] = code_runtime_env(settings)
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
