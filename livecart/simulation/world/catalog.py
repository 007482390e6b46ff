"""The synthetic catalog: streamers, their live rooms, products and viewers with planted tastes.

Latent ground truth (viewer category tastes, price sensitivity, activity; product quality) is
kept in :class:`Catalog` and written to the truth directory so evaluation can compare models with
the planted-preference oracle. Only observable attributes go to the raw tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa

from livecart.core import contract as c
from livecart.simulation.world.config import WorldConfig
from livecart.simulation.world.text import (
    ATTRIBUTES,
    made_up_name,
    product_text,
    room_title,
    shopping_for,
    with_attribute,
)

N_CAT = len(c.CATEGORIES)
# Typical price per category; price sensitivity acts on log(price / typical).
TYPICAL_PRICE = np.array([45, 25, 90, 35, 12, 40, 30, 18, 70, 22, 60, 55], dtype=np.float64)
SLOT_SECONDS = 300
ATTRIBUTE_SHARE = 0.8
"""Share of products with one of the text-only attributes (named in title and description)."""
SEEKER_SHARE = 0.8
"""Share of viewers who seek one attribute (independent of their category tastes)."""


@dataclass(frozen=True)
class Catalog:
    """Arrays the behaviour simulation indexes into, plus the raw tables to write."""

    start_s: float
    streamer_category: np.ndarray  # (S,) category index
    streamer_popularity: np.ndarray  # (S,) sums to 1, Zipf-like
    room_streamer: np.ndarray  # (R,)
    room_category: np.ndarray  # (R,)
    room_start: np.ndarray  # (R,) epoch seconds
    room_end: np.ndarray  # (R,)
    room_products: np.ndarray  # (R, F) product index, -1 padded
    room_product_count: np.ndarray  # (R,)
    product_category: np.ndarray  # (P,)
    product_price: np.ndarray  # (P,)
    product_quality: np.ndarray  # (P,)
    product_in_stock: np.ndarray  # (P,) bool
    product_noun: np.ndarray  # (P,) object: the noun comments mention
    product_attribute: np.ndarray  # (P,) attribute index named in the product's text, -1: none
    viewer_seeks: np.ndarray  # (V,) attribute index the viewer seeks, -1: none
    live_rooms: np.ndarray  # (slots, M) room index live in each 5-minute slot, -1 padded
    viewer_taste: np.ndarray  # (V, N_CAT) category utility (logits)
    viewer_price_sensitivity: np.ndarray  # (V,)
    viewer_activity: np.ndarray  # (V,) mean visits per day
    viewer_ids: pa.Array
    streamer_ids: pa.Array
    room_ids: pa.Array
    product_ids: pa.Array
    tables: dict[c.Table, pa.Table]
    truth: dict[str, pa.Table]


def _ids(prefix: str, n: int) -> pa.Array:
    width = max(4, len(str(n)))
    return pa.array([f"{prefix}{i:0{width}d}" for i in range(n)], type=pa.string())


def _ts(seconds: np.ndarray) -> pa.Array:
    return pa.array((seconds * 1e6).astype("int64"), type=pa.int64()).cast(c.UTC_TIMESTAMP)


def _streamers(
    cfg: WorldConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    category = rng.integers(0, N_CAT, size=cfg.streamers)
    ranks = rng.permutation(cfg.streamers) + 1
    popularity = 1.0 / ranks.astype(np.float64) ** 1.1
    handles = [f"{made_up_name(rng)}{i}" for i in range(cfg.streamers)]
    return category, popularity / popularity.sum(), handles


def _rooms(
    cfg: WorldConfig, rng: np.random.Generator, start_s: float, popularity: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At most one session per streamer per day, evening-heavy, one to four hours long."""
    live_prob = 0.45 + 0.5 * popularity / popularity.max()
    goes_live = rng.random((cfg.days, cfg.streamers)) < live_prob[None, :]
    day, streamer = np.nonzero(goes_live)
    start_hour = np.clip(rng.normal(19.0, 3.0, size=day.size), 7.0, 22.5)
    duration_h = rng.uniform(1.0, 4.0, size=day.size)
    start = start_s + day * 86_400.0 + start_hour * 3_600.0
    end = start + duration_h * 3_600.0
    order = np.argsort(start, kind="stable")
    return streamer[order], start[order], end[order]


