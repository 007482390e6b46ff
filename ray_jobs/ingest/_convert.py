"""An export file's rows as contract rows: found, renamed, value-mapped and typed.

A value that cannot be converted (a price that is not a number, a timestamp without an offset and
no zone in the mapping) quarantines its row with the file, row and reason; the rows beside it are
kept.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from livecart.core import contract as c
from ray_jobs.ingest._common import input_file
from ray_jobs.ingest._exports import ExportRows
from ray_jobs.ingest._pipeline import Quarantine
from ray_jobs.ingest.mapping import TableMapping

LIST_SEPARATOR = "|"
_OFFSET = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")


def find_export(directory: Path, table: c.Table, spec: TableMapping) -> Path | None:
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


def convert(
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
