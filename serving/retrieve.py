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
        sources: dict[str, list[str]] = {}

        def add(products: Iterable[str], source: Source) -> None:
            for product in products:
                if product in catalog.streamer_of:
                    tags = sources.setdefault(product, [])
                    if source.value not in tags:
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
        for room in sorted(live, key=lambda r: (-len(catalog.room_products.get(r, [])), r)):
            add(catalog.room_products.get(room, []), Source.LIVE)
        products = list(sources)
        filters = request.filters
        if filters.live_only and live:
            live_streamers = catalog.live_streamers(live)
            products = [p for p in products if catalog.streamer_of[p] in live_streamers]
        if filters.categories:
            wanted = set(filters.categories)
            products = [p for p in products if catalog.category_of[p] in wanted]
        if filters.max_price is not None:
            products = [p for p in products if catalog.price_of[p] <= filters.max_price]
        return Candidates(products[:limit], {p: sources[p] for p in products[:limit]}, interest)


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
