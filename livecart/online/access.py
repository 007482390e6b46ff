"""A Feast repo's view of livecart's store: where it lives, the per-process read cache, the
writer, Arrow writes with their column checks, and which rows expiry hides."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from feast import FeatureView, RepoConfig
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

from livecart.core.errors import LivecartError
from livecart.online.bookkeeping import CREATED_TS, EVENT_TS
from livecart.online.cache import ReadCache
from livecart.online.codec import (
    cast_stored,
    encode_opaque,
    is_opaque,
    key_columns,
    schema_signature,
    view_schema,
)
from livecart.online.expiry import cutoff_us
from livecart.online.state import ViewState
from livecart.online.writer import SnapshotWriter, ViewWrite

# One read cache per store directory per process (readers share nothing across processes).
_CACHES: dict[Path, ReadCache] = {}


class UnknownColumns(LivecartError, ValueError):
    """A write names columns the view does not have (or lacks ones it needs)."""


def store_directory(config: RepoConfig) -> Path:
    online = config.online_store
    path = Path(online.path)
    if not path.is_absolute() and config.repo_path is not None:
        path = Path(config.repo_path) / path
    return path


def table_name(config: RepoConfig, view: FeatureView) -> str:
    return f"{config.project}__{view.name}"


def read_cache(config: RepoConfig) -> ReadCache:
    directory = store_directory(config)
    cache = _CACHES.get(directory)
    if cache is None:
        cache = _CACHES[directory] = ReadCache(directory)
    return cache


def forget_cache(config: RepoConfig) -> None:
    """Drop this process's read cache of the store (after a teardown)."""
    _CACHES.pop(store_directory(config), None)


def writer(config: RepoConfig) -> SnapshotWriter:
    online = config.online_store
    return SnapshotWriter(
        store_directory(config),
        compact_after_deltas=online.compact_after_deltas,
        compact_after_rows=online.compact_after_rows,
        background=online.compact_in_background,
    )


def write_arrow(
    config: RepoConfig,
    views: Sequence[tuple[FeatureView, pa.Table]],
    compact: bool = True,
    rebuild: bool = False,
) -> int:
    """Bulk-write Arrow rows (keys, features, ``__event_ts``, ``__created_ts``, in any order)
    in one commit. Opaque features (Map, Json, ...) hold Python values as an offline store reads
    them; they are stored as serialized ValueProtos (``codec.encode_opaque``). ``rebuild``:
    these views, in full, become the whole store (see ``SnapshotWriter.write``)."""
    return commit_rows(
        config,
        [(view, encode_opaque(view, _view_columns(view, rows))) for view, rows in views],
        compact,
        rebuild,
    )


def write_staged(
    config: RepoConfig,
    views: Sequence[tuple[FeatureView, Path]],
    compact: bool = True,
    rebuild: bool = False,
) -> int:
    """:func:`write_arrow` of rows staged as Parquet files (one per view, Arrow types kept), in
    one commit; each file is read only when the writer gets to its view, so the writing process
    holds one view's rows at a time."""

    def loader(view: FeatureView, path: Path) -> Callable[[], pa.Table]:
        return lambda: encode_opaque(view, _view_columns(view, pq.read_table(path)))

    return commit_rows(
        config, [(view, loader(view, path)) for view, path in views], compact, rebuild
    )


def push_rows(view: FeatureView, rows: pa.Table) -> pa.Table:
    """Rows in the layout of ``view``'s source (keys, features, its timestamp and created
    columns, any others ignored) as :func:`write_arrow` takes them: typed like the stored table,
    timestamps renamed, as Feast's own ``write_to_online_store`` reads a pushed frame."""
    source = view.batch_source
    if source is None:
        raise UnknownColumns(f"view {view.name!r} has no batch source to name its timestamps")
    created = source.created_timestamp_column or source.timestamp_field
    schema = view_schema(view)
    needed = [*schema.names[:-2], source.timestamp_field, created]
    missing = [n for n in needed if n not in rows.column_names]
    if missing:
        raise UnknownColumns(f"rows pushed to view {view.name!r} lack columns {missing}")
    stored = rows.select(schema.names[:-2]).append_column(
        EVENT_TS, rows.column(source.timestamp_field)
    )
    stored = stored.append_column(CREATED_TS, rows.column(created))
    return cast_stored(stored, schema, [f.name for f in view.features if is_opaque(f)])


def _view_columns(view: FeatureView, rows: pa.Table) -> pa.Table:
    """``rows``' columns in the stored order; a missing or unknown column is a clear error."""
    names = view_schema(view).names
    missing = [n for n in names if n not in rows.column_names]
    unknown = [n for n in rows.column_names if n not in names]
    if missing or unknown:
        raise UnknownColumns(
            f"rows for view {view.name!r}: "
            + (f"missing columns {missing}" if missing else "")
            + ("; " if missing and unknown else "")
            + (f"columns {unknown} are not keys or features of the view" if unknown else "")
            + f" (expected {names})"
        )
    return rows.select(names)


def commit_rows(
    config: RepoConfig,
    views: Sequence[tuple[FeatureView, pa.Table | Callable[[], pa.Table]]],
    compact: bool,
    rebuild: bool = False,
) -> int:
    """Commit rows already in the stored layout (opaque features serialized) in one commit;
    rows may be given as a function that loads them (see ``ViewWrite``)."""
    changes = {
        table_name(config, view): ViewWrite(
            rows, view_schema(view), key_columns(view), schema_signature(view)
        )
        for view, rows in views
    }
    return writer(config).write(changes, compact=compact, rebuild=rebuild)


def live_positions(
    state: ViewState, positions: list[int | None], config: RepoConfig, view: FeatureView
) -> list[int | None]:
    """Rows the store's expiry settings hide (expiry.py) become None."""
    cutoff = cutoff_us(config.online_store, view)
    if cutoff is None:
        return positions
    return [p if p is not None and state.event_us[p] >= cutoff else None for p in positions]


def check_names(
    view: FeatureView,
    data: Sequence[tuple[EntityKeyProto, dict[str, ValueProto], datetime, datetime | None]],
) -> None:
    """Feature values named like nothing in the view are an error, not silently dropped (Feast
    sends a view's features, and an on-demand view's schema fields, which include its keys)."""
    names: set[str] = set()
    for _, values, _, _ in data:
        names.update(values)
    known = {f.name for f in view.features} | {c.name for c in view.entity_columns}
    unknown = sorted(names - known)
    if unknown:
        raise UnknownColumns(
            f"write to view {view.name!r}: {unknown} are not features of the view "
            f"(features: {sorted(f.name for f in view.features)})"
        )
