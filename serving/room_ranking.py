"""Live rooms for a viewer: ranked by the registered room ranker, or by their best product.

With a ``room_ranker`` version registered (``livecart train --ranker rooms``), a replica ranks the
live rooms by the model's score of their streamers: the room signals are computed from the online
store's ``viewer_visits`` and ``streamer_visits`` rows (:mod:`livecart.model.visit_signals`) at the
current time unit and scored by the same :class:`~livecart.model.room_ranker.RoomScorer` the
evaluation's ``served`` row uses. Without one, rooms are ordered by their best product's score.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.settings import LivecartSettings
from livecart.features.reader import FeatureReader
from livecart.model import registry
from livecart.model.room_ranker import ROOM_RANKER, RoomScorer
from livecart.model.visit_signals import StreamerVisits, candidate_signals
from livecart.online.plan import ServicePlan, plan_service_for_view
from serving.catalog import Catalog
from serving.rank import VersionHolder
from serving.retrieve import LiveNow
from serving.schemas import RecommendedRoom

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoomModel:
    """A loaded version of the room ranker."""

    version: int
    scorer: RoomScorer

    @classmethod
    def load(cls, settings: LivecartSettings, name: str, version: int) -> RoomModel:
        record, state = registry.load(settings, name, version)
        return cls(record.version, RoomScorer.from_registry(record.config, state))


@dataclass(frozen=True)
class RoomReads:
    """What :meth:`RoomRanking.read` read for some viewers: the loaded room ranker, the live
    rooms (sorted) and their streamers, each streamer's visits and each viewer's visits row."""

    model: RoomModel
    rooms: list[str]
    streamers: list[str]
    visits: list[StreamerVisits | None]
    viewers: dict[str, dict[str, Any]]


def _list_column(table: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A list column as (offsets, values, valid): row ``j`` is ``values[offsets[j]:offsets[j+1]]``.
    (Arrow to numpy directly: ``to_pylist`` of a week of per-unit counts for 50 streamers made
    Python ints by the ten thousand on every request.)"""
    column = table.column(name).combine_chunks()
    offsets = column.offsets.to_numpy()
    values = column.values.to_numpy(zero_copy_only=False).astype(np.int64)
    return offsets, values, column.is_valid().to_numpy(zero_copy_only=False)


def _streamer_visits(table: pa.Table) -> list[StreamerVisits | None]:
    """The ``streamer_visits`` rows of a frame (None: a streamer without one)."""
    starts, units, valid = _list_column(table, f.STREAMER_VISIT_UNITS)
    count_starts, counts, _ = _list_column(table, f.STREAMER_VISIT_COUNTS)
    total = table.column(f.STREAMER_VISITS_TOTAL).to_pandas().fillna(0).to_numpy(np.int64)
    previous = table.column(f.STREAMER_PREVIOUS_UNIT).to_pandas().fillna(-1).to_numpy(np.int64)
    out: list[StreamerVisits | None] = []
    for j in range(table.num_rows):
        if not valid[j] or starts[j + 1] == starts[j]:
            out.append(None)
            continue
        out.append(
            StreamerVisits(
                units[starts[j] : starts[j + 1]],
                counts[count_starts[j] : count_starts[j + 1]],
                int(total[j]),
                int(previous[j]),
            )
        )
    return out


