"""Presets of `livecart ingest tables`: a known source file read straight into the contract.

A :class:`Preset` says how its one source file is read into contract rows (``read``: the rows
it could read, each bad row quarantined with its line and reason) and what is derived from them
(``derive``: the tables the file lacks); everything after that is the one path every ingest takes
(:func:`ray_jobs.ingest._pipeline.finish`: quarantine accounting against
``max_quarantine_fraction``, conform, write with a ``dataset.json`` manifest).
`livecart ingest twitch` and `livecart ingest interactions` are these presets under their own
names.

Adding a preset: a module with an options model (every field defaulted), a ``read`` and a
``derive`` function (see :mod:`ray_jobs.ingest._interactions`), and one entry in
:data:`PRESETS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

from pydantic import BaseModel

from livecart.core.errors import ContractError, LivecartError
from livecart.core.settings import LivecartSettings
from ray_jobs.ingest._interactions import (
    InteractionsOptions,
    derive_interactions,
    read_interactions,
)
from ray_jobs.ingest._pipeline import Derive, Source, Written, finish
from ray_jobs.ingest._twitch import DEFAULT_TWITCH_PATH, TwitchOptions, derive_twitch, read_twitch

OptionsT = TypeVar("OptionsT", bound=BaseModel)


@dataclass(frozen=True)
class Preset(Generic[OptionsT]):
    """A source file layout `ingest tables --preset NAME` reads."""

    name: str
    """The preset's name, and the default dataset name in ``dataset.json``."""
    summary: str
    """What it reads and what it derives (one line, for help texts)."""
    options: type[OptionsT]
    """How the file is read; every field has a default."""
    read: Callable[[Path, OptionsT, LivecartSettings, bool], Source]
    """``(path, options, settings, progress)`` -> the rows read and the rows quarantined."""
    derive: Derive
    """Fills in the tables the file lacks, from the rows read."""
    quarantine_file: str
    """File name of the quarantined rows in ``<home>/quarantine``."""
    default_path: Path | None = None
    """The source file when none is given (None: a path is required)."""


TWITCH: Final = Preset(
    name="twitch",
    summary="the Twitch watch log (twitch105k.csv, SHA-256 checked): watch events; viewers, "
    "streamers and rooms (sessions) derived",
    options=TwitchOptions,
    read=read_twitch,
    derive=derive_twitch,
    quarantine_file="ingest_twitch.parquet",
    default_path=DEFAULT_TWITCH_PATH,
)
INTERACTIONS: Final = Preset(
    name="interactions",
    summary="user_id,item_id,timestamp[,event_type] CSV/Parquet or 'user item' text: events; "
    "viewers, one streamer and one always-live room per item derived",
    options=InteractionsOptions,
    read=read_interactions,
    derive=derive_interactions,
    quarantine_file="ingest_interactions.parquet",
)
PRESETS: Final[Mapping[str, Preset[Any]]] = {p.name: p for p in (TWITCH, INTERACTIONS)}


def get_preset(name: str) -> Preset[Any]:
    """The preset called ``name``; an unknown name is an error that lists the known ones."""
    found = PRESETS.get(name)
    if found is None:
        raise LivecartError(f"unknown preset {name!r}: use one of {', '.join(sorted(PRESETS))}")
    return found


def ingest_preset(
    preset: Preset[OptionsT],
    settings: LivecartSettings,
    path: Path | None = None,
    options: OptionsT | None = None,
    name: str | None = None,
    progress: bool = True,
) -> Written:
    """Read ``path`` (default: the preset's) with ``preset`` and write the raw world."""
    source_path = path or preset.default_path
    if source_path is None:
        raise ContractError(preset.name, None, "this preset needs the source file's path")
    source = preset.read(source_path, options or preset.options(), settings, progress)
    source.facts["preset"] = preset.name
    return finish(settings, source, preset.derive, preset.quarantine_file, name or preset.name)
