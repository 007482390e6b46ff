"""Writing fresh feature rows online: one batch of several views at a time.

Event ingest recomputes a few views per accepted batch and writes them together. On livecart's
DuckDB store they go in as Arrow, all views in one commit (one manifest write, one reload by each
reader, all views visible at once); any other Feast online store gets Feast's public
``write_to_online_store``, one view after the other. :func:`writer_for` is the one place that asks
which store it is, as :func:`livecart.features.reader.reader_for` is for reads.

Measured on the demo world (one purchase event, four views): 26 ms of writes per batch through
``write_to_online_store`` against one commit of a few ms; figures in README ("Freshness").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

import pyarrow as pa
from feast import FeatureStore, FeatureView

from livecart.online import compact_worker
from livecart.online.access import push_rows, write_arrow
from livecart.online.store import STORE_TYPE


class OnlineWriter(ABC):
    """Writes rows laid out as each view's source (keys, features, timestamps) online."""

    def __init__(self, store: FeatureStore) -> None:
        self.store = store

    @abstractmethod
    def write(self, rows: Mapping[str, pa.Table]) -> None:
        """Write ``rows`` (feature view name -> rows); empty tables are skipped."""

    def forget(self) -> None:  # noqa: B027 - nothing kept by default
        """Drop what was read from the registry (after ``livecart apply`` changed views)."""


class CommitWriter(OnlineWriter):
    """livecart's store: every view of the batch in one commit."""

    def __init__(self, store: FeatureStore) -> None:
        super().__init__(store)
        self._views: dict[str, FeatureView] = {}
        # Pushes soon take views past the store's delta limit: the compaction worker starts now,
        # so that the first merge finds it ready (:mod:`livecart.online.compact_worker`).
        compact_worker.shared()

    def _view(self, name: str) -> FeatureView:
        if name not in self._views:
            self._views[name] = self.store.get_feature_view(name, allow_registry_cache=True)
        return self._views[name]

    def forget(self) -> None:
        self._views.clear()

    def write(self, rows: Mapping[str, pa.Table]) -> None:
        views = [(self._view(n), t) for n, t in rows.items() if t.num_rows]
        if views:
            write_arrow(self.store.config, [(v, push_rows(v, t)) for v, t in views], compact=False)


class FeastWriter(OnlineWriter):
    """Any other online store, through Feast's public API, view by view."""

    def write(self, rows: Mapping[str, pa.Table]) -> None:
        for name, table in rows.items():
            if table.num_rows:
                self.store.write_to_online_store(name, table.to_pandas(), allow_registry_cache=True)


def writer_for(store: FeatureStore) -> OnlineWriter:
    """The writer for ``store``'s online store."""
    if store.config.online_store.type == STORE_TYPE:
        return CommitWriter(store)
    return FeastWriter(store)