def current_unit(at: float | None = None) -> int:
    """The visit time unit of ``at`` (Unix seconds; None: now)."""
    return int((time.time() if at is None else at) // f.VISIT_UNIT_SECONDS)


class RoomRanking:
    """The room list of one replica."""

    def __init__(self, settings: LivecartSettings, reader: FeatureReader, catalog: Catalog) -> None:
        self.reader, self.catalog = reader, catalog
        self.holder = VersionHolder(settings, ROOM_RANKER, RoomModel.load)
        self._plans: tuple[ServicePlan, ServicePlan] | None = None

    def _visit_plans(self) -> tuple[ServicePlan, ServicePlan]:
        if self._plans is None:
            store = self.reader.store
            self._plans = (
                plan_service_for_view(store, f.FeatureTable.VIEWER_VISITS.value),
                plan_service_for_view(store, f.FeatureTable.STREAMER_VISITS.value),
            )
        return self._plans

    def read(self, viewer_ids: Sequence[str], now: LiveNow) -> RoomReads | None:
        """What the room ranker needs to rank the live rooms for ``viewer_ids``, read once for
        all of them: the viewers' ``viewer_visits`` rows and the live streamers'
        ``streamer_visits`` rows (a batch of requests: two reads, not two a request). None
        without a loaded room ranker, without live rooms, or when the store cannot answer
        (logged): the rooms are then ranked by their best product."""
        self.holder.poll()
        model = self.holder.ranker
        rooms = sorted(r for r in now.room_ids if r in self.catalog.room_streamer)
        if model is None or not rooms:
            return None
        streamers = [self.catalog.room_streamer[r] for r in rooms]
        viewer_plan, streamer_plan = self._visit_plans()
        viewers = list(dict.fromkeys(viewer_ids))
        try:
            rows = self.reader.rows(viewer_plan, {c.VIEWER_ID: viewers})
            visits = _streamer_visits(self.reader.frame(streamer_plan, {c.STREAMER_ID: streamers}))
        except Exception:  # a store without the visit views: the product order still works
            log.exception("room ranker v%d could not read; rooms by best product", model.version)
            return None
        return RoomReads(model, rooms, streamers, visits, dict(zip(viewers, rows, strict=True)))

    def rank(
        self,
        viewer_id: str,
        products: list[str],
        streamer_codes: np.ndarray,
        product_scores: np.ndarray,
        now: LiveNow,
        live: dict[str, int],
        k: int,
        reads: RoomReads | None,
    ) -> list[RecommendedRoom]:
        """The live rooms, best first: by the room ranker where :meth:`read` read for it."""
        viewer = reads.viewers.get(viewer_id) if reads is not None else None
        if reads is None or viewer is None:
            return rank_by_best_product(
                self.catalog, products, streamer_codes, product_scores, now, live, k
            )
        scorer = reads.model.scorer
        values = candidate_signals(
            list(viewer.get(f.VISIT_STREAMERS) or []),
            np.asarray(viewer.get(f.VISIT_UNITS) or [], np.int64),
            reads.streamers,
            reads.visits,
            current_unit(),
            scorer.features,
            scorer.item_ids,
            scorer.cooccurrence,
        )
        return self._ranked(reads, scorer.score_features(values), live, k)

    def _ranked(
        self, reads: RoomReads, scores: np.ndarray, live: dict[str, int], k: int
    ) -> list[RecommendedRoom]:
        model, rooms, streamers = reads.model, reads.rooms, reads.streamers
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            RecommendedRoom(
                room_id=rooms[i],
                streamer_id=streamers[i],
                title=self.catalog.room_title[rooms[i]],
                score=round(float(scores[i]), 6),
                explanation=f"{live.get(rooms[i], 0)} viewers live now; "
                f"room ranker v{model.version} (repeat, recency, who is watching)",
            )
            for i in order.tolist()
        ]


def rank_by_best_product(
    catalog: Catalog,
    products: list[str],
    streamer_codes: np.ndarray,
    scores: np.ndarray,
    now: LiveNow,
    live: dict[str, int],
    k: int,
) -> list[RecommendedRoom]:
    """Live rooms ranked by their best candidate's score (ties: the earlier candidate)."""
    by_code, rooms = now.room_by_streamer, now.room_ids
    order = np.argsort(-scores, kind="stable")
    room_index = by_code[streamer_codes[order]]
    live_rows = room_index >= 0
    _, first = np.unique(room_index[live_rows], return_index=True)
    best = order[live_rows][np.sort(first)[:k]]  # best first: scores fall along ``order``
    out = []
    for i in best.tolist():
        room = rooms[by_code[streamer_codes[i]]]
        out.append(
            RecommendedRoom(
                room_id=room,
                streamer_id=catalog.room_streamer[room],
                title=catalog.room_title[room],
                score=round(float(scores[i]), 6),
                explanation=f"{live.get(room, 0)} viewers live now; "
                f"best match: {catalog.title_of[products[i]]}",
            )
        )
    return out
