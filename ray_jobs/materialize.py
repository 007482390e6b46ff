"""`livecart materialize`: offline feature tables -> the DuckDB online store, as a Ray job.

Each feature view is read in its own Ray task (DuckDB picks the latest row per entity inside the
window straight from the Parquet source, Arrow out, no per-value protos), which writes its rows to
a staging file under the home and returns only the file's path and row count. The driver then
writes every view through the store's single writer (DuckDB: one read-write process) in ONE
commit, reading each staged file only when the writer gets to that view, so it holds one view's
rows at a time, never all of them; the staging files are removed afterwards. Feast's
materialization intervals are recorded only after the commit. So a ``kill -9`` at any moment
leaves the previous complete state or the new one (a killed run's staging directory is swept by a
later job, see :mod:`livecart.core.staging`), and a rerun (incremental by default, idempotent)
completes the work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ray
import ray.exceptions
from feast import FeatureStore, FeatureView
from feast.infra.offline_stores.file_source import FileSource
from tqdm import tqdm

from livecart.core.errors import StageError
from livecart.core.ray_runtime import ensure_ray
from livecart.core.settings import LivecartSettings
from livecart.core.staging import staging_dir
from livecart.features.feast_store import check_registry_home, feature_store
from livecart.online.access import store_directory, table_name, write_staged
from livecart.online.codec import is_opaque, key_columns, view_schema
from livecart.online.files import ViewEntry, read_manifest
from livecart.online.store import STORE_TYPE
from ray_jobs.online_rows import stage_latest_rows

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class MaterializeResult:
    start: dict[str, datetime]
    end: datetime
    rows: dict[str, int]
    seconds: float
    version: int | None  # the online store's commit; None on a store other than livecart's


def _window_start(
    view: FeatureView, end: datetime, start: datetime | None, stored: bool = True
) -> datetime:
    """Feast's materialize-incremental rule: from the last end, else end - ttl, else the epoch;
    for a view the store does not hold (``stored`` false), as if Feast had recorded no run."""
    if start is not None:
        return start
    if stored and view.most_recent_end_time is not None:
        last = view.most_recent_end_time
        return last if last.tzinfo else last.replace(tzinfo=UTC)
    if view.ttl and view.ttl > timedelta(0):
        return end - view.ttl
    return EPOCH


def _holds(entry: ViewEntry | None) -> bool:
    return entry is not None and (entry.base is not None or bool(entry.deltas))


def _task_args(view: FeatureView, start: datetime, end: datetime) -> tuple[Any, ...]:
    source = view.batch_source
    if not isinstance(source, FileSource):
        raise StageError(
            "materialize", f"view {view.name} has a non-file batch source", "use FileSource"
        )
    features = [f.name for f in view.features]
    return (
        source.path,
        key_columns(view),
        features,
        source.timestamp_field,
        source.created_timestamp_column or None,
        start,
        end,
        view_schema(view),
        [f.name for f in view.features if is_opaque(f)],
    )


def _stage_views(
    settings: LivecartSettings,
    views: list[FeatureView],
    starts: dict[str, datetime],
    end: datetime,
    staging: Path,
    use_ray: bool,
) -> dict[str, tuple[str, int]]:
    """Each view's latest rows written to ``staging/<n>.parquet`` (in Ray tasks, or here when
    ``use_ray`` is off): view name -> (path, row count). An unreadable source is a StageError
    naming it, before anything is committed."""
    staged: dict[str, tuple[str, int]] = {}
    outs = {v.name: str(staging / f"{i:04d}.parquet") for i, v in enumerate(views)}
    bar = tqdm(total=len(views), desc="materializing views", unit="view", leave=False)
    try:
        if use_ray:
            ensure_ray(settings)
            task = ray.remote(num_cpus=0.5)(stage_latest_rows)
            pending = {
                task.remote(outs[v.name], *_task_args(v, starts[v.name], end)): v.name
                for v in views
            }
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                staged[pending.pop(done[0])] = ray.get(done[0])
                bar.update(1)
        else:
            for v in views:
                staged[v.name] = stage_latest_rows(
                    outs[v.name], *_task_args(v, starts[v.name], end)
                )
                bar.update(1)
    except (duckdb.Error, ray.exceptions.RayTaskError) as error:
        # A source that cannot be read (truncated or corrupt Parquet): name it, change nothing.
        cause = getattr(error, "cause", None) or error
        raise StageError(
            "materialize",
            f"could not read an offline source: {type(cause).__name__}: {str(cause).splitlines()[0]}",
            "rerun `livecart features` (and `livecart embed`) to rewrite the feature tables",
        ) from error
    finally:
        bar.close()
    return staged


def run(
    settings: LivecartSettings,
    start: datetime | None = None,
    end: datetime | None = None,
    store: FeatureStore | None = None,
    use_ray: bool = True,
    repair: bool = False,
) -> MaterializeResult:
    """Materialize every online feature view (incrementally unless ``start`` is given) into
    livecart's DuckDB store; :func:`materialize` picks this or Feast's own for the home's store.

    A view the store holds no rows of is read in full (its files were lost, or the store is new
    while Feast's registry remembers an earlier run). ``repair`` reads every view in full and
    commits them as the whole store, without reading its manifest: the way back from a
    :class:`~livecart.online.files.StoreCorrupted` store."""
    if store is None:  # the home's own repo: its sources must point into this home
        store = feature_store(settings)
        check_registry_home(settings, store)
    if store.config.online_store.type != STORE_TYPE:
        raise StageError(
            "materialize",
            "the online store is not livecart's DuckDB store",
            "use `feast materialize` for other stores, or set its type in feature_store.yaml",
        )
    if repair and start is not None:
        raise StageError(
            "materialize",
            "--repair rebuilds every view from all of its offline rows; a start would drop older ones",
            "run `livecart materialize --repair` without --start",
        )
    end = end or datetime.now(UTC)
    views = [v for v in store.list_feature_views() if v.online]
    if repair:
        starts = {v.name: _window_start(v, end, start, stored=False) for v in views}
    else:  # a corrupted store stops here, before any work, naming the file and the fix
        held = read_manifest(store_directory(store.config)).views
        starts = {
            v.name: _window_start(v, end, start, _holds(held.get(table_name(store.config, v))))
            for v in views
        }
    began = time.perf_counter()
    with staging_dir(settings.home, "materialize") as staging:
        staged = _stage_views(settings, views, starts, end, staging, use_ray)
        files = [(v, Path(staged[v.name][0])) for v in views]  # in the views' own order
        version = write_staged(store.config, files, rebuild=repair)
    for v in views:  # recorded only after the commit: a crash before here means "redo"
        store.registry.apply_materialization(v, store.project, starts[v.name], end, commit=False)
    store.registry.commit()  # type: ignore[no-untyped-call]
    return MaterializeResult(
        starts,
        end,
        {n: count for n, (_, count) in staged.items()},
        round(time.perf_counter() - began, 3),
        version,
    )


def materialize(
    settings: LivecartSettings,
    start: datetime | None = None,
    use_ray: bool = True,
    repair: bool = False,
) -> MaterializeResult:
    """Load feature values into the home's online store up to now.

    On livecart's DuckDB store this is :func:`run` (Ray tasks, one atomic commit); on any other
    store, Feast's own materialize. Without ``start`` it is incremental (each view from where it
    stopped, or from now minus its TTL); with ``start`` a full window up to now. Every caller
    (CLI, demo, refresh, encoder fine-tuning) goes through here, so none skips the store check.
    ``repair`` rebuilds every view from the offline store (on another store: every view's full
    window, through Feast).
    """
    end = datetime.now(UTC)
    store = feature_store(settings)
    check_registry_home(settings, store)
    if store.config.online_store.type == STORE_TYPE:
        return run(settings, start=start, end=end, store=store, use_ray=use_ray, repair=repair)
    began = time.perf_counter()
    views = [v for v in store.list_feature_views() if v.online]
    starts = {v.name: _window_start(v, end, start, stored=not repair) for v in views}
    if repair:
        for view in views:
            store.materialize(start_date=starts[view.name], end_date=end, feature_views=[view.name])
    elif start is None:
        store.materialize_incremental(end_date=end)
    else:
        store.materialize(start_date=start, end_date=end)
    return MaterializeResult(starts, end, {}, round(time.perf_counter() - began, 3), None)
