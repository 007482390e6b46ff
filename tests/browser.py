"""Debian's headless Chromium for the browser tests (Playwright drives it; no browser download)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# As root, without a sandbox, and with no background networking (this machine has no network).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def artifact_dir() -> Path:
    """Where screenshots are copied for people to look at (``$LIVECART_ARTIFACTS``)."""
    return Path(
        os.environ.get("LIVECART_ARTIFACTS") or Path(tempfile.gettempdir()) / "livecart-artifacts"
    )
