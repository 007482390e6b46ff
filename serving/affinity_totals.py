"""Lifetime totals of ``viewer_streamer_affinity`` pushed by event ingest.

The live state holds a day of events, not a viewer's whole history: a pushed affinity row adds the
recent counts to the total the online store held when the pair was first touched (its
materialized value), so a long history need not stay in memory. After a feature refresh
re-materialized the totals, :meth:`AffinityTotals.clear` forgets the bases.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from feast import FeatureStore

from livecart.core import contract as c
from livecart.core import feature_names as f

_TOTALS = f.VS_TOTALS


class AffinityTotals:
    """Materialized totals per (viewer, streamer) pair, read once per pair."""

    def __init__(self, store: FeatureStore) -> None:
        self.store = store
        self._affinity_base: dict[tuple[str, str], dict[str, float]] = {}

    def add(self, rows: pa.Table) -> pa.Table:
        """Recent affinity counts plus the materialized lifetime total at first touch."""
        pairs = list(
            zip(
                rows.column(c.VIEWER_ID).to_pylist(),
                rows.column(c.STREAMER_ID).to_pylist(),
                strict=True,
            )
        )
        new = [p for p in pairs if p not in self._affinity_base]
        if new:
            online = self.store.get_online_features(
                features=[f"{f.FeatureTable.VIEWER_STREAMER_AFFINITY.value}:{n}" for n in _TOTALS],
                entity_rows=[{c.VIEWER_ID: v, c.STREAMER_ID: s} for v, s in new],
            ).to_dict()
            for i, pair in enumerate(new):
                self._affinity_base[pair] = {n: float(online[n][i] or 0.0) for n in _TOTALS}
        for name in _TOTALS:
            index = rows.column_names.index(name)
            recent = rows.column(name)
            base = pa.array([self._affinity_base[p][name] for p in pairs], pa.float64())
            total = pc.add(recent.cast(pa.float64()), base).cast(recent.type)
            rows = rows.set_column(index, name, total)
        return rows

    def clear(self) -> None:
        self._affinity_base.clear()
