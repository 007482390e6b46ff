"""Streamer assist: which of this streamer's products to pitch next for the audience in the room.

The audience is the viewers whose latest room entry (within the live window) is this room, from
the event ingest state. Each room product is scored by the registered ranker for each present
viewer (one batched feature read); a product's pitch score is its expected purchases among them,
lifted by the room's live purchase intent when comment signals are present.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.model.scoring import LoadedRanker
from livecart.online.plan import plan_service
from serving.pipeline import ViewerPipeline
from serving.retrieve import VIEWER_CONTEXT_SERVICE
from serving.schemas import AudienceSummary, PitchSuggestion, StreamerRequest, StreamerResponse

MAX_AUDIENCE = 64
ROOM_SERVICE = "room_live_v1"


class StreamerAssist:
    """What to pitch next in a room, with the feed's reader, catalogue and model."""

    def __init__(self, feed: ViewerPipeline) -> None:
        self.settings, self.reader = feed.settings, feed.reader
        self.catalog, self.holder, self.store = feed.catalog, feed.holder, feed.store
        self.viewer_plan = plan_service(self.store, VIEWER_CONTEXT_SERVICE)
        self.room_plan = plan_service(self.store, ROOM_SERVICE)

    def suggest(self, request: StreamerRequest, snapshot: dict[str, Any]) -> StreamerResponse:
        room = request.room_id
        if room not in self.catalog.rooms.index:
            raise KeyError(f"unknown room {room!r}")
        streamer = str(self.catalog.rooms.at[room, c.STREAMER_ID])
        products = self.catalog.room_products.get(room) or self.catalog.streamer_products.get(
            streamer, []
        )
        stock = self.catalog.products.loc[products, c.STOCK].fillna(1) if products else None
        products = [p for p in products if stock is None or stock[p] > 0]
        audience: list[str] = list(snapshot.get("audience", []))[:MAX_AUDIENCE]
        degraded: list[str] = []
        try:
            room_row = self.reader.frame(self.room_plan, {c.ROOM_ID: [room]}).to_pylist()[0]
            summary = self._audience(audience, snapshot, room_row)
        except Exception as exc:  # the online store is unreadable: pitch by popularity
            degraded.append(f"feature store unavailable ({type(exc).__name__})")
            summary = self._audience([], snapshot, {})
            summary.viewers_present = len(audience)
        ranker = self.holder.ranker
        expected = np.zeros(len(products))
        scores = np.array([self.catalog.popularity.get(p, 0.0) for p in products]) * 0.01
        if ranker is None:
            degraded.append("no model")
        elif audience and products and not degraded:
            try:
                scores, expected = self._expected(ranker, streamer, products, audience, summary)
            except Exception as exc:  # store failed mid-request: keep the popularity order
                degraded.append(f"feature store unavailable ({type(exc).__name__})")
        order = np.argsort(-scores, kind="stable")[: request.k]
        top = summary.top_categories
        suggestions = []
        for i in order:
            product = products[i]
            row = self.catalog.products.loc[product]
            category = str(row[c.CATEGORY])
            share = top.get(category, 0.0)
            why = (
                f"{expected[i]:.1f} expected purchases among {len(audience)} viewers present"
                if audience and not degraded
                else "popular product while the audience gathers"
                if not degraded
                else "popular product (live features unavailable)"
            )
            if share:
                why += f"; {share:.0%} of the audience's interest is {category}"
            suggestions.append(
                PitchSuggestion(
                    product_id=product,
                    title=str(row[c.TITLE]),
                    category=category,
                    price=float(str(row[c.PRICE])),
                    score=round(float(scores[i]), 6),
                    expected_purchases=round(float(expected[i]), 4),
                    explanation=why,
                )
            )
        return StreamerResponse(
            room_id=room,
            streamer_id=streamer,
            suggestions=suggestions,
            audience=summary,
            model_version=ranker.version if ranker is not None else None,
            degraded=bool(degraded),
            degraded_reasons=degraded,
        )

    def _expected(
        self,
        ranker: LoadedRanker,
        streamer: str,
        products: list[str],
        audience: list[str],
        summary: AudienceSummary,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(pitch score, expected purchases) per product over the viewers present."""
        viewers = [v for v in audience for _ in products]
        items = products * len(audience)
        columns = self.reader.columns(
            plan_service(self.store, ranker.feature_service),
            {c.VIEWER_ID: viewers, c.PRODUCT_ID: items, c.STREAMER_ID: [streamer] * len(items)},
        )
        p_buy = ranker.score(columns)[:, 1].reshape(len(audience), len(products))
        expected = p_buy.sum(axis=0)
        intent = summary.purchase_intent or 0.0
        return expected / len(audience) * (1.0 + intent), expected

    def _audience(
        self, audience: list[str], snapshot: dict[str, Any], room_row: dict[str, Any]
    ) -> AudienceSummary:
        segments: Counter[str] = Counter()
        affinity = np.zeros(len(c.CATEGORIES))
        if audience:
            rows = self.reader.frame(self.viewer_plan, {c.VIEWER_ID: audience}).to_pylist()
            for row in rows:
                segments[str(row.get(f.SEGMENT_NAME) or "new viewers")] += 1
                shares = row.get(f.VIEWER_CATEGORY_AFFINITY)
                if shares and len(shares) == len(c.CATEGORIES):
                    affinity += np.asarray(shares, dtype=np.float64)
        total = affinity.sum()
        top = {}
        if total > 0:
            for k in np.argsort(-affinity)[:3]:
                top[c.CATEGORIES[int(k)]] = round(float(affinity[k] / total), 3)
        activity: dict[str, int] = snapshot.get("activity", {})
        return AudienceSummary(
            viewers_present=len(audience),
            segments=dict(segments),
            top_categories=top,
            comment_sentiment=room_row.get(f.COMMENT_SENTIMENT_5M),
            purchase_intent=room_row.get(f.PURCHASE_INTENT_5M),
            recent_comments=int(activity.get("comment", 0)),
            likes_5m=int(activity.get("like", 0)),
        )
