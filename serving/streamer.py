"""Streamer assist: which of this streamer's products to pitch next for the audience in the room.

The audience is the viewers whose latest room entry (within the live window) is this room, from
the event ingest state: everyone present, whatever the room's size. Each room product is scored by
the registered ranker for every present viewer, or for a uniform sample of them in a large room
(:mod:`serving.audience`: expected purchases over everyone with a 95 % band); a product's pitch
score is its expected purchases per viewer, lifted by the room's live purchase intent when comment
signals are present. The summary counts every present viewer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.model.scoring import LoadedRanker
from livecart.online.keys import CodedKeys, KeyUniverse
from livecart.online.plan import ServicePlan, plan_service
from serving.audience import (
    EXACT_PAIRS,
    PitchEstimate,
    count_audience,
    estimate,
    scored_viewers,
    summary_plan,
    top_interests,
)
from serving.pipeline import ViewerPipeline
from serving.retrieve import VIEWER_CONTEXT_SERVICE
from serving.schemas import AudienceSummary, PitchSuggestion, StreamerRequest, StreamerResponse

ROOM_SERVICE = "room_live_v1"


class StreamerAssist:
    """What to pitch next in a room, with the feed's reader, catalogue and model."""

    def __init__(self, feed: ViewerPipeline) -> None:
        self.settings, self.reader = feed.settings, feed.reader
        self.catalog, self.holder, self.store = feed.catalog, feed.holder, feed.store
        self.viewer_plan = summary_plan(plan_service(self.store, VIEWER_CONTEXT_SERVICE))
        self.room_plan = plan_service(self.store, ROOM_SERVICE)
        self.pair_budget = EXACT_PAIRS  # viewer-product pairs scored exactly per request
        self._plans: dict[str, ServicePlan] = {}  # resolving a service costs ~40 ms: once

    def _plan(self, service: str) -> ServicePlan:
        plan = self._plans.get(service)
        if plan is None:
            plan = self._plans[service] = plan_service(self.store, service)
        return plan

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
        audience: list[str] = list(snapshot.get("audience", []))
        degraded: list[str] = []
        try:
            room_row = self.reader.frame(self.room_plan, {c.ROOM_ID: [room]}).to_pylist()[0]
            summary = self._audience(audience, snapshot, room_row)
        except Exception as exc:  # the online store is unreadable: pitch by popularity
            degraded.append(f"feature store unavailable ({type(exc).__name__})")
            summary = self._audience([], snapshot, {})
            summary.viewers_present = len(audience)
        ranker = self.holder.ranker
        pitch = estimate(np.zeros((0, len(products))), len(audience))
        scores = np.array([self.catalog.popularity.get(p, 0.0) for p in products]) * 0.01
        if ranker is None:
            degraded.append("no model")
        elif audience and products and not degraded:
            try:
                pitch = self._expected(ranker, room, streamer, products, audience)
                intent = summary.purchase_intent or 0.0
                scores = pitch.expected / len(audience) * (1.0 + intent)
            except Exception as exc:  # store failed mid-request: keep the popularity order
                degraded.append(f"feature store unavailable ({type(exc).__name__})")
        summary.viewers_scored = pitch.scored if not degraded else 0
        expected = pitch.expected
        order = np.argsort(-scores, kind="stable")[: request.k]
        top = summary.top_categories
        suggestions = []
        for i in order:
            product = products[i]
            row = self.catalog.products.loc[product]
            category = str(row[c.CATEGORY])
            share = top.get(category, 0.0)
            why = (
                f"{_expected_text(pitch, int(i))} expected purchases among {len(audience)} "
                "viewers present"
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
                    expected_low=round(float(pitch.low[i]), 4) if not degraded else None,
                    expected_high=round(float(pitch.high[i]), 4) if not degraded else None,
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
        room: str,
        streamer: str,
        products: list[str],
        audience: list[str],
    ) -> PitchEstimate:
        """Expected purchases per product over everyone present (sampled past the budget)."""
        scored = scored_viewers(room, audience, len(products), self.pair_budget)
        viewers = KeyUniverse(scored, lasting=False)
        catalog = self.catalog
        product_codes = np.tile(catalog.product_keys.codes(products, len(products)), len(scored))
        rows = len(product_codes)
        columns = self.reader.columns(  # as codes: one probe per viewer, one take per product
            self._plan(ranker.feature_service),
            {
                c.VIEWER_ID: CodedKeys(viewers, np.repeat(np.arange(len(scored)), len(products))),
                c.PRODUCT_ID: CodedKeys(catalog.product_keys, product_codes),
                c.STREAMER_ID: CodedKeys(
                    catalog.streamer_keys, np.full(rows, catalog.streamer_keys.code.get(streamer, -1))
                ),
            },
        )
        p_buy = ranker.score(columns)[:, 1].reshape(len(scored), len(products))
        return estimate(p_buy, len(audience))

    def _audience(
        self, audience: list[str], snapshot: dict[str, Any], room_row: dict[str, Any]
    ) -> AudienceSummary:
        counts = count_audience(
            self.reader.frame(self.viewer_plan, {c.VIEWER_ID: audience})
            if audience
            else pa.table({})
        )
        activity: dict[str, int] = snapshot.get("activity", {})
        return AudienceSummary(
            viewers_present=len(audience),
            segments=counts.segments,
            top_categories=top_interests(counts.affinity),
            comment_sentiment=room_row.get(f.COMMENT_SENTIMENT_5M),
            purchase_intent=room_row.get(f.PURCHASE_INTENT_5M),
            recent_comments=int(activity.get("comment", 0)),
            likes_5m=int(activity.get("like", 0)),
        )


def _expected_text(pitch: PitchEstimate, i: int) -> str:
    if pitch.exact:
        return f"{pitch.expected[i]:.1f}"
    return (
        f"{pitch.expected[i]:.1f} (95%: {pitch.low[i]:.1f}-{pitch.high[i]:.1f}, "
        f"from {pitch.scored} sampled)"
    )
