"""`livecart ingest interactions`: the ``interactions`` preset of `livecart ingest tables` under
its own name.

The file (:mod:`ray_jobs.ingest._interactions`: CSV, Parquet or ``user item`` text; items become
streamers with one always-live room) is read and written through the same path as every ingest
(:mod:`ray_jobs.ingest.presets`). Bad rows never vanish and never abort the file: they are written
to ``<quarantine_dir>/ingest_interactions.parquet`` with the line number (column ``row``), raw text
(``raw``), reason and file, and the counts in :class:`InteractionsResult` add up (events +
quarantined + blank lines = rows read). A file with no valid row, or whose quarantined share
passes ``max_quarantine_fraction`` (the validation gate's setting), is refused and the home's raw
world is left as it was.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final, cast

from pydantic import BaseModel, ConfigDict, Field

from livecart.core.contract import Table
from livecart.core.settings import LivecartSettings
from ray_jobs.ingest._interactions import (
    InteractionsFormat,
    InteractionsOptions,
    resolve_format,
)
from ray_jobs.ingest._pipeline import QUARANTINE_RAW, QUARANTINE_ROW
from ray_jobs.ingest.presets import INTERACTIONS, ingest_preset

__all__ = [
    "LINE_NUMBER",
    "QUARANTINE_FILE",
    "RAW_LINE",
    "InteractionsConfig",
    "InteractionsFormat",
    "InteractionsResult",
    "resolve_format",
    "run",
]

log = logging.getLogger(__name__)

QUARANTINE_FILE: Final = INTERACTIONS.quarantine_file
LINE_NUMBER: Final = QUARANTINE_ROW
"""The quarantine column holding a bad row's line number (a Parquet file's row number)."""
RAW_LINE: Final = QUARANTINE_RAW
"""The quarantine column holding the bad line's text (a Parquet row as JSON)."""


class InteractionsConfig(BaseModel):
    """What to ingest and how; ``settings`` and ``path`` are required."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    settings: LivecartSettings = Field(description="Where to write and how to id viewers.")
    path: Path = Field(description="The interactions file.")
    format: InteractionsFormat = Field(default=InteractionsFormat.AUTO, description="File layout.")
    assume_utc: bool = Field(
        default=False, description="Read ISO timestamps without an offset as UTC (else quarantine)."
    )
    name: str = Field(default="interactions", description="Dataset name for dataset.json.")
    progress: bool = Field(default=True, description="Show tqdm bars while reading.")


@dataclass(frozen=True)
class InteractionsResult:
    """Counts of what was read and written; ``events + quarantined + blank_lines == rows_read``."""

    raw_dir: Path
    quarantine_path: Path
    rows_read: int
    events: int
    quarantined: int
    blank_lines: int
    viewers: int
    items: int
    seconds: float


def run(config: InteractionsConfig) -> InteractionsResult:
    """Read, check and map an interactions file, then replace the raw world in ``raw_dir``."""
    started = time.perf_counter()
    options = InteractionsOptions(format=config.format, assume_utc=config.assume_utc)
    written = ingest_preset(
        INTERACTIONS, config.settings, config.path, options, config.name, config.progress
    )
    rows = written.rows
    rows_read = cast(int, written.manifest["rows"])
    quarantined = written.quarantined[Table.EVENTS.value]
    result = InteractionsResult(
        raw_dir=written.raw_dir,
        quarantine_path=written.quarantine_path,
        rows_read=rows_read,
        events=rows[Table.EVENTS.value],
        quarantined=quarantined,
        blank_lines=rows_read - rows[Table.EVENTS.value] - quarantined,
        viewers=rows[Table.VIEWERS.value],
        items=rows[Table.STREAMERS.value],
        seconds=time.perf_counter() - started,
    )
    if result.quarantined:
        log.warning("%d of %d rows quarantined in %s", quarantined, rows_read, config.path)
    log.info("interactions ingest wrote %s", result)
    return result
