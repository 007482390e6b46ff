"""The mapping file of `livecart ingest tables`: how a platform's exports become contract tables.

```yaml
tables:
  products:
    file: catalogue.csv              # default: products.csv / products.parquet
    columns: {sku: product_id, name: title, shop: streamer_id}   # export -> contract
    values: {category: {Beauty & Care: beauty}}                  # per column, value -> value
  events:
    file: events.parquet
    columns: {ts: event_timestamp, kind: event_type, uid: viewer_id}
    values: {event_type: {view: impression, buy: purchase}}
    timestamp_format: "%Y-%m-%d %H:%M:%S"   # strptime; default ISO-8601
    timezone: Asia/Shanghai                 # the zone of timestamps written without an offset
```

Every key is optional; an unknown key, table or column is an error naming it (a typo must not be
ignored silently).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from livecart.core.contract import SCHEMAS, Table
from livecart.core.errors import ContractError


class TableMapping(BaseModel):
    """How one export file becomes one contract table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str | None = Field(default=None, description="File name inside the directory.")
    columns: dict[str, str] = Field(default_factory=dict, description="Export -> contract name.")
    values: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Per contract column: export value -> contract value."
    )
    timestamp_format: str | None = Field(default=None, description="strptime format.")
    timezone: str | None = Field(
        default=None, description="IANA zone of timestamps that carry no offset."
    )


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tables: dict[Table, TableMapping] = Field(default_factory=dict)

    def of(self, table: Table) -> TableMapping:
        return self.tables.get(table, TableMapping())


def load_mapping(path: Path | None) -> Mapping:
    """The mapping in ``path`` (None: every table as exported, under its contract name)."""
    if path is None:
        return Mapping()
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ContractError(str(path), None, f"unreadable mapping file ({exc})") from exc
    try:
        mapping = Mapping.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ContractError(str(path), where, first["msg"]) from exc
    for table, spec in mapping.tables.items():
        known = set(SCHEMAS[table].names)
        for target in (*spec.columns.values(), *spec.values):
            if target not in known:
                raise ContractError(
                    str(path),
                    f"tables.{table.value}",
                    f"{target!r} is not a column of {table.value} (columns: {sorted(known)})",
                )
    return mapping
