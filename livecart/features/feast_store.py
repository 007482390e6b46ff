"""Feast operations on livecart's repo: apply, open the store, retrieve training features.

Materialization is a job: :func:`ray_jobs.materialize.materialize` (any online store).

These run Feast's own code paths (the same ones as ``feast apply``), with ``LIVECART_HOME``
exported so ``feature_store.yaml`` and the definitions resolve to the settings' data directory.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
from feast import FeatureService, FeatureStore
from feast.errors import FeatureViewNotFoundException
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.repo_config import load_repo_config
from feast.repo_operations import apply_total, cli_check_repo
from tqdm import tqdm

from livecart.core.errors import StageError
from livecart.core.settings import LivecartSettings

FEATURE_STORE_YAML = "feature_store.yaml"


@contextmanager
def _in_directory(path: Path) -> Iterator[None]:
    """Feast's apply changes the working directory; give it back afterwards."""
    before = Path.cwd()
    try:
        yield
    finally:
        os.chdir(before)


def _forget_definitions() -> None:
    """Drop imported definitions so Feast re-imports them for the current LIVECART_HOME.

    FileSource paths are bound at import; a process that applies for two homes (tests, a
    long-lived driver) must not reuse the first home's objects.
    """
    for name in list(sys.modules):
        if name == "repo" or name.startswith("feature_repo.definitions"):
            del sys.modules[name]


def apply(settings: LivecartSettings) -> None:
    """Register livecart's entities, views and services (``feast apply``) and create stores."""
    settings.export_env()
    settings.feast_dir.mkdir(parents=True, exist_ok=True)
    repo = settings.feature_repo
    yaml_path = repo / FEATURE_STORE_YAML
    cli_check_repo(repo, yaml_path)  # what `feast apply` does first: repo on sys.path
    config = load_repo_config(repo, yaml_path)
    _forget_definitions()
    with _in_directory(repo):
        apply_total(config, repo, skip_source_validation=False)


def feature_store(settings: LivecartSettings) -> FeatureStore:
    """The Feast store of this livecart home (apply first)."""
    settings.export_env()
    if not (settings.feast_dir / "registry.db").exists():
        raise StageError(
            "feast", f"no Feast registry under {settings.feast_dir}", "run `livecart apply`"
        )
    return FeatureStore(repo_path=str(settings.feature_repo))


def check_registry_home(settings: LivecartSettings, store: FeatureStore) -> None:
    """Fail when the registry's file sources point into another home (a copied or moved data
    directory): Feast stores source paths as applied, so reads would silently use the old files."""
    for view in store.list_feature_views(allow_cache=True):
        source = view.batch_source
        path = getattr(source, "path", None)
        if path and not str(path).startswith(str(settings.home)):
            raise StageError(
                "feast",
                f"the registry's source for {view.name!r} is {path}, outside {settings.home}",
                "run `livecart apply` for this data directory",
            )
        return  # one view tells: all sources are applied together


def historical_features(
    settings: LivecartSettings, entity_rows: pd.DataFrame, service: str
) -> pd.DataFrame:
    """Point-in-time correct features of ``service`` for ``entity_rows`` (keys + event_timestamp),
    joined ``settings.historical_chunk_rows`` rows at a time: each row's join is its own, and one
    join of a medium world's 466,198 impressions peaked at 22.5 GB."""
    join = HistoricalJoin(settings, service)
    size = settings.historical_chunk_rows
    starts = range(0, max(len(entity_rows), 1), size)  # an empty frame: one (empty) join
    parts = [
        join(entity_rows.iloc[start : start + size])
        for start in tqdm(
            starts, desc="point-in-time features", unit="chunk", disable=len(starts) < 2
        )
    ]
    if len(parts) == 1:
        return parts[0]
    return pd.concat(parts, ignore_index=True)


class HistoricalJoin:
    """One point-in-time join of ``service`` per call, the home's store opened and the service
    planned once (training calls it for every part of its examples).

    The service's stored features are joined by Feast; its on-demand features are then computed
    by Feast's own transformation from their source columns only, as serving computes them
    (``livecart.online.frames``). Feast's offline path hands a python-mode transformation every
    column of the joined table as Python lists (``to_pydict``): with the text vectors in it, that
    was 40% of the time of staging the large world's examples."""

    def __init__(self, settings: LivecartSettings, service: str) -> None:
        self.store = feature_store(settings)
        check_registry_home(settings, self.store)
        self.refs, self.on_demand, self.extra = _service_refs(
            self.store, self.store.get_feature_service(service)
        )

    def __call__(self, entity_rows: pd.DataFrame) -> pd.DataFrame:
        frame = self.store.get_historical_features(
            entity_df=entity_rows, features=self.refs
        ).to_df()
        for view, names, sources in self.on_demand:
            inputs = pa.Table.from_pandas(frame[sources], preserve_index=False)
            computed = view.transform_arrow(inputs, full_feature_names=False)
            for name in names:
                frame[name] = computed.column(name).to_pandas()
        return frame.drop(columns=self.extra)


def _service_refs(
    store: FeatureStore, service: FeatureService
) -> tuple[list[str], list[tuple[OnDemandFeatureView, list[str], list[str]]], list[str]]:
    """The service's stored feature references (plus any on-demand source it lacks), each
    on-demand view with its feature names and source columns, and the added sources' names."""
    refs: list[str] = []
    on_demand: list[tuple[OnDemandFeatureView, list[str], list[str]]] = []
    for projection in service.feature_view_projections:
        names = [feature.name for feature in projection.features]
        try:
            view = store.get_on_demand_feature_view(projection.name)
        except FeatureViewNotFoundException:
            refs += [f"{(projection.name_alias or projection.name)}:{name}" for name in names]
            continue
        sources = [
            ((source.name_alias or source.name), feature.name)
            for source in view.source_feature_view_projections.values()
            for feature in source.features
        ]
        on_demand.append((view, names, [name for _, name in sources]))
        refs += [f"{view_name}:{name}" for view_name, name in sources]
    unique = list(dict.fromkeys(refs))
    wanted = {
        f"{(p.name_alias or p.name)}:{feature.name}"
        for p in service.feature_view_projections
        for feature in p.features
    }
    extra = [ref.split(":", 1)[1] for ref in unique if ref not in wanted]
    return unique, on_demand, extra
