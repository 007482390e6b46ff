"""`livecart ingest twitch`: the ``twitch`` preset of `livecart ingest tables` under its own name.

The log (:mod:`ray_jobs.ingest._twitch`: hash check, steps to timestamps, sessions as rooms) is
read and written through the same path as every ingest (:mod:`ray_jobs.ingest.presets`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from pydantic import BaseModel, ConfigDict, Field

from livecart.core.contract import Table
from livecart.core.settings import LivecartSettings
from ray_jobs.ingest._twitch import DEFAULT_TWITCH_PATH, TWITCH_EPOCH, TWITCH_SHA256, TwitchOptions
from ray_jobs.ingest.presets import TWITCH, ingest_preset

__all__ = [
    "DEFAULT_TWITCH_PATH",
    "TWITCH_EPOCH",
    "TWITCH_SHA256",
    "TwitchConfig",
    "TwitchResult",
    "run",
]

log = logging.getLogger(__name__)


class TwitchConfig(BaseModel):
    """What to ingest and how; only ``settings`` is required."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    settings: LivecartSettings = Field(description="Where to write and how to id viewers.")
    path: Path = Field(default=DEFAULT_TWITCH_PATH, description="The twitch105k.csv file.")
    session_gap_steps: int = Field(
        default=6, ge=0, description="A gap of more steps than this between watches ends a room."
    )
    expected_sha256: str | None = Field(
        default=TWITCH_SHA256, description="Refuse a file with another hash (None: skip check)."
    )
    progress: bool = Field(default=True, description="Show a tqdm bar over the reading stages.")


@dataclass(frozen=True)
class TwitchResult:
    """Counts of what was written, for the CLI summary and for tests."""

    raw_dir: Path
    rows: int
    viewers: int
    streamers: int
    rooms: int
    events: int
    sha256: str
    seconds: float


def run(config: TwitchConfig) -> TwitchResult:
    """Verify, read and map the Twitch log, then replace the raw world in ``settings.raw_dir``."""
    started = time.perf_counter()
    options = TwitchOptions(
        session_gap_steps=config.session_gap_steps, expected_sha256=config.expected_sha256
    )
    written = ingest_preset(TWITCH, config.settings, config.path, options, progress=config.progress)
    rows = written.rows
    result = TwitchResult(
        raw_dir=written.raw_dir,
        rows=cast(int, written.manifest["rows"]),
        viewers=rows[Table.VIEWERS.value],
        streamers=rows[Table.STREAMERS.value],
        rooms=rows[Table.ROOMS.value],
        events=rows[Table.EVENTS.value],
        sha256=str(written.manifest["sha256"]),
        seconds=time.perf_counter() - started,
    )
    log.info("twitch ingest wrote %s", result)
    return result
