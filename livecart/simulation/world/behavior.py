"""Viewer behaviour: visits, room choice, watching, engagement and the purchase funnel.

One call simulates a contiguous block of viewers with its own seeded generator, so blocks can run
as independent Ray tasks and the result does not depend on how they are scheduled. Rooms can only
be seen while live (a 5-minute live grid), favourite streamers make viewers come back (repeat
watching), category taste, the attribute a viewer seeks (named only in product texts) and price
sensitivity drive the funnel impression -> click -> cart -> purchase, and comment wording follows
satisfaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from livecart.core import contract as c
from livecart.simulation.world.catalog import SLOT_SECONDS, TYPICAL_PRICE, Catalog
from livecart.simulation.world.config import WorldConfig
from livecart.simulation.world.text import comment_texts

ROOM_IMPRESSIONS = 4
ATTRIBUTE_WEIGHT = 2.5
"""Taste added when a product has the attribute its viewer seeks (a text-only preference)."""


def sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out


def planted_taste(
    category_taste: np.ndarray, seeks: np.ndarray, attribute: np.ndarray
) -> np.ndarray:
    """A viewer's taste for a product: its category taste, plus :data:`ATTRIBUTE_WEIGHT` where
    the product has the attribute the viewer seeks (row-wise)."""
    match = (attribute >= 0) & (attribute == seeks)
    out: np.ndarray = category_taste + ATTRIBUTE_WEIGHT * match
    return out


def funnel_probabilities(
    taste: np.ndarray,
    quality: np.ndarray,
    price: np.ndarray,
    typical_price: np.ndarray,
    price_sensitivity: np.ndarray,
    favourite: np.ndarray,
    in_stock: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The planted P(click | shown), P(cart | click), P(buy | cart); the evaluation oracle too."""
    price_term = price_sensitivity * np.log(price / typical_price)
    click = sigmoid(-2.2 + 0.9 * taste + 0.5 * quality - price_term + 0.5 * favourite)
    cart = sigmoid(-1.0 + 0.6 * taste + 0.4 * quality - 0.7 * price_term)
    buy = sigmoid(-0.2 + 0.5 * quality - 0.5 * price_term) * in_stock
    return click, cart, buy


@dataclass
class _Events:
    """Columnar event buffers (indices into the catalog; -1 means null)."""

    kind: list[np.ndarray]
    time: list[np.ndarray]
    viewer: list[np.ndarray]
    room: list[np.ndarray]
    product: list[np.ndarray]
    watch: list[np.ndarray]
    amount: list[np.ndarray]
    gift: list[np.ndarray]
    text: list[np.ndarray]
    label: list[np.ndarray]

    def add(
        self, kind: str, time: np.ndarray, viewer: np.ndarray, room: np.ndarray, **extra: np.ndarray
    ) -> None:
        n = time.size
        nan = np.full(n, np.nan)
        self.kind.append(np.full(n, c.EVENT_TYPES.index(kind), dtype=np.int8))
        self.time.append(time)
        self.viewer.append(viewer)
        self.room.append(room)
        self.product.append(extra.get("product", np.full(n, -1, dtype=np.int64)))
        self.watch.append(extra.get("watch", nan))
        self.amount.append(extra.get("amount", nan))
        self.gift.append(extra.get("gift", nan))
        self.text.append(extra.get("text", np.full(n, None, dtype=object)))
        self.label.append(extra.get("label", np.full(n, None, dtype=object)))


