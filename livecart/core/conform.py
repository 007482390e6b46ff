"""File-level contract checks: columns present, types castable, timestamps time-zone aware.

Row-level problems (nulls, ranges, references, duplicates) are the validation gate's job; this
module only decides whether a file can be read as a contract table at all, and says precisely why
not (file, column, rule) when it cannot. Columns outside the contract are dropped, which is also
how free-form personal data (names, contacts, addresses) is kept out of the store.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from livecart.core.contract import REQUIRED_COLUMNS, SCHEMAS, Table
from livecart.core.errors import ContractError


def _cast_timestamp(
    column: pa.ChunkedArray, origin: str, name: str, assume_utc: bool
) -> pa.ChunkedArray:
    target = pa.timestamp("us", tz="UTC")
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            if not assume_utc:
                raise ContractError(
                    origin,
                    name,
                    "naive timestamps (no time zone); write UTC-aware timestamps or pass assume_utc",
                )
            return pc.assume_timezone(column, "UTC").cast(target)
        return column.cast(target)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        try:
            parsed = pc.strptime(column, format="%Y-%m-%dT%H:%M:%S%z", unit="us")
        except pa.ArrowInvalid as exc:
            raise ContractError(
                origin, name, f"timestamps must be ISO-8601 with a UTC offset ({exc})"
            ) from exc
        return parsed.cast(target)
    raise ContractError(origin, name, f"expected a UTC timestamp, found {column.type}")


def conform(data: pa.Table, table: Table, origin: str, assume_utc: bool = False) -> pa.Table:
    """Return ``data`` with exactly the contract's columns and types, or raise ContractError."""
    schema = SCHEMAS[table]
    missing = [c for c in REQUIRED_COLUMNS[table] if c not in data.column_names]
    if missing:
        raise ContractError(origin, missing[0], f"missing required column (all missing: {missing})")
    columns: list[pa.ChunkedArray] = []
    for field in schema:
        if field.name not in data.column_names:
            columns.append(pa.chunked_array([pa.nulls(data.num_rows, field.type)], field.type))
            continue
        column = data.column(field.name)
        if pa.types.is_timestamp(field.type):
            columns.append(_cast_timestamp(column, origin, field.name, assume_utc))
            continue
        if column.type == field.type:
            columns.append(column)
            continue
        try:
            columns.append(column.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ContractError(
                origin, field.name, f"expected type {field.type}, found {column.type} ({exc})"
            ) from exc
    return pa.Table.from_arrays(columns, schema=schema)
