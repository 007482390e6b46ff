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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from livecart.core import contract as c
from livecart.core.conform import conform
from livecart.core.errors import ContractError
from livecart.core.io import write_parquet_atomic
from livecart.core.settings import LivecartSettings
from ray_jobs.ingest._common import check_rows, input_file, write_world
from ray_jobs.ingest._exports import ExportRows, Quarantine, read_export
from ray_jobs.ingest.mapping import TableMapping, load_mapping

QUARANTINE_FILE = "ingest_tables.parquet"
LIST_SEPARATOR = "|"
_OFFSET = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")


class TablesConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    settings: LivecartSettings
    directory: Path = Field(description="The directory of export files.")
    mapping: Path | None = Field(default=None, description="The mapping file (YAML).")
    name: str = Field(default="tables", description="Dataset name for dataset.json.")


@dataclass
class TablesResult:
    raw_dir: Path
    quarantine_path: Path
    rows: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    derived: list[str] = field(default_factory=list)


def _find(directory: Path, table: c.Table, spec: TableMapping) -> Path | None:
    if spec.file is not None:
        return input_file(directory / spec.file, f"{table.value} file the mapping names")
    for suffix in (".csv", ".parquet"):
        path = directory / f"{table.value}{suffix}"
        if path.exists():
            return input_file(path, f"{table.value} export")
    return None


def _timestamps(values: pd.Series, spec: TableMapping) -> tuple[pd.Series, pd.Series]:
    """UTC timestamps, and a reason per row where a value could not be read (else None)."""
    reasons = pd.Series([None] * len(values), index=values.index, dtype=object)
    if pd.api.types.is_datetime64_any_dtype(values):
        if values.dt.tz is None:
            if spec.timezone is None:
                reasons[values.notna()] = (
                    "naive timestamp (no UTC offset); set timezone in the mapping"
                )
                return pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]"), reasons
            values = values.dt.tz_localize(spec.timezone)
        return values.dt.tz_convert("UTC"), reasons
    text = values.astype("string")
    naive = text.notna() & ~text.str.contains(_OFFSET, na=False)
    if spec.timestamp_format is None:
        parsed = pd.to_datetime(text.where(~naive), format="ISO8601", utc=True, errors="coerce")
        local = pd.to_datetime(text.where(naive), format="ISO8601", errors="coerce")
    else:
        parsed = pd.to_datetime(
            text.where(~naive), format=spec.timestamp_format, utc=True, errors="coerce"
        )
        local = pd.to_datetime(text.where(naive), format=spec.timestamp_format, errors="coerce")
    if spec.timezone is not None and naive.any():
        localized = local.dt.tz_localize(spec.timezone, nonexistent="NaT", ambiguous="NaT")
        parsed = parsed.where(~naive, localized.dt.tz_convert("UTC"))
    elif naive.any():
        reasons[naive] = "naive timestamp (no UTC offset); set timezone in the mapping"
    bad = text.notna() & parsed.isna() & reasons.isna()
    reasons[bad] = f"not a timestamp in format {spec.timestamp_format or 'ISO-8601'}"
    return parsed, reasons


def _convert(
    export: ExportRows, table: c.Table, spec: TableMapping, origin: str, quarantine: Quarantine
) -> pd.DataFrame:
    """Renamed, value-mapped and typed rows; the rows that fail a conversion quarantined."""
    frame = export.frame
    raw = frame.copy()
    frame = frame.rename(columns=spec.columns)
    reasons = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for column, table_map in spec.values.items():
        if column in frame:
            frame[column] = frame[column].map(
                lambda v, m=table_map: m.get(v, v) if isinstance(v, str) else v
            )
    for target in c.SCHEMAS[table]:
        if target.name not in frame:
            continue
        values = frame[target.name]
        if pa.types.is_timestamp(target.type):
            frame[target.name], why = _timestamps(values, spec)
            why = why.map(lambda r, n=target.name: f"{n}: {r}" if r else None)
        elif pa.types.is_floating(target.type) or pa.types.is_integer(target.type):
            numbers = pd.to_numeric(values, errors="coerce")
            bad = values.notna() & numbers.isna()
            if pa.types.is_integer(target.type):
                bad |= numbers.notna() & (numbers != np.floor(numbers))
            why = pd.Series(None, index=frame.index, dtype=object)
            why[bad.to_numpy()] = f"{target.name}: not a number"
            frame[target.name] = numbers
        elif pa.types.is_list(target.type):
            frame[target.name] = values.map(
                lambda v: v if not isinstance(v, str) else [p for p in v.split(LIST_SEPARATOR) if p]
            )
            continue
        else:
            frame[target.name] = values.map(lambda v: v if v is None or pd.isna(v) else str(v))
            continue
        reasons = reasons.where(reasons.notna(), why)
    failed = reasons.notna().to_numpy()
    for i in np.flatnonzero(failed):
        values = {str(k): v for k, v in raw.iloc[i].to_dict().items()}
        quarantine.add(table, origin, int(export.rows[i]), str(reasons.iloc[i]), values)
    return frame.loc[~failed].reset_index(drop=True)


