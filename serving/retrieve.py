"""The retrieval stage: candidates from several sources, deduplicated, each tagged with its sources.

Sources: products of rooms live now, vector retrieval over the product embeddings the online
store serves (an ANN index, ``FeatureReader.nearest``; the viewer's recent products' text
embeddings, or the current room's, as the query), item-CF neighbours of recent
products, the viewer's followed streamers, and popularity (in the viewer's top category first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.settings import LivecartSettings
from livecart.features.reader import FeatureReader
from livecart.online.plan import plan_service, plan_service_for_view
from serving.catalog import Catalog
from serving.schemas import ViewerRequest

VECTOR_TOP_K = 50
VIEWER_CONTEXT_SERVICE = "viewer_context_v1"
# What retrieval and the rules read of the viewer's context (the service has more).
CONTEXT_FIELDS = frozenset(
    {
        f.VIEWER_EVENTS_TOTAL,
        f.LAST_PRODUCTS,
        f.VIEWER_TOP_CATEGORY,
        f.SEGMENT_NAME,
        f.LAST_PURCHASES,
    }
)


class Source(StrEnum):
    LIVE = "live_now"
    VECTOR = "vector"
    ITEM_CF = "item_cf"
    FOLLOWED = "followed"
    POPULAR = "popular"
    CURRENT_ROOM = "current_room"


@dataclass
class ViewerContext:
    """What is known about the viewer before retrieval (one online read)."""

    viewer_id: str
    known: bool
    recent_products: list[str] = field(default_factory=list)
    top_category: str | None = None
    segment: str | None = None
    values: dict[str, Any] = field(default_factory=dict)  # the CONTEXT_FIELDS read


@dataclass
class Candidates:
    """Candidate products (ids and catalogue codes, in retrieval order) and where they came
    from: each source's list of codes in retrieval order and, per candidate, the list that
    added it. A candidate's tags are the sources, from that list on, that hold it."""

    products: list[str]
    codes: np.ndarray
    parts: tuple[tuple[str, np.ndarray], ...] = ()
    added_by: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    interest: np.ndarray | None = None  # the query vector used for vector retrieval

    @classmethod
    def of(cls, catalog: Catalog, products: list[str], source: Source) -> Candidates:
        """Catalogue products found by one source."""
        codes = catalog.product_keys.codes(products, len(products))
        return cls(products, codes, ((source.value, codes),), np.zeros(len(codes), np.int64))

    @classmethod
    def first_distinct(
        cls,
        catalog: Catalog,
        parts: list[tuple[Source, np.ndarray]],
        unchecked: list[bool],
        eligible: np.ndarray,
        limit: int,
        interest: np.ndarray | None,
    ) -> Candidates:
        """The first ``limit`` distinct products of ``parts`` (in order) that are eligible
        (``eligible[code]``; code -1 is the mask's last entry) or in an ``unchecked`` part."""
        if not parts:
            return cls([], np.zeros(0, np.int64), interest=interest)
        sequence = np.concatenate([codes for _, codes in parts])
        part_of = np.repeat(np.arange(len(parts)), [len(codes) for _, codes in parts])
        ok = np.concatenate(
            [
                codes >= 0 if free else eligible[codes]
                for (_, codes), free in zip(parts, unchecked, strict=True)
            ]
        )
        where = np.flatnonzero(ok)
        _, first = np.unique(sequence[where], return_index=True)
        chosen = where[np.sort(first)[:limit]]
        codes = sequence[chosen]
        values = catalog.product_keys.values
        tags = tuple((source.value, part) for source, part in parts)
        return cls([values[i] for i in codes.tolist()], codes, tags, part_of[chosen], interest)

    def sources_of(self, i: int) -> list[str]:
        """The sources of candidate ``i``, in retrieval order."""
        code, tags = self.codes[i], []
        for tag, codes in self.parts[self.added_by[i] :]:
            if tag not in tags and bool((codes == code).any()):
                tags.append(tag)
        return tags

    def found_by(self, source: Source) -> np.ndarray:
        """Per candidate: whether ``source`` is among its sources."""
        found = np.zeros(len(self.codes), dtype=bool)
        for j, (tag, codes) in enumerate(self.parts):
            if tag == source.value:
                found |= np.isin(self.codes, codes) & (self.added_by <= j)
        return found


