"""The retrieval stage: candidates from several sources, deduplicated, each tagged with its sources.

Sources: products of rooms live now, vector retrieval from the online store (the viewer's recent
products' text embeddings, or the current room's, as the query), item-CF neighbours of recent
products, the viewer's followed streamers, and popularity (in the viewer's top category first).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from feast import FeatureService, FeatureStore

from livecart import contract as c
from livecart import feature_names as f
from livecart.online.frames import nearest, plan_service, read_frame
from livecart.settings import LivecartSettings
from serving.catalog import Catalog
from serving.schemas import ViewerRequest

VECTOR_TOP_K = 50
VIEWER_CONTEXT_SERVICE = "viewer_context_v1"


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
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Candidates:
    products: list[str]
    sources: dict[str, list[str]]
    interest: np.ndarray | None = None  # the query vector used for vector retrieval


class Retriever:
    def __init__(self, settings: LivecartSettings, store: FeatureStore, catalog: Catalog) -> None:
        self.settings, self.store, self.catalog = settings, store, catalog
        self.context_plan = plan_service(store, VIEWER_CONTEXT_SERVICE)
        self._live_cache: tuple[frozenset[str], list[str], frozenset[str]] | None = None

    def context(self, viewer_id: str) -> ViewerContext:
        row = read_frame(self.store, self.context_plan, {c.VIEWER_ID: [viewer_id]}).to_pylist()[0]
        known = row.get(f.VIEWER_EVENTS_TOTAL) is not None or bool(row.get(f.LAST_PRODUCTS))
        return ViewerContext(
            viewer_id=viewer_id,
            known=known,
            recent_products=[p for p in (row.get(f.LAST_PRODUCTS) or []) if p],
            top_category=row.get(f.VIEWER_TOP_CATEGORY),
            segment=row.get(f.SEGMENT_NAME),
            values=row,
        )

    def _embeddings(self, products: list[str]) -> np.ndarray | None:
        if not products:
            return None
        plan = plan_service_for_view(self.store, f.FeatureTable.PRODUCT_EMBEDDING.value)
        rows = read_frame(self.store, plan, {c.PRODUCT_ID: products}).column(f.TEXT_EMBEDDING)
        vectors = [np.asarray(v, dtype=np.float32) for v in rows.to_pylist() if v]
        return np.mean(vectors, axis=0) if vectors else None

    def _room_vector(self, room_id: str) -> np.ndarray | None:
        plan = plan_service_for_view(self.store, f.FeatureTable.ROOM_EMBEDDING.value)
        rows = read_frame(self.store, plan, {c.ROOM_ID: [room_id]}).column(f.TEXT_EMBEDDING)
        value = rows.to_pylist()[0]
        return np.asarray(value, dtype=np.float32) if value else None

    def retrieve(
        self, request: ViewerRequest, context: ViewerContext, live_rooms: Iterable[str]
    ) -> Candidates:
        catalog, limit = self.catalog, self.settings.candidates_per_request
        live = set(live_rooms)
        filters = request.filters
        live_streamers = catalog.live_streamers(live) if filters.live_only and live else None
        wanted = set(filters.categories) if filters.categories else None
        sources: dict[str, list[str]] = {}

        def eligible(product: str) -> bool:
            streamer = catalog.streamer_of.get(product)
            return (
                streamer is not None
                and (live_streamers is None or streamer in live_streamers)
                and (wanted is None or catalog.category_of[product] in wanted)
                and (filters.max_price is None or catalog.price_of[product] <= filters.max_price)
            )

        def add(
            products: Iterable[str], source: Source, tag_existing: bool = True, check: bool = True
        ) -> None:
            """New eligible products while there is room; more tags for those already in."""
            for product in products:
                if not tag_existing and len(sources) >= limit:
                    break
                tags = sources.get(product)
                if tags is None:
                    if len(sources) < limit and (not check or eligible(product)):
                        sources[product] = [source.value]
                elif source.value not in tags:
                    tags.append(source.value)

        if request.room_id:
            add(catalog.room_products.get(request.room_id, []), Source.CURRENT_ROOM)
        interest = self._embeddings(context.recent_products[-5:])
        if interest is None and request.room_id:
            interest = self._room_vector(request.room_id)
        if interest is not None:
            hits = nearest(
                self.store, f.FeatureTable.PRODUCT_EMBEDDING.value, interest.tolist(), VECTOR_TOP_K
            )
            add((str(key[0]) for key, _ in hits), Source.VECTOR)
        for product in context.recent_products[-5:]:
            add(catalog.neighbours.get(product, [])[:10], Source.ITEM_CF)
        for streamer in catalog.follows.get(context.viewer_id, []):
            add(catalog.streamer_products.get(streamer, []), Source.FOLLOWED)
        if context.top_category:
            add(catalog.popular_by_category.get(context.top_category, [])[:50], Source.POPULAR)
        add(catalog.popular[:100], Source.POPULAR)
        live_products, in_live_room = self._live_products(live)
        for product in sources:  # tags first: candidates found by other sources but sold live
            if product in in_live_room:
                sources[product].append(Source.LIVE.value)
        # Then new ones, until full; a live room's products pass the live filter by definition.
        unfiltered = wanted is None and filters.max_price is None
        add(live_products, Source.LIVE, tag_existing=False, check=not unfiltered)
        return Candidates(list(sources), sources, interest)

    def _live_products(self, live: set[str]) -> tuple[list[str], frozenset[str]]:
        """Products of the live rooms (bigger rooms first) and as a set; the live rooms change
        every refresh, not every request, so this is kept for the last set of rooms."""
        key = frozenset(live)
        if self._live_cache is None or self._live_cache[0] != key:
            catalog = self.catalog
            ordered = list(
                dict.fromkeys(
                    product
                    for room in sorted(
                        live, key=lambda r: (-len(catalog.room_products.get(r, [])), r)
                    )
                    for product in catalog.room_products.get(room, [])
                )
            )
            self._live_cache = (key, ordered, frozenset(ordered))
        return self._live_cache[1], self._live_cache[2]


def plan_service_for_view(store: FeatureStore, view_name: str) -> Any:
    """A one-view plan (for embedding lookups), cached per store and view."""
    key = (id(store), view_name)
    plan = _VIEW_PLANS.get(key)
    if plan is None:
        view = store.get_feature_view(view_name)
        plan = _VIEW_PLANS[key] = plan_service(
            store, FeatureService(name=f"{view_name}__lookup", features=[view])
        )
    return plan


_VIEW_PLANS: dict[tuple[int, str], Any] = {}