def _favourites(cat: Catalog, taste: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k favourite streamers per viewer: popular ones in categories the viewer likes."""
    logits = np.log(cat.streamer_popularity)[None, :] + 1.5 * taste[:, cat.streamer_category]
    gumbel = rng.gumbel(size=logits.shape)
    k = min(k, logits.shape[1])
    return np.argsort(-(logits + gumbel), axis=1)[:, :k]


def simulate_block(
    cfg: WorldConfig, cat: Catalog, block: int
) -> tuple[pa.Table, dict[str, pa.Table]]:
    """Events of viewers ``[block * n, (block + 1) * n)`` and their planted truth tables
    (``favourites``; ``comment_labels``: each comment's planted kind)."""
    rng = np.random.default_rng([cfg.seed, 1, block])
    lo = block * cfg.viewers_per_chunk
    hi = min(cfg.viewers, lo + cfg.viewers_per_chunk)
    viewers = np.arange(lo, hi)
    taste = cat.viewer_taste[lo:hi]
    favourites = _favourites(cat, taste, cfg.favourites_per_viewer, rng)
    out = _Events([], [], [], [], [], [], [], [], [], [])

    visits = rng.poisson(cat.viewer_activity[lo:hi] * cfg.days)
    local = np.repeat(np.arange(hi - lo), visits)
    # Anchor each visit on a room, by popularity, at a moment while it is live.
    weight = cat.streamer_popularity[cat.room_streamer]
    anchor = rng.choice(cat.room_streamer.size, size=local.size, p=weight / weight.sum())
    t = cat.room_start[anchor] + rng.uniform(0.0, 0.95, local.size) * (
        cat.room_end[anchor] - cat.room_start[anchor]
    )
    slot = ((t - cat.start_s) // SLOT_SECONDS).astype(np.int64)
    live = cat.live_rooms[slot]  # (visits, M)
    safe = np.maximum(live, 0)
    # The grid is per 5-minute slot; keep only rooms live at the visit's exact moment.
    valid = (live >= 0) & (cat.room_start[safe] <= t[:, None]) & (cat.room_end[safe] > t[:, None])
    live_streamer = np.where(valid, cat.room_streamer[np.maximum(live, 0)], -1)
    is_fav = (live_streamer[:, :, None] == favourites[local][:, None, :]).any(axis=2)
    feed_score = np.where(
        valid, np.log(cat.streamer_popularity[np.maximum(live_streamer, 0)]) + 2.0 * is_fav, -np.inf
    )
    shown = np.argsort(-(feed_score + rng.gumbel(size=feed_score.shape)), axis=1)[
        :, :ROOM_IMPRESSIONS
    ]
    shown_valid = np.take_along_axis(valid, shown, axis=1)
    shown_room = np.take_along_axis(live, shown, axis=1)
    shown_fav = np.take_along_axis(is_fav, shown, axis=1)
    for j in range(shown.shape[1]):
        m = shown_valid[:, j]
        out.add(c.EventType.IMPRESSION, t[m], viewers[local[m]], shown_room[m, j])

    # Enter one shown room, or leave.
    room_taste = taste[local[:, None], cat.room_category[np.maximum(shown_room, 0)]]
    utility = np.where(shown_valid, room_taste + 1.5 * shown_fav, -np.inf) + rng.gumbel(
        size=shown.shape
    )
    best = utility.argmax(axis=1)
    enters = utility[np.arange(local.size), best] > 1.2 + rng.gumbel(size=local.size)
    e_local = local[enters]
    e_room = shown_room[enters, best[enters]]
    e_fav = shown_fav[enters, best[enters]].astype(np.float64)
    e_viewer = viewers[e_local]
    t_enter = t[enters] + rng.uniform(1.0, 20.0, size=e_local.size)
    out.add(c.EventType.ENTER_ROOM, t_enter, e_viewer, e_room)

    satisfaction = (
        taste[e_local, cat.room_category[e_room]] + e_fav + rng.normal(0, 0.5, e_local.size)
    )
    remaining = np.maximum(cat.room_end[e_room] - t_enter, 5.0)
    duration = np.clip(rng.lognormal(np.log(240.0) + 0.4 * satisfaction, 0.8), 5.0, remaining)
    out.add(c.EventType.WATCH, t_enter + duration, e_viewer, e_room, watch=np.round(duration, 1))

    def during(n: int, mask: np.ndarray) -> np.ndarray:
        when: np.ndarray = t_enter[mask] + rng.uniform(0.0, 1.0, n) * duration[mask]
        return when

    for kind, bias, scale in (
        (c.EventType.LIKE, -0.8, 1.0),
        (c.EventType.FOLLOW, -4.5, 0.5),
        (c.EventType.COMMENT, -1.2, 0.6),
    ):
        m = rng.random(e_local.size) < scale * sigmoid(satisfaction + bias)
        extra: dict[str, np.ndarray] = {}
        if kind is c.EventType.COMMENT:
            featured = cat.room_products[e_room[m], 0]
            extra["text"], extra["label"] = comment_texts(
                rng, satisfaction[m], cat.product_noun[featured], cfg.language
            )
        out.add(kind, during(int(m.sum()), m), e_viewer[m], e_room[m], **extra)
    m = rng.random(e_local.size) < 0.25 * sigmoid(satisfaction - 2.5)
    gift_value = np.round(rng.lognormal(0.7, 0.9, int(m.sum())), 2)
    out.add(c.EventType.GIFT, during(int(m.sum()), m), e_viewer[m], e_room[m], gift=gift_value)

    # Product funnel: the room pitches featured products while the viewer watches.
    n_shown = np.minimum(cat.room_product_count[e_room], 1 + rng.poisson(duration / 600.0))
    p_visit = np.repeat(np.arange(e_local.size), n_shown)
    slot_pick = (rng.random(p_visit.size) * cat.room_product_count[e_room[p_visit]]).astype(
        np.int64
    )
    product = cat.room_products[e_room[p_visit], slot_pick]
    p_local = e_local[p_visit]
    typical = TYPICAL_PRICE[cat.product_category[product]]
    click_p, cart_p, buy_p = funnel_probabilities(
        planted_taste(
            taste[p_local, cat.product_category[product]],
            cat.viewer_seeks[viewers[p_local]],
            cat.product_attribute[product],
        ),
        cat.product_quality[product],
        cat.product_price[product],
        typical,
        cat.viewer_price_sensitivity[viewers[p_local]],
        e_fav[p_visit],
        cat.product_in_stock[product].astype(np.float64),
    )
    t_shown = t_enter[p_visit] + rng.uniform(0.0, 0.8, p_visit.size) * duration[p_visit]
    p_viewer, p_room = e_viewer[p_visit], e_room[p_visit]
    out.add(c.EventType.IMPRESSION, t_shown, p_viewer, p_room, product=product)
    clicked = rng.random(product.size) < click_p
    carted = clicked & (rng.random(product.size) < cart_p)
    bought = carted & (rng.random(product.size) < buy_p)
    step = rng.uniform(2.0, 30.0, size=(3, product.size)).cumsum(axis=0)
    quantity = np.where(rng.random(product.size) < 0.9, 1.0, 2.0)
    for kind, mask, offset in (
        (c.EventType.CLICK, clicked, step[0]),
        (c.EventType.ADD_TO_CART, carted, step[1]),
        (c.EventType.PURCHASE, bought, step[2]),
    ):
        extra = {"product": product[mask]}
        if kind is c.EventType.PURCHASE:
            extra["amount"] = np.round(cat.product_price[product[mask]] * quantity[mask], 2)
        when = np.minimum(t_shown[mask] + offset[mask], cat.room_end[p_room[mask]])
        out.add(kind, when, p_viewer[mask], p_room[mask], **extra)

    fav_table = pa.table(
        {
            c.VIEWER_ID: cat.viewer_ids.take(pa.array(np.repeat(viewers, favourites.shape[1]))),
            c.STREAMER_ID: cat.streamer_ids.take(pa.array(favourites.ravel())),
        }
    )
    events = _to_table(out, cat, block)
    labels = np.concatenate(out.label)[np.argsort(np.concatenate(out.time), kind="stable")]
    commented = np.flatnonzero(labels != None)  # noqa: E711 (object array: element-wise)
    comment_labels = pa.table(
        {
            c.EVENT_ID: events.column(c.EVENT_ID).take(pa.array(commented)),
            "label": pa.array(labels[commented].tolist(), type=pa.string()),
        }
    )
    return events, {c.TRUTH_FAVOURITES: fav_table, c.TRUTH_COMMENT_LABELS: comment_labels}


def _to_table(out: _Events, cat: Catalog, block: int) -> pa.Table:
    time = np.concatenate(out.time)
    order = np.argsort(time, kind="stable")
    kind = np.concatenate(out.kind)[order]
    room = np.concatenate(out.room)[order]
    product = np.concatenate(out.product)[order]
    n = time.size
    event_ids = pc.binary_join_element_wise(
        f"e{block:05d}-", pa.array(np.arange(n).astype(str)), ""
    )
    product_idx = pa.array(np.maximum(product, 0), mask=product < 0)

    def floats(parts: list[np.ndarray]) -> pa.Array:
        values = np.concatenate(parts)[order]
        return pa.array(values, mask=np.isnan(values))

    return pa.table(
        {
            c.EVENT_ID: event_ids,
            c.EVENT_TYPE: pa.array(np.array(c.EVENT_TYPES, dtype=object)[kind], type=pa.string()),
            c.EVENT_TIMESTAMP: pa.array((time[order] * 1e6).astype(np.int64)).cast(c.UTC_TIMESTAMP),
            c.VIEWER_ID: cat.viewer_ids.take(pa.array(np.concatenate(out.viewer)[order])),
            c.ROOM_ID: cat.room_ids.take(pa.array(room)),
            c.STREAMER_ID: cat.streamer_ids.take(pa.array(cat.room_streamer[room])),
            c.PRODUCT_ID: cat.product_ids.take(product_idx),
            c.WATCH_SECONDS: floats(out.watch),
            c.AMOUNT: floats(out.amount),
            c.GIFT_VALUE: floats(out.gift),
            c.TEXT: pa.array(np.concatenate(out.text)[order], type=pa.string()),
        },
        schema=c.SCHEMAS[c.Table.EVENTS],
    )