class Retriever:
    def __init__(self, settings: LivecartSettings, reader: FeatureReader, catalog: Catalog) -> None:
        self.settings, self.reader, self.catalog = settings, reader, catalog
        self.store = reader.store
        whole = plan_service(self.store, VIEWER_CONTEXT_SERVICE)
        self.context_plan = whole.only(CONTEXT_FIELDS, "retrieval")
        self._live_cache: LiveNow | None = None
        # The ANN index of product embeddings, built now (replica start), not on a first request;
        # on a store that cannot list its rows, over the catalogue's products.
        reader.index_vectors(
            f.FeatureTable.PRODUCT_EMBEDDING.value,
            [(p,) for p in catalog.product_keys.values],
            settings.vector_refresh_s,
        )

    def contexts(self, viewer_ids: Sequence[str]) -> list[ViewerContext]:
        """Each viewer's context, read for all of them at once (a batch's viewers: one read)."""
        if not viewer_ids:
            return []
        rows = self.reader.rows(self.context_plan, {c.VIEWER_ID: list(viewer_ids)})
        return [
            ViewerContext(
                viewer_id=viewer_id,
                known=row.get(f.VIEWER_EVENTS_TOTAL) is not None or bool(row.get(f.LAST_PRODUCTS)),
                recent_products=[p for p in (row.get(f.LAST_PRODUCTS) or []) if p],
                top_category=row.get(f.VIEWER_TOP_CATEGORY),
                segment=row.get(f.SEGMENT_NAME),
                values=row,
            )
            for viewer_id, row in zip(viewer_ids, rows, strict=True)
        ]

    def _embeddings(self, products: list[str]) -> np.ndarray | None:
        """The mean text embedding of ``products`` (those that have one)."""
        if not products:
            return None
        view = f.FeatureTable.PRODUCT_EMBEDDING.value
        found = self.reader.vectors(view, [(p,) for p in products])
        return np.mean(found, axis=0) if len(found) else None

    def _room_vector(self, room_id: str) -> np.ndarray | None:
        plan = plan_service_for_view(self.store, f.FeatureTable.ROOM_EMBEDDING.value)
        rows = self.reader.frame(plan, {c.ROOM_ID: [room_id]}).column(f.TEXT_EMBEDDING)
        value = rows.to_pylist()[0]
        return np.asarray(value, dtype=np.float32) if value else None

    def retrieve(
        self, request: ViewerRequest, context: ViewerContext, live_rooms: Iterable[str]
    ) -> Candidates:
        """Candidates from every source in order (current room, vector, item-CF, followed,
        popular, live now): the first ``candidates_per_request`` distinct eligible products,
        each tagged by the sources that found it. Vectorized over catalogue codes."""
        catalog = self.catalog
        now = self.live_now(live_rooms)
        parts: list[tuple[Source, np.ndarray]] = []
        if request.room_id:
            parts.append((Source.CURRENT_ROOM, catalog.coded("room_products", request.room_id)))
        interest = self._embeddings(context.recent_products[-5:])
        if interest is None and request.room_id:
            interest = self._room_vector(request.room_id)
        if interest is not None:
            hits = self.reader.nearest(
                f.FeatureTable.PRODUCT_EMBEDDING.value, interest.tolist(), VECTOR_TOP_K
            )
            codes = catalog.product_keys.codes(str(key[0]) for key, _ in hits)
            parts.append((Source.VECTOR, codes))
        for product in context.recent_products[-5:]:
            parts.append((Source.ITEM_CF, catalog.coded("neighbours", product, 10)))
        for streamer in catalog.follows.get(context.viewer_id, []):
            parts.append((Source.FOLLOWED, catalog.coded("streamer_products", streamer)))
        if context.top_category:
            top = catalog.coded("popular_by_category", context.top_category, 50)
            parts.append((Source.POPULAR, top))
        parts.append((Source.POPULAR, catalog.coded("popular", "", 100)))
        parts.append((Source.LIVE, now.codes))
        eligible = self._eligible(request, now)
        # A live room's products pass the live filter by definition: without category or price
        # filters, they need no check.
        filters = request.filters
        live_unchecked = not filters.categories and filters.max_price is None
        return Candidates.first_distinct(
            catalog,
            parts,
            [live_unchecked and source == Source.LIVE for source, _ in parts],
            eligible,
            self.settings.candidates_per_request,
            interest,
        )

    def _eligible(self, request: ViewerRequest, now: LiveNow) -> np.ndarray:
        """Per product code (plus a last False for code -1): passes the request's filters."""
        catalog, filters = self.catalog, request.filters
        mask = np.ones(len(catalog.product_keys) + 1, dtype=bool)
        mask[-1] = False
        if filters.live_only and now.rooms:
            mask[:-1] &= now.streamer_live[catalog.product_streamer]
        if filters.categories:
            wanted = catalog.category_keys.codes(filters.categories)
            mask[:-1] &= np.isin(catalog.product_category, wanted)
        if filters.max_price is not None:
            mask[:-1] &= catalog.product_price <= filters.max_price
        return mask

    def live_now(self, live: Iterable[str]) -> LiveNow:
        """What the live rooms give retrieval and rules; they change every refresh, not every
        request, so this is kept for the last set of rooms."""
        key = frozenset(live)
        if self._live_cache is None or self._live_cache.rooms != key:
            self._live_cache = LiveNow.of(self.catalog, key)
        return self._live_cache


@dataclass(frozen=True)
class LiveNow:
    """The live rooms; their products' codes (bigger rooms first); per streamer code, whether
    the streamer is live and the index of its live room in ``room_ids`` (-1: none); and
    streamer -> live room."""

    rooms: frozenset[str]
    codes: np.ndarray
    streamer_live: np.ndarray
    room_by_streamer: np.ndarray
    room_ids: list[str]
    room_of: dict[str, str]

    @classmethod
    def of(cls, catalog: Catalog, rooms: frozenset[str]) -> LiveNow:
        ordered = list(
            dict.fromkeys(
                product
                for room in sorted(rooms, key=lambda r: (-len(catalog.room_products.get(r, [])), r))
                for product in catalog.room_products.get(room, [])
                if product in catalog.streamer_of  # catalogue products only
            )
        )
        streamer_live = np.zeros(len(catalog.streamer_keys), dtype=bool)
        live_streamers = catalog.streamer_keys.codes(catalog.live_streamers(rooms))
        streamer_live[live_streamers[live_streamers >= 0]] = True
        room_of = catalog.live_room_of(rooms)
        room_ids = list(dict.fromkeys(room_of.values()))
        position = {room: j for j, room in enumerate(room_ids)}
        room_by_streamer = np.full(len(catalog.streamer_keys), -1, dtype=np.int64)
        for streamer, room in room_of.items():
            code = catalog.streamer_keys.code.get(streamer)
            if code is not None:
                room_by_streamer[code] = position[room]
        codes = catalog.product_keys.codes(ordered, len(ordered))
        return cls(rooms, codes, streamer_live, room_by_streamer, room_ids, room_of)
