"""The viewer feed: retrieve -> fetch features -> rank -> rules and exploration -> explain.

The stages run in-process (one replica does a whole request): every hop between deployments would
serialize ~500 candidate rows, and these stages need the same CPU resources.
:meth:`ViewerPipeline.prepare_many` (the viewers' contexts and the room ranker's rows, retrieval,
then one feature read and one input build for several requests) and ``finish`` (rules,
exploration, explanations, the room list) are split around ranking, so the Serve deployment
prepares and ranks the requests that wait together as one batch (:mod:`serving.coalesce`);
:meth:`ViewerPipeline.recommend` runs all of it for one request (tests, benchmarks).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.settings import LivecartSettings
from livecart.features.reader import FeatureReader
from livecart.model.build_inputs import FeatureColumns
from livecart.model.input_arrays import RankerInputs
from livecart.online.keys import CodedKeys, KeyUniverse
from livecart.online.plan import ServicePlan, plan_service
from serving.catalog import Catalog
from serving.explain import drivers, explanation
from serving.prepared import FreshCounts, Prepared
from serving.rank import ModelHolder, score_inputs
from serving.retrieve import Candidates, Retriever, Source
from serving.room_ranking import RoomRanking
from serving.rules import RuleConfig, blend_scores, explore_exploit, fresh_ctr_posterior, select
from serving.schemas import (
    Driver,
    RecommendedProduct,
    ViewerRequest,
    ViewerResponse,
)

LIVE_SERVICE = "product_live_v1"
ColumnsReader = Callable[[ServicePlan, Mapping[str, Sequence[Any]]], FeatureColumns]


class ViewerPipeline:
    def __init__(
        self,
        settings: LivecartSettings,
        reader: FeatureReader,
        catalog: Catalog,
        holder: ModelHolder,
        rules: RuleConfig | None = None,
        seed: int | None = None,
    ) -> None:
        self.settings, self.reader, self.catalog, self.holder = settings, reader, catalog, holder
        self.store = reader.store
        self.retriever = Retriever(settings, reader, catalog)
        self.rooms = RoomRanking(settings, reader, catalog)
        self.rules = rules or RuleConfig()
        self.rng = np.random.default_rng(seed)
        self._plans: dict[str, ServicePlan] = {}
        # How candidate features are read: the reader's columns (the benchmark swaps it).
        self.read_columns: ColumnsReader = reader.columns

    def _plan(self, service: str) -> ServicePlan:
        """The ranker's service plus the fresh product counters, read in one batched call."""
        plan = self._plans.get(service)
        if plan is None:
            ranker, live = plan_service(self.store, service), plan_service(self.store, LIVE_SERVICE)
            plan = ServicePlan(service, ranker.views + live.views, ranker.on_demand)
            self._plans[service] = plan
        return plan

    def prepare(self, request: ViewerRequest, live: dict[str, int]) -> Prepared:
        """Retrieval and the feature fetch of one request (see :meth:`prepare_many`)."""
        return self.prepare_many([request], live)[0]

    def prepare_many(
        self, requests: Sequence[ViewerRequest], live: dict[str, int]
    ) -> list[Prepared]:
        """The viewers' contexts and the room ranker's rows (one read each), retrieval per
        request, then one feature read and one build of the ranker's inputs over all their
        candidate rows (raises if the online store is unreachable).

        A replica prepares the requests that wait together as one batch (:mod:`serving.coalesce`):
        the read and the input build cost about the same for 8 x 500 rows as for 500, since
        their cost is per view and per column, not per row. Each request's timings show its
        batch's feature and input stages.
        """
        ranker = self.holder.ranker
        version = ranker.version if ranker is not None else None
        began = time.perf_counter()
        contexts = self.retriever.contexts([r.viewer_id for r in requests])
        context_ms = _ms(began) / max(len(requests), 1)
        out: list[Prepared] = []
        for request, context in zip(requests, contexts, strict=True):
            began = time.perf_counter()
            candidates = self.retriever.retrieve(request, context, live)
            timings = {"retrieve": context_ms + _ms(began)}
            out.append(Prepared(request, context, candidates, live, version, timings))
        self._read_rooms(out, live)
        reading = [p for p in out if p.candidates.products] if ranker is not None else []
        if ranker is None or not reading:
            return out
        began = time.perf_counter()
        plan = self._plan(ranker.feature_service)
        columns = self.read_columns(plan, self._entities(reading))
        impressions = _counts(columns, f.PRODUCT_IMPRESSIONS_30M)
        clicks = _counts(columns, f.PRODUCT_CLICKS_30M)
        features_ms = _ms(began)
        began = time.perf_counter()
        known = any(p.context is not None and p.context.known for p in reading)
        inputs = ranker.inputs(columns) if known else None
        inputs_ms = _ms(began)
        start = 0
        for p in reading:
            rows = slice(start, start + len(p.candidates.codes))
            start = rows.stop
            p.fresh = FreshCounts(impressions[rows], clicks[rows])
            p.timings["features"] = features_ms
            if inputs is not None and p.context is not None and p.context.known:
                p.inputs = inputs.take(rows)
                p.timings["inputs"] = inputs_ms
        return out

    def _read_rooms(self, batch: list[Prepared], live: dict[str, int]) -> None:
        """The room ranker's rows for the batch's viewers, read once for all of them (with the
        features, off the event loop where the store is networked)."""
        now = self.retriever.live_now(live)
        reads = self.rooms.read([p.request.viewer_id for p in batch], now)
        for p in batch:
            p.rooms = reads

    def _entities(self, batch: list[Prepared]) -> dict[str, Any]:
        """The candidate rows' entity columns, request after request, as codes: the catalogue's
        products and their streamers, and the batch's own viewers."""
        catalog = self.catalog
        codes = np.concatenate([p.candidates.codes for p in batch])
        viewers = KeyUniverse((p.request.viewer_id for p in batch), lasting=False)
        viewer_codes = np.repeat(
            [viewers.code[p.request.viewer_id] for p in batch],
            [len(p.candidates.codes) for p in batch],
        )
        return {
            c.VIEWER_ID: CodedKeys(viewers, viewer_codes),
            c.PRODUCT_ID: CodedKeys(catalog.product_keys, codes),
            c.STREAMER_ID: CodedKeys(catalog.streamer_keys, catalog.product_streamer[codes]),
        }

    def popular(self, request: ViewerRequest, live: dict[str, int], reason: str) -> Prepared:
        """Candidates without the online store: popular products of live rooms (degraded)."""
        catalog = self.catalog
        live_streamers = catalog.live_streamers(live)
        products = [
            p
            for p in catalog.popular
            if not (request.filters.live_only and live_streamers)
            or catalog.streamer_of[p] in live_streamers
        ]
        filters = request.filters
        if filters.categories:
            wanted = set(filters.categories)
            products = [p for p in products if catalog.category_of[p] in wanted]
        if filters.max_price is not None:
            products = [p for p in products if catalog.price_of[p] <= filters.max_price]
        products = products[: self.settings.candidates_per_request]
        candidates = Candidates.of(catalog, products, Source.POPULAR)
        version = self.holder.version
        return Prepared(request, None, candidates, live, version, degraded=[reason])

    def recommend(self, request: ViewerRequest, live: dict[str, int]) -> ViewerResponse:
        prepared = self.prepare(request, live)
        scores = None
        ranker = self.holder.ranker
        if ranker is not None and prepared.inputs is not None and prepared.rankable:
            began = time.perf_counter()
            scores = score_inputs(ranker, [prepared.inputs])[0]
            prepared.timings["rank"] = _ms(began)
        return self.finish(prepared, scores)

    def finish(self, prepared: Prepared, scores: np.ndarray | None) -> ViewerResponse:
        """Rules, exploration and explanations; popularity / cold-start order without scores."""
        began = time.perf_counter()
        request, catalog = prepared.request, self.catalog
        products = prepared.candidates.products
        cold = prepared.context is not None and not prepared.context.known
        degraded = list(prepared.degraded)
        if scores is None and not cold and not degraded:
            degraded.append("no model" if self.holder.ranker is None else "ranking unavailable")
        model_scored = scores is not None
        if scores is None:
            scores = self._fallback_scores(products, prepared)
        p_click, p_buy = scores[:, 0], scores[:, 1]
        fresh = prepared.fresh or FreshCounts(np.zeros(len(products)), np.zeros(len(products)))
        impressions, clicks = fresh
        alpha, beta = fresh_ctr_posterior(
            p_click, impressions, clicks, self.settings.exploration_prior_strength
        )
        blended = blend_scores(alpha / (alpha + beta), p_buy)
        # Explore only around the model's estimates: a fallback order has no prior to explore from.
        budget = self.settings.exploration_budget if request.explore and model_scored else 0.0
        order, explored = explore_exploit(blended, alpha, beta, budget, request.k, self.rng)
        codes = prepared.candidates.codes
        recent = catalog.product_keys.codes(_recent_purchases(prepared))
        allowed = catalog.product_in_stock[codes] & ~np.isin(codes, recent)
        streamer_codes, category_codes = (
            catalog.product_streamer[codes],
            catalog.product_category[codes],
        )
        streamers = CodedKeys(catalog.streamer_keys, streamer_codes)
        categories = CodedKeys(catalog.category_keys, category_codes)
        chosen = select(
            order, streamer_codes.tolist(), category_codes.tolist(), allowed, request.k, self.rules
        )
        why = self._drivers(prepared, chosen, blended, explored)
        now = self.retriever.live_now(prepared.live)
        room_of = now.room_of
        items = []
        for i, (driver, _) in zip(chosen, why, strict=True):
            product = products[i]
            sources = prepared.candidates.sources_of(i)
            items.append(
                RecommendedProduct(
                    product_id=product,
                    streamer_id=streamers[i],
                    room_id=room_of.get(streamers[i]),
                    category=categories[i],
                    price=catalog.price_of[product],
                    score=round(float(blended[i]), 6),
                    p_click=round(float(p_click[i]), 6),
                    p_purchase=round(float(p_buy[i]), 6),
                    sources=sources,
                    driver=driver,
                    explanation=explanation(driver, categories[i], sources),
                )
            )
        prepared.timings["rules_explain"] = _ms(began)
        return ViewerResponse(
            viewer_id=request.viewer_id,
            products=items,
            rooms=self.rooms.rank(
                request.viewer_id,
                products,
                streamer_codes,
                blended,
                now,
                prepared.live,
                request.k,
                prepared.rooms,
            ),
            model_version=prepared.version if not cold else None,
            degraded=bool(degraded),
            degraded_reasons=degraded,
            cold_start=cold,
            candidates=len(products),
            timings_ms={k: round(v, 3) for k, v in prepared.timings.items()},
        )

    def _fallback_scores(self, products: list[str], prepared: Prepared) -> np.ndarray:
        """Popularity in the viewer's context, plus text similarity to the current room."""
        pop = np.array([self.catalog.popularity.get(p, 0.0) for p in products], dtype=np.float64)
        pop = pop / (pop.max() if len(pop) and pop.max() > 0 else 1.0)
        boost = prepared.candidates.found_by(Source.CURRENT_ROOM)
        vector = prepared.candidates.found_by(Source.VECTOR)
        score = 0.2 * pop + 0.05 * boost + 0.05 * vector
        return np.stack([score, score * 0.1], axis=1)

    def _drivers(
        self, prepared: Prepared, chosen: list[int], blended: np.ndarray, explored: set[int]
    ) -> list[tuple[Driver, float]]:
        ranker = self.holder.ranker
        if (
            ranker is None
            or prepared.inputs is None
            or not chosen
            or ranker.version != prepared.version
        ):
            return [
                (Driver.EXPLORATION if i in explored else Driver.POPULARITY, 0.0) for i in chosen
            ]

        def score(x: RankerInputs) -> np.ndarray:
            s = ranker.predict(x)
            return np.asarray(blend_scores(s[:, 0], s[:, 1]))

        features = list(ranker.record.config.get("numeric_features", []))
        mean = ranker.model.mean.numpy()
        found = drivers(prepared.inputs.take(np.asarray(chosen)), features, mean, score)
        return [
            (Driver.EXPLORATION, 0.0) if i in explored else d
            for i, d in zip(chosen, found, strict=True)
        ]


def _counts(columns: FeatureColumns, name: str) -> np.ndarray:
    values = columns.numbers(name)
    if values is None:
        return np.zeros(len(columns))
    return np.where(np.isnan(values), 0.0, values)


def _recent_purchases(prepared: Prepared) -> list[str]:
    """Products the viewer bought in the last day (not shown again right away)."""
    if prepared.context is None:
        return []
    return [str(p) for p in (prepared.context.values.get(f.LAST_PURCHASES) or [])]


def _ms(began: float) -> float:
    return (time.perf_counter() - began) * 1000
