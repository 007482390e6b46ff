"""Fresh ``viewer_visits`` and ``streamer_visits`` rows from accepted events (event ingest).

These rows reach back further than the ingest replica's recent events (a viewer's latest 256
visits, a streamer's visits per unit over the last week, all-time totals), so they are not
recomputed from the recent window: the first time a key is touched its current online row is read
(what materialization or earlier pushes left there), and every accepted visit is then applied to
it, in time order, the way the feature SQL builds it (a test holds both equal). One ingest replica
writes them, so the rows it keeps in memory are the online rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from feast import FeatureStore

from livecart.core import contract as c
from livecart.core import feature_names as f

VIEWER_FEATURES = (f.VISIT_STREAMERS, f.VISIT_UNITS)
STREAMER_FEATURES = (
    f.STREAMER_VISIT_UNITS,
    f.STREAMER_VISIT_COUNTS,
    f.STREAMER_VISITS_TOTAL,
    f.STREAMER_PREVIOUS_UNIT,
)


@dataclass
class _Viewer:
    streamers: list[str] = field(default_factory=list)
    units: list[int] = field(default_factory=list)

    def add(self, streamer: str, unit: int) -> None:
        self.streamers.append(streamer)
        self.units.append(unit)
        del self.streamers[: -f.VISIT_HISTORY_LENGTH], self.units[: -f.VISIT_HISTORY_LENGTH]


@dataclass
class _Streamer:
    units: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    total: int = 0
    previous: int = -1

    def add(self, unit: int) -> None:
        self.total += 1
        if self.units and unit == self.units[-1]:
            self.counts[-1] += 1
        elif not self.units or unit > self.units[-1]:
            if self.units:
                self.previous = self.units[-1]
            self.units.append(unit)
            self.counts.append(1)
        else:  # a late visit, inside the kept units
            at = int(np.searchsorted(self.units, unit))
            if self.units[at] == unit:
                self.counts[at] += 1
            else:
                self.units.insert(at, unit)
                self.counts.insert(at, 1)
                self.previous = max(self.previous, unit)
        keep = int(np.searchsorted(self.units, self.units[-1] - f.VISIT_HORIZON_UNITS))
        del self.units[:keep], self.counts[:keep]


def _list(value: Any) -> list[Any]:
    return [] if value is None else list(value)


class VisitPush:
    """The visit rows of one ingest replica; :meth:`rows` applies a batch and returns the rows to
    push, per feature table."""

    def __init__(self, store: FeatureStore, event_types: Sequence[str]) -> None:
        self.store = store
        self.event_types = list(event_types)
        self._viewers: dict[str, _Viewer] = {}
        self._streamers: dict[str, _Streamer] = {}

    def clear(self) -> None:
        """Forget the kept rows (after a refresh re-materialized them)."""
        self._viewers.clear()
        self._streamers.clear()

    def _online(
        self, table: f.FeatureTable, key: str, ids: list[str], names: Sequence[str]
    ) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = self.store.get_online_features(
            features=[f"{table.value}:{n}" for n in names],
            entity_rows=[{key: i} for i in ids],
        ).to_dict()
        return found

    def _load(self, viewers: list[str], streamers: list[str]) -> None:
        new = [v for v in dict.fromkeys(viewers) if v not in self._viewers]
        if new:
            got = self._online(f.FeatureTable.VIEWER_VISITS, c.VIEWER_ID, new, VIEWER_FEATURES)
            for i, viewer in enumerate(new):
                kept = _list(got[f.VISIT_STREAMERS][i])
                units = _list(got[f.VISIT_UNITS][i])
                self._viewers[viewer] = _Viewer(list(kept), [int(u) for u in units])
        new = [s for s in dict.fromkeys(streamers) if s not in self._streamers]
        if new:
            got = self._online(
                f.FeatureTable.STREAMER_VISITS, c.STREAMER_ID, new, STREAMER_FEATURES
            )
            for i, streamer in enumerate(new):
                units = _list(got[f.STREAMER_VISIT_UNITS][i])
                counts = _list(got[f.STREAMER_VISIT_COUNTS][i])
                total = got[f.STREAMER_VISITS_TOTAL][i]
                previous = got[f.STREAMER_PREVIOUS_UNIT][i]
                self._streamers[streamer] = _Streamer(
                    [int(u) for u in units],
                    [int(n) for n in counts],
                    int(total or 0),
                    int(previous) if previous is not None else -1,
                )

    def rows(self, accepted: pa.Table) -> dict[f.FeatureTable, pd.DataFrame]:
        """Apply the batch's visits; the touched keys' new rows (empty: no visit in it)."""
        visits = accepted.filter(
            pc.fill_null(
                pc.and_(
                    pc.is_in(accepted[c.EVENT_TYPE], pa.array(self.event_types, pa.string())),
                    pc.and_(
                        pc.is_valid(accepted[c.VIEWER_ID]), pc.is_valid(accepted[c.STREAMER_ID])
                    ),
                ),
                False,
            )
        )
        if visits.num_rows == 0:
            return {}
        frame = visits.select([c.VIEWER_ID, c.STREAMER_ID, c.EVENT_TIMESTAMP]).to_pandas()
        frame = frame.dropna().sort_values(c.EVENT_TIMESTAMP, kind="stable")
        self._load(frame[c.VIEWER_ID].tolist(), frame[c.STREAMER_ID].tolist())
        micros = pd.DatetimeIndex(frame[c.EVENT_TIMESTAMP]).as_unit("us").asi8
        units = (micros // (f.VISIT_UNIT_SECONDS * 1_000_000)).tolist()
        stamp: dict[str, pd.Timestamp] = {}
        for viewer, streamer, at, unit in zip(
            frame[c.VIEWER_ID], frame[c.STREAMER_ID], frame[c.EVENT_TIMESTAMP], units, strict=True
        ):
            self._viewers[viewer].add(streamer, int(unit))
            self._streamers[streamer].add(int(unit))
            stamp[f"v:{viewer}"] = at
            stamp[f"s:{streamer}"] = at
        after = timedelta(microseconds=1)
        created = datetime.now(UTC)
        viewers = list(dict.fromkeys(frame[c.VIEWER_ID]))
        streamers = list(dict.fromkeys(frame[c.STREAMER_ID]))
        return {
            f.FeatureTable.VIEWER_VISITS: pd.DataFrame(
                {
                    c.VIEWER_ID: viewers,
                    c.EVENT_TIMESTAMP: [stamp[f"v:{v}"] + after for v in viewers],
                    f.VISIT_STREAMERS: [list(self._viewers[v].streamers) for v in viewers],
                    f.VISIT_UNITS: [list(self._viewers[v].units) for v in viewers],
                    c.CREATED_TIMESTAMP: created,
                }
            ),
            f.FeatureTable.STREAMER_VISITS: pd.DataFrame(
                {
                    c.STREAMER_ID: streamers,
                    c.EVENT_TIMESTAMP: [stamp[f"s:{s}"] + after for s in streamers],
                    f.STREAMER_VISIT_UNITS: [list(self._streamers[s].units) for s in streamers],
                    f.STREAMER_VISIT_COUNTS: [list(self._streamers[s].counts) for s in streamers],
                    f.STREAMER_VISITS_TOTAL: [self._streamers[s].total for s in streamers],
                    f.STREAMER_PREVIOUS_UNIT: [self._streamers[s].previous for s in streamers],
                    c.CREATED_TIMESTAMP: created,
                }
            ),
        }