def _table(frame: pd.DataFrame, table: c.Table, origin: str) -> pa.Table:
    columns = [n for n in c.SCHEMAS[table].names if n in frame]
    data = pa.Table.from_pandas(frame[columns], preserve_index=False)
    return conform(data, table, origin)


def _mode(values: pd.Series) -> str | None:
    counts = values.dropna().value_counts()
    return str(counts.index[0]) if len(counts) else None


def _derive(frames: dict[c.Table, pd.DataFrame], derived: list[str]) -> None:
    """Fill in what the exports leave out, from the ids and times they do have."""
    events = frames[c.Table.EVENTS]
    if c.EVENT_ID not in events:
        events[c.EVENT_ID] = [f"ev-{i:09d}" for i in range(len(events))]
        derived.append("events.event_id (row numbers)")
    rooms = frames.get(c.Table.ROOMS)
    if c.STREAMER_ID not in events and rooms is not None and c.ROOM_ID in events:
        events[c.STREAMER_ID] = events[c.ROOM_ID].map(
            dict(zip(rooms[c.ROOM_ID], rooms[c.STREAMER_ID], strict=True))
        )
        derived.append("events.streamer_id (from rooms)")
    products = frames.get(c.Table.PRODUCTS)
    if c.Table.STREAMERS not in frames:
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
        frames[c.Table.STREAMERS] = pd.DataFrame(
            {
                c.STREAMER_ID: ids,
                c.DISPLAY_NAME: ids,
                c.MAIN_CATEGORY: [category.get(s) or "other" for s in ids],
            }
        )
        derived.append("streamers (ids of events and catalogue)")
    if rooms is None:
        streamers = frames[c.Table.STREAMERS]
        start = events[c.EVENT_TIMESTAMP].min() - pd.Timedelta(days=1)
        end = events[c.EVENT_TIMESTAMP].max() + pd.Timedelta(days=1)
        frames[c.Table.ROOMS] = pd.DataFrame(
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
    if c.Table.VIEWERS not in frames:
        first = events.groupby(c.VIEWER_ID)[c.EVENT_TIMESTAMP].min()
        frames[c.Table.VIEWERS] = pd.DataFrame(
            {c.VIEWER_ID: first.index, c.SIGNUP_TIMESTAMP: first.to_numpy()}
        )
        derived.append("viewers (ids of events; sign-up at the first event)")


def run(config: TablesConfig) -> TablesResult:
    """Read, map, convert (quarantining rows that fail), derive, write the raw world."""
    settings, directory = config.settings, config.directory
    if not directory.is_dir():
        raise ContractError(str(directory), None, "not a directory of export files")
    mapping = load_mapping(config.mapping)
    quarantine = Quarantine()
    frames: dict[c.Table, pd.DataFrame] = {}
    origins: dict[c.Table, str] = {}
    read: dict[str, int] = {}
    for table in c.Table:
        spec = mapping.of(table)
        path = _find(directory, table, spec)
        if path is None:
            continue
        export = read_export(path, table, quarantine)
        read[table.value] = len(export.frame) + len(quarantine.reasons(table))
        frames[table] = _convert(export, table, spec, str(path), quarantine)
        origins[table] = str(path)
    if c.Table.EVENTS not in frames:
        raise ContractError(
            str(directory), None, "no events file (events.csv or events.parquet, or a mapped file)"
        )
    result = TablesResult(settings.raw_dir, settings.quarantine_dir / QUARANTINE_FILE)
    quarantined = pd.DataFrame(
        quarantine.rows, columns=["table", "file", "row", c.QUARANTINE_REASON, "raw"]
    )
    write_parquet_atomic(
        pa.Table.from_pandas(quarantined, preserve_index=False), result.quarantine_path
    )
    for table, frame in frames.items():  # before anything is written: the world stays
        reasons = quarantine.reasons(table)
        limit = settings.max_quarantine_fraction
        check_rows(
            origins[table], len(frame), reasons, limit, result.quarantine_path, result.raw_dir
        )
    _derive(frames, result.derived)
    tables = {t: _table(f, t, origins.get(t, f"derived {t.value}")) for t, f in frames.items()}
    kinds = set(tables[c.Table.EVENTS].column(c.EVENT_TYPE).to_pylist())
    visits = (
        [c.EventType.ENTER_ROOM.value]
        if c.EventType.ENTER_ROOM.value in kinds
        else [c.EventType.WATCH.value]
    )
    write_world(
        settings.raw_dir,
        tables,
        {
            "name": config.name,
            "source": str(directory),
            "mapping": str(config.mapping) if config.mapping else None,
            "visit_event_types": visits,
            "rows_read": read,
            "derived": result.derived,
        },
    )
    result.rows = {t.value: d.num_rows for t, d in tables.items()}
    result.quarantined = {t: int((quarantined["table"] == t).sum()) for t in read}
    return result