def _live_grid(
    room_start: np.ndarray, room_end: np.ndarray, start_s: float, days: int
) -> np.ndarray:
    slots = int(np.ceil((days + 1) * 86_400 / SLOT_SECONDS))
    first = ((room_start - start_s) // SLOT_SECONDS).astype(np.int64)
    last = np.minimum(((room_end - start_s) // SLOT_SECONDS).astype(np.int64), slots - 1)
    counts = np.zeros(slots + 1, dtype=np.int64)
    np.add.at(counts, first, 1)
    np.add.at(counts, last + 1, -1)
    width = max(1, int(np.cumsum(counts)[:-1].max()))
    grid = np.full((slots, width), -1, dtype=np.int64)
    fill = np.zeros(slots, dtype=np.int64)
    for room, (a, b) in enumerate(zip(first, last, strict=True)):
        span = np.arange(a, b + 1)
        grid[span, fill[span]] = room
        fill[span] += 1
    return grid


def build_catalog(cfg: WorldConfig) -> Catalog:
    """Build the catalog deterministically from ``cfg.seed``."""
    rng = np.random.default_rng([cfg.seed, 0])
    start_s = cfg.start.timestamp()
    s_cat, s_pop, handles = _streamers(cfg, rng)
    r_streamer, r_start, r_end = _rooms(cfg, rng, start_s, s_pop)
    r_cat = s_cat[r_streamer]

    # Products: mostly in the streamer's category.
    n_prod = rng.integers(
        cfg.products_per_streamer[0], cfg.products_per_streamer[1] + 1, cfg.streamers
    )
    p_streamer = np.repeat(np.arange(cfg.streamers), n_prod)
    own = rng.random(p_streamer.size) < 0.75
    p_cat = np.where(own, s_cat[p_streamer], rng.integers(0, N_CAT, size=p_streamer.size))
    p_price = np.round(TYPICAL_PRICE[p_cat] * rng.lognormal(0.0, 0.5, size=p_cat.size), 2)
    p_quality = rng.normal(0.0, 1.0, size=p_cat.size)
    p_rating = np.round(
        np.clip(3.9 + 0.5 * p_quality + rng.normal(0, 0.3, p_cat.size), 1.0, 5.0), 1
    )
    p_stock = np.where(rng.random(p_cat.size) < 0.05, 0, rng.integers(5, 500, size=p_cat.size))
    brands = [[made_up_name(rng) for _ in range(6)] for _ in range(N_CAT)]
    p_brand = [str(rng.choice(brands[k])) for k in p_cat]
    texts = [
        product_text(rng, c.CATEGORIES[k], brand, cfg.language)
        for k, brand in zip(p_cat, p_brand, strict=True)
    ]
    # Text-only preferences draw from their own generator: the rest of the world stays as it was.
    text_rng = np.random.default_rng([cfg.seed, 11])
    n_attributes = len(ATTRIBUTES[cfg.language])
    p_attribute = np.where(
        text_rng.random(p_cat.size) < ATTRIBUTE_SHARE,
        text_rng.integers(0, n_attributes, p_cat.size),
        -1,
    )
    v_seeks = np.where(
        text_rng.random(cfg.viewers) < SEEKER_SHARE,
        text_rng.integers(0, n_attributes, cfg.viewers),
        -1,
    )
    texts = [
        (*with_attribute(title, description, int(a), cfg.language), noun)
        for (title, description, noun), a in zip(texts, p_attribute, strict=True)
    ]

    # Featured products per room: a subset of the streamer's catalogue.
    first_product = np.concatenate([[0], np.cumsum(n_prod)[:-1]])
    width = cfg.featured_per_room[1]
    room_products = np.full((r_streamer.size, width), -1, dtype=np.int64)
    room_count = np.zeros(r_streamer.size, dtype=np.int64)
    for r, s in enumerate(r_streamer):
        k = int(min(n_prod[s], rng.integers(cfg.featured_per_room[0], width + 1)))
        chosen = first_product[s] + rng.choice(n_prod[s], size=k, replace=False)
        room_products[r, :k] = chosen
        room_count[r] = k

    # Viewers: peaky category tastes, heavy-tailed activity.
    taste = rng.normal(0.0, 1.0, size=(cfg.viewers, N_CAT)) + 2.5 * (
        rng.random((cfg.viewers, N_CAT)) < 2.0 / N_CAT
    )
    price_sensitivity = rng.lognormal(-0.3, 0.4, size=cfg.viewers)
    activity = cfg.visits_per_viewer_day * rng.lognormal(-0.32, 0.8, size=cfg.viewers)
    noisy = taste + rng.normal(0.0, 0.7, size=taste.shape)
    top = np.argsort(-noisy, axis=1)[:, :2]
    categories = np.array(c.CATEGORIES, dtype=object)

    viewer_ids, streamer_ids = _ids("v", cfg.viewers), _ids("s", cfg.streamers)
    room_ids, product_ids = _ids("r", r_streamer.size), _ids("p", p_cat.size)
    signup = start_s - rng.uniform(86_400, 400 * 86_400, size=cfg.viewers)
    row_room, row_slot = np.nonzero(room_products >= 0)
    tables = {
        c.Table.VIEWERS: pa.table(
            {
                c.VIEWER_ID: viewer_ids,
                c.SIGNUP_TIMESTAMP: _ts(signup),
                c.AGE_BAND: rng.choice(c.AGE_BANDS, size=cfg.viewers),
                c.REGION: rng.choice(c.REGIONS, size=cfg.viewers),
                c.DEVICE: rng.choice(c.DEVICES, size=cfg.viewers),
                c.INTEREST_CATEGORIES: [list(categories[row]) for row in top],
                c.SHOPPING_FOR: shopping_for(text_rng, v_seeks, cfg.language),
            },
            schema=c.SCHEMAS[c.Table.VIEWERS],
        ),
        c.Table.STREAMERS: pa.table(
            {
                c.STREAMER_ID: streamer_ids,
                c.DISPLAY_NAME: handles,
                c.MAIN_CATEGORY: categories[s_cat].tolist(),
                c.FOLLOWER_COUNT: (s_pop * 200_000 * cfg.streamers / 50).astype(np.int64),
            },
            schema=c.SCHEMAS[c.Table.STREAMERS],
        ),
        c.Table.ROOMS: pa.table(
            {
                c.ROOM_ID: room_ids,
                c.STREAMER_ID: streamer_ids.take(pa.array(r_streamer)),
                c.TITLE: [
                    room_title(rng, handles[s], c.CATEGORIES[k], cfg.language)
                    for s, k in zip(r_streamer, r_cat, strict=True)
                ],
                c.CATEGORY: categories[r_cat].tolist(),
                c.START_TIMESTAMP: _ts(r_start),
                c.END_TIMESTAMP: _ts(r_end),
            },
            schema=c.SCHEMAS[c.Table.ROOMS],
        ),
        c.Table.PRODUCTS: pa.table(
            {
                c.PRODUCT_ID: product_ids,
                c.STREAMER_ID: streamer_ids.take(pa.array(p_streamer)),
                c.TITLE: [t[0] for t in texts],
                c.DESCRIPTION: [t[1] for t in texts],
                c.CATEGORY: categories[p_cat].tolist(),
                c.BRAND: p_brand,
                c.PRICE: p_price,
                c.RATING: p_rating,
                c.STOCK: p_stock.astype(np.int64),
            },
            schema=c.SCHEMAS[c.Table.PRODUCTS],
        ),
        c.Table.ROOM_PRODUCTS: pa.table(
            {
                c.ROOM_ID: room_ids.take(pa.array(row_room)),
                c.PRODUCT_ID: product_ids.take(pa.array(room_products[row_room, row_slot])),
            },
            schema=c.SCHEMAS[c.Table.ROOM_PRODUCTS],
        ),
    }
    truth = {
        c.TRUTH_VIEWERS: pa.table(
            {
                c.VIEWER_ID: viewer_ids,
                "taste": [list(map(float, row)) for row in taste],
                "price_sensitivity": price_sensitivity,
                "activity": activity,
                "seeks_attribute": v_seeks,
            }
        ),
        c.TRUTH_PRODUCTS: pa.table(
            {
                c.PRODUCT_ID: product_ids,
                "quality": p_quality,
                "typical_price": TYPICAL_PRICE[p_cat],
                "attribute": p_attribute,
            }
        ),
        c.TRUTH_STREAMERS: pa.table({c.STREAMER_ID: streamer_ids, "popularity": s_pop}),
    }
    return Catalog(
        start_s=start_s,
        streamer_category=s_cat,
        streamer_popularity=s_pop,
        room_streamer=r_streamer,
        room_category=r_cat,
        room_start=r_start,
        room_end=r_end,
        room_products=room_products,
        room_product_count=room_count,
        product_category=p_cat,
        product_price=p_price,
        product_quality=p_quality,
        product_in_stock=p_stock > 0,
        product_noun=np.array([t[2] for t in texts], dtype=object),
        product_attribute=p_attribute,
        viewer_seeks=v_seeks,
        live_rooms=_live_grid(r_start, r_end, start_s, cfg.days),
        viewer_taste=taste,
        viewer_price_sensitivity=price_sensitivity,
        viewer_activity=activity,
        viewer_ids=viewer_ids,
        streamer_ids=streamer_ids,
        room_ids=room_ids,
        product_ids=product_ids,
        tables=tables,
        truth=truth,
    )


def world_end(cfg: WorldConfig) -> float:
    return (cfg.start + timedelta(days=cfg.days + 1)).timestamp()
