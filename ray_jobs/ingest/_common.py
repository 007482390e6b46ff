"""What every real-data adapter shares: file hashing, viewer pseudonyms and writing a raw world.

A raw directory holds exactly one world. Adapters therefore clear the previous event parts and
remove catalog tables they do not produce (a real log has no products), so a later stage never
joins Twitch events with products left behind by a synthetic run.

An ingest never wipes a world it does not replace: a batch with no valid rows, or with a larger
quarantined share than the gate's ``max_quarantine_fraction``, is refused before anything is
written (:func:`check_rows`), and the new world is written into a staging directory first and
moved into place only once every table is written (:func:`write_world`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final

import pyarrow as pa

from livecart.core.contract import SCHEMAS, Table
from livecart.core.errors import ContractError, GateBlocked
from livecart.core.io import clear_events, event_parts, table_path, write_source
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


def input_file(path: Path, what: str = "file", hint: str = "") -> Path:
    """``path`` when it is a file; else a ContractError naming it (a directory, or missing)."""
    if path.is_dir():
        raise ContractError(str(path), None, f"a directory, not a file: give the {what} itself")
    if not path.is_file():
        raise ContractError(str(path), None, f"{what} not found{hint}")
    return path


def check_rows(
    origin: str,
    good: int,
    reasons: Sequence[str],
    max_fraction: float,
    quarantine_path: Path,
    raw_dir: Path,
) -> None:
    """Refuse a batch of ``good`` valid rows and ``reasons`` (one per quarantined row) when its
    quarantined share passes ``max_fraction`` (GateBlocked) or no row is valid (ContractError),
    before anything is written: the raw world in ``raw_dir`` is then left as it was."""
    bad = len(reasons)
    total = good + bad
    kept = f"nothing was ingested; the raw world in {raw_dir} is unchanged"
    if total and bad / total > max_fraction:
        top = ", ".join(f"{why!r} ({n} rows)" for why, n in Counter(reasons).most_common(3))
        raise GateBlocked(
            f"{origin}: {bad} of {total} rows quarantined ({bad / total:.1%}), above "
            f"max_quarantine_fraction {max_fraction:.1%}; {kept}. Top failing rules: {top}. "
            f"Quarantined rows with reasons: {quarantine_path}"
        )
    if good == 0:
        raise ContractError(origin, None, f"no valid rows ({bad} quarantined); {kept}")


def write_world(
    raw_dir: Path, tables: Mapping[Table, pa.Table], manifest: Mapping[str, object]
) -> None:
    """Replace the raw world in ``raw_dir`` with ``tables`` and a ``dataset.json`` manifest.

    Tables are cast to the contract schema (a wrong type fails here, not in a later stage);
    events are written in parts of :data:`EVENTS_PER_PART` rows. Everything is written into a
    staging directory first; only when all of it is written is the previous world replaced (by
    renames, the manifest last), so a failure while writing (a cast, a full disk) leaves the
    previous world as it was; a crash in the middle of the renames can leave a mix. A world
    without events is refused.
    """
    events = tables.get(Table.EVENTS)
    if events is None or events.num_rows == 0:
        origin = str(manifest.get("source", raw_dir))
        raise ContractError(
            origin, None, f"no events to write; the raw world in {raw_dir} is unchanged"
        )
    raw_dir.mkdir(parents=True, exist_ok=True)
    staging = raw_dir / f".staging-{uuid.uuid4().hex}"
    try:
        _write_tables(staging, tables, manifest)
        _swap_in(staging, raw_dir, tables)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_tables(
    directory: Path, tables: Mapping[Table, pa.Table], manifest: Mapping[str, object]
) -> None:
    directory.mkdir()
    for table, data in tables.items():
        data = data.cast(SCHEMAS[table])
        if table is not Table.EVENTS:
            write_source(directory, table, data)
            continue
        for number, start in enumerate(range(0, max(data.num_rows, 1), EVENTS_PER_PART)):
            write_source(directory, table, data.slice(start, EVENTS_PER_PART), part=f"{number:05d}")
    text = json.dumps(dict(manifest), indent=2, sort_keys=True) + "\n"
    (directory / DATASET_MANIFEST).write_text(text, encoding="utf-8")


def _swap_in(staging: Path, raw_dir: Path, tables: Mapping[Table, pa.Table]) -> None:
    """Move the staged world into ``raw_dir`` (renames only), the manifest last."""
    for table in Table:
        if table is Table.EVENTS:
            continue
        if table in tables:
            os.replace(table_path(staging, table), table_path(raw_dir, table))
        else:
            table_path(raw_dir, table).unlink(missing_ok=True)
    clear_events(raw_dir)
    events_dir = table_path(raw_dir, Table.EVENTS)
    events_dir.mkdir(exist_ok=True)
    for part in event_parts(staging):
        os.replace(part, events_dir / part.name)
    os.replace(staging / DATASET_MANIFEST, raw_dir / DATASET_MANIFEST)
