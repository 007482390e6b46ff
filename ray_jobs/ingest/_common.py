"""What every real-data adapter shares: file hashing, viewer pseudonyms and writing a raw world.

A raw directory holds exactly one world. Adapters therefore clear the previous event parts and
remove catalog tables they do not produce (a real log has no products), so a later stage never
joins Twitch events with products left behind by a synthetic run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

import pyarrow as pa

from livecart.core.contract import SCHEMAS, Table
from livecart.core.io import clear_events, table_path, write_source
from livecart.core.privacy import pseudonymize_many
from livecart.core.settings import LivecartSettings

DATASET_MANIFEST: Final = "dataset.json"
EVENTS_PER_PART: Final = 1_000_000
_HASH_CHUNK: Final = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks so large logs hash in bounded memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def viewer_ids(external_ids: Iterable[str], settings: LivecartSettings) -> pa.Array:
    """Contract viewer ids: the prefixed external id, or its salted pseudonym when configured.

    The prefixed id (``tw-u7``) is what gets hashed, so the same number coming from two sources
    never collides into one viewer.
    """
    if settings.hash_viewer_ids:
        return pseudonymize_many(external_ids, settings.id_salt.get_secret_value())
    return pa.array(list(external_ids), type=pa.string())


def to_contract(data: pa.Table, table: Table) -> pa.Table:
    """``data`` in the contract's column order, with columns a source cannot fill added as nulls."""
    schema = SCHEMAS[table]
    columns = [
        data.column(f.name) if f.name in data.column_names else pa.nulls(data.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def write_world(
    raw_dir: Path, tables: Mapping[Table, pa.Table], manifest: Mapping[str, object]
) -> None:
    """Replace the raw world in ``raw_dir`` with ``tables`` and a ``dataset.json`` manifest.

    Tables are cast to the contract schema (a wrong type fails here, not in a later stage);
    events are written in parts of :data:`EVENTS_PER_PART` rows.
    """
    raw_dir.mkdir(parents=True, exist_ok=True)
    clear_events(raw_dir)
    for table in Table:
        if table is not Table.EVENTS and table not in tables:
            table_path(raw_dir, table).unlink(missing_ok=True)
    for table, data in tables.items():
        data = data.cast(SCHEMAS[table])
        if table is not Table.EVENTS:
            write_source(raw_dir, table, data)
            continue
        for number, start in enumerate(range(0, max(data.num_rows, 1), EVENTS_PER_PART)):
            write_source(raw_dir, table, data.slice(start, EVENTS_PER_PART), part=f"{number:05d}")
    text = json.dumps(dict(manifest), indent=2, sort_keys=True) + "\n"
    tmp = raw_dir / f".{DATASET_MANIFEST}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, raw_dir / DATASET_MANIFEST)
