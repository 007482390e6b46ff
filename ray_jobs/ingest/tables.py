"""`livecart ingest tables DIR`: a platform's own exports into the livecart contract.

``DIR`` holds one CSV or Parquet file per table: ``products``, ``viewers``, ``streamers``,
``rooms``, ``room_products`` and ``events`` (only events are required); a mapping file
(:mod:`ray_jobs.ingest.mapping`) renames columns, maps values and says how timestamps are written.
What a table lacks is derived, never invented: viewers and streamers from the ids the events and
the catalogue use, one always-live room per streamer when there are no live sessions.

A file that cannot be read as its table at all (a required column missing, say) stops with the
file, column and rule. A row whose value cannot be converted (a price that is not a number, a
timestamp without an offset and no zone in the mapping) is quarantined with its file, row and
reason in ``<quarantine_dir>/ingest_tables.parquet``; the rows beside it are kept (so is a CSV
line that cannot be a row, :mod:`ray_jobs.ingest._exports`). A file with no valid row, or whose
quarantined share passes ``max_quarantine_fraction``, stops the run before anything is written.
Everything written then goes through ``livecart validate``, the same gate as every other source.

With ``--preset NAME`` the path is one source file of a known layout instead
(:mod:`ray_jobs.ingest.presets`: ``twitch``, ``interactions``); the preset reads it and derives
what it lacks, and the run ends in the same path (:func:`ray_jobs.ingest._pipeline.finish`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from livecart.core import contract as c
from livecart.core.errors import ContractError
from livecart.core.settings import LivecartSettings
from ray_jobs.ingest._convert import convert, find_export
from ray_jobs.ingest._exports import read_export
from ray_jobs.ingest._pipeline import Frame, Source, finish
from ray_jobs.ingest.mapping import load_mapping
from ray_jobs.ingest.presets import get_preset, ingest_preset

QUARANTINE_FILE: Final = "ingest_tables.parquet"
DEFAULT_NAME: Final = "tables"


class TablesConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    settings: LivecartSettings
    directory: Path | None = Field(
        default=None,
        description="The directory of export files; with a preset, its source file "
        "(None: the preset's default file).",
    )
    mapping: Path | None = Field(default=None, description="The mapping file (YAML).")
    name: str | None = Field(
        default=None, description="Dataset name for dataset.json (None: the preset's, or tables)."
    )
    preset: str | None = Field(
        default=None, description="Read one source file of a known layout (presets.PRESETS)."
    )
    preset_options: dict[str, Any] = Field(
        default_factory=dict, description="The preset's options (its ``options`` model's fields)."
    )


@dataclass
class TablesResult:
    raw_dir: Path
    quarantine_path: Path
    rows: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    derived: list[str] = field(default_factory=list)


def _mode(values: pd.Series) -> str | None:
    counts = values.dropna().value_counts()
    return str(counts.index[0]) if len(counts) else None


def derive_exports(frames: dict[c.Table, Frame], settings: LivecartSettings) -> list[str]:
    """Fill in what the exports leave out, from the ids and times they do have."""
    derived: list[str] = []
    events = frames[c.Table.EVENTS]
    if not isinstance(events, pd.DataFrame):
        raise TypeError("exports are read as pandas frames")
    exports = cast("dict[c.Table, pd.DataFrame]", frames)  # read_directory's
    if c.EVENT_ID not in events:
        events[c.EVENT_ID] = [f"ev-{i:09d}" for i in range(len(events))]
        derived.append("events.event_id (row numbers)")
    rooms = exports.get(c.Table.ROOMS)
    if c.STREAMER_ID not in events and rooms is not None and c.ROOM_ID in events:
        events[c.STREAMER_ID] = events[c.ROOM_ID].map(
            dict(zip(rooms[c.ROOM_ID], rooms[c.STREAMER_ID], strict=True))
        )
        derived.append("events.streamer_id (from rooms)")
    products = exports.get(c.Table.PRODUCTS)
    if c.Table.STREAMERS not in exports:
        ids = (
            pd.concat(
                [
                    f[c.STREAMER_ID]
                    for f in (events, products, rooms)
                    if f is not None and c.STREAMER_ID in f
                ]
            )
            .dropna()
            .unique()
        )
        category = (
            products.groupby(c.STREAMER_ID)[c.CATEGORY].agg(_mode).to_dict()
            if products is not None and c.CATEGORY in products
            else {}
        )
        exports[c.Table.STREAMERS] = pd.DataFrame(
            {
                c.STREAMER_ID: ids,
                c.DISPLAY_NAME: ids,
                c.MAIN_CATEGORY: [category.get(s) or "other" for s in ids],
            }
        )
        derived.append("streamers (ids of events and catalogue)")
    if rooms is None:
        streamers = exports[c.Table.STREAMERS]
        start = events[c.EVENT_TIMESTAMP].min() - pd.Timedelta(days=1)
        end = events[c.EVENT_TIMESTAMP].max() + pd.Timedelta(days=1)
        exports[c.Table.ROOMS] = pd.DataFrame(
            {
                c.ROOM_ID: streamers[c.STREAMER_ID] + "-live",
                c.STREAMER_ID: streamers[c.STREAMER_ID],
                c.TITLE: streamers[c.DISPLAY_NAME].astype(str) + " live",
                c.CATEGORY: streamers[c.MAIN_CATEGORY],
                c.START_TIMESTAMP: start,
                c.END_TIMESTAMP: end,
            }
        )
        own = events[c.STREAMER_ID] + "-live"
        events[c.ROOM_ID] = events[c.ROOM_ID].fillna(own) if c.ROOM_ID in events else own
        derived.append("rooms (one always-live room per streamer)")
    if c.Table.VIEWERS not in exports:
        first = events.groupby(c.VIEWER_ID)[c.EVENT_TIMESTAMP].min()
        exports[c.Table.VIEWERS] = pd.DataFrame(
            {c.VIEWER_ID: first.index, c.SIGNUP_TIMESTAMP: first.to_numpy()}
        )
        derived.append("viewers (ids of events; sign-up at the first event)")
    return derived


def _visits(events: pd.DataFrame) -> list[str]:
    """The events that are visits: entering a room where the export has those, else watches."""
    kinds = set(events[c.EVENT_TYPE].dropna()) if c.EVENT_TYPE in events else set()
    if c.EventType.ENTER_ROOM.value in kinds:
        return [c.EventType.ENTER_ROOM.value]
    return [c.EventType.WATCH.value]


def read_directory(directory: Path, mapping_path: Path | None) -> Source:
    """Every export file in ``directory``, mapped and converted; rows that fail quarantined."""
    if not directory.is_dir():
        raise ContractError(str(directory), None, "not a directory of export files")
    mapping = load_mapping(mapping_path)
    source = Source()
    read: dict[str, int] = {}
    for table in c.Table:
        spec = mapping.of(table)
        path = find_export(directory, table, spec)
        if path is None:
            continue
        export = read_export(path, table, source.quarantine)
        read[table.value] = len(export.frame) + len(source.quarantine.reasons(table))
        source.frames[table] = convert(export, table, spec, str(path), source.quarantine)
        source.origins[table] = str(path)
    events = source.frames.get(c.Table.EVENTS)
    if not isinstance(events, pd.DataFrame):
        raise ContractError(
            str(directory), None, "no events file (events.csv or events.parquet, or a mapped file)"
        )
    source.facts = {
        "source": str(directory),
        "mapping": str(mapping_path) if mapping_path else None,
        "visit_event_types": _visits(events),
        "rows_read": read,
    }
    return source


def run(config: TablesConfig) -> TablesResult:
    """Read (the export directory, or the preset's file), quarantine the rows that fail, derive,
    conform and write the raw world."""
    if config.preset is not None:
        preset = get_preset(config.preset)
        if config.mapping is not None:
            raise ContractError(
                str(config.mapping),
                None,
                f"a mapping is for export directories, not --preset {preset.name}",
            )
        options = preset.options.model_validate(config.preset_options)
        written = ingest_preset(preset, config.settings, config.directory, options, config.name)
    else:
        if config.directory is None:
            raise ContractError(
                "ingest tables", None, "give the directory of export files (or a preset)"
            )
        source = read_directory(config.directory, config.mapping)
        written = finish(
            config.settings, source, derive_exports, QUARANTINE_FILE, config.name or DEFAULT_NAME
        )
    return TablesResult(
        written.raw_dir,
        written.quarantine_path,
        written.rows,
        written.quarantined,
        written.derived,
    )
