"""What every recommend replica keeps in memory: the catalogue and the slow-moving candidate lists.

Loaded once per replica from the clean offline sources with DuckDB (read-only Parquet, any number
of processes): products and their rooms, popularity, item-to-item co-occurrence (item-CF,
viewers who interacted with both within a day) and who follows whom. Fast-moving state (live
rooms, fresh counters) comes from the online store and the ingest deployment, not from here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from livecart.core import contract as c
from livecart.core.errors import LivecartError
from livecart.core.io import event_parts, table_path
from livecart.core.settings import LivecartSettings
from livecart.online.keys import KeyUniverse

CF_NEIGHBOURS = 20
POPULAR = 200


@dataclass
class Catalog:
    products: pd.DataFrame  # indexed by product_id: streamer_id, title, category, price, stock
    rooms: pd.DataFrame  # indexed by room_id: streamer_id, title, category, start, end
    room_products: dict[str, list[str]]
    streamer_products: dict[str, list[str]]
    streamer_rooms: dict[str, list[str]]
    popular: list[str]  # every product id, most popular first
    popular_by_category: dict[str, list[str]]
    neighbours: dict[str, list[str]]  # item-CF: most similar first, ties by id
    follows: dict[str, list[str]]  # viewer -> streamers followed, by id
    popularity: dict[str, float] = field(default_factory=dict)  # product -> log1p score
    # Per-product columns as dicts: the request path looks them up hundreds of times.
    streamer_of: dict[str, str] = field(default_factory=dict)
    category_of: dict[str, str] = field(default_factory=dict)
    price_of: dict[str, float] = field(default_factory=dict)
    stock_of: dict[str, float] = field(default_factory=dict)  # unknown stock counts as in stock
    title_of: dict[str, str] = field(default_factory=dict)
    room_streamer: dict[str, str] = field(default_factory=dict)
    room_title: dict[str, str] = field(default_factory=dict)
    # Products, streamers and categories as integer codes (see livecart.online.keys): per-product
    # arrays indexed by product code, for the request path's vectorized reads and rules.
    product_keys: KeyUniverse = field(default_factory=lambda: KeyUniverse([]))
    streamer_keys: KeyUniverse = field(default_factory=lambda: KeyUniverse([]))
    category_keys: KeyUniverse = field(default_factory=lambda: KeyUniverse([]))
    product_streamer: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    product_category: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    product_in_stock: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    product_price: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    _coded_lists: dict[tuple[str, str, int], np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        p = self.products
        self.streamer_of = {str(k): str(v) for k, v in p[c.STREAMER_ID].items()}
        self.category_of = {str(k): str(v) for k, v in p[c.CATEGORY].items()}
        self.price_of = {str(k): float(v) for k, v in p[c.PRICE].items()}
        self.stock_of = {str(k): float(v) for k, v in p[c.STOCK].fillna(1).items()}
        self.title_of = {str(k): str(v) for k, v in p[c.TITLE].items()}
        self.room_streamer = {str(k): str(v) for k, v in self.rooms[c.STREAMER_ID].items()}
        self.room_title = {str(k): str(v) for k, v in self.rooms[c.TITLE].items()}
        self.product_keys = KeyUniverse(self.streamer_of)
        streamers = sorted({*self.streamer_of.values(), *self.room_streamer.values()})
        self.streamer_keys = KeyUniverse(streamers)
        self.category_keys = KeyUniverse(sorted(set(self.category_of.values())))
        products = self.product_keys.values
        self.product_streamer = self.streamer_keys.codes(self.streamer_of[p] for p in products)
        self.product_category = self.category_keys.codes(self.category_of[p] for p in products)
        self.product_in_stock = np.array([self.stock_of[p] > 0 for p in products], dtype=bool)
        self.product_price = np.array([self.price_of[p] for p in products], dtype=np.float64)

    def coded(self, lists: str, key: str, limit: int | None = None) -> np.ndarray:
        """Product codes of one of the catalogue's candidate lists (``room_products``,
        ``streamer_products``, ``neighbours``, ``popular_by_category``; ``popular`` with any key),
        the first ``limit`` of them, -1 for a product outside the catalogue (kept per list)."""
        cache_key = (lists, key, -1 if limit is None else limit)
        found = self._coded_lists.get(cache_key)
        if found is None:
            values = self.popular if lists == "popular" else getattr(self, lists).get(key, [])
            found = self._coded_lists[cache_key] = self.product_keys.codes(values[:limit])
        return found

    def live_streamers(self, live: Iterable[str]) -> set[str]:
        return {self.room_streamer[r] for r in live if r in self.room_streamer}

    def live_room_of(self, live: Iterable[str]) -> dict[str, str]:
        """Streamer -> the live room it sells in now (its first live room in catalogue order),
        streamers by id (a set's order differs between processes)."""
        rooms = set(live)
        out: dict[str, str] = {}
        for streamer in sorted(self.live_streamers(rooms)):
            room = next((r for r in self.streamer_rooms.get(streamer, []) if r in rooms), None)
            if room is not None:
                out[streamer] = room
        return out


def _read(path: Path) -> pd.DataFrame:
    con = duckdb.connect()
    try:
        frame: pd.DataFrame = con.execute("SELECT * FROM read_parquet(?)", [str(path)]).df()
    finally:
        con.close()
    return frame


def load_catalog(settings: LivecartSettings) -> Catalog:
    """Build the catalogue from the clean sources (``livecart validate`` must have run)."""
    clean = settings.clean_dir
    missing = [
        t.value for t in (c.Table.PRODUCTS, c.Table.ROOMS) if not table_path(clean, t).exists()
    ]
    if missing:
        raise LivecartError(
            f"serving needs clean {missing} in {clean}; run `livecart generate` and `livecart validate`"
        )
    products = _read(table_path(clean, c.Table.PRODUCTS)).set_index(c.PRODUCT_ID)
    rooms = _read(table_path(clean, c.Table.ROOMS)).set_index(c.ROOM_ID)
    room_products: dict[str, list[str]] = defaultdict(list)
    if table_path(clean, c.Table.ROOM_PRODUCTS).exists():
        pairs = _read(table_path(clean, c.Table.ROOM_PRODUCTS))
        for room, product in zip(pairs[c.ROOM_ID], pairs[c.PRODUCT_ID], strict=True):
            room_products[str(room)].append(str(product))
    streamer_products: dict[str, list[str]] = defaultdict(list)
    for product, streamer in zip(products.index, products[c.STREAMER_ID], strict=True):
        streamer_products[str(streamer)].append(str(product))
    streamer_rooms: dict[str, list[str]] = defaultdict(list)
    for room, streamer in zip(rooms.index, rooms[c.STREAMER_ID], strict=True):
        streamer_rooms[str(streamer)].append(str(room))
    popularity, neighbours, follows = _from_events(settings, set(products.index))
    popular = sorted(products.index, key=lambda p: -popularity.get(p, 0.0))
    by_category: dict[str, list[str]] = defaultdict(list)
    for product in popular:
        by_category[str(products.at[product, c.CATEGORY])].append(str(product))
    return Catalog(
        products=products,
        rooms=rooms,
        room_products=dict(room_products),
        streamer_products=dict(streamer_products),
        streamer_rooms=dict(streamer_rooms),
        popular=[str(p) for p in popular],
        popular_by_category={k: v[:POPULAR] for k, v in by_category.items()},
        neighbours=neighbours,
        follows=follows,
        popularity=popularity,
    )


def _from_events(
    settings: LivecartSettings, known: set[str]
) -> tuple[dict[str, float], dict[str, list[str]], dict[str, list[str]]]:
    parts = [str(p) for p in event_parts(settings.clean_dir)]
    if not parts:
        return {}, {}, {}
    con = duckdb.connect()
    try:
        listed = ", ".join("'" + p.replace("'", "''") + "'" for p in parts)
        con.execute(
            f"CREATE VIEW ev AS SELECT * FROM read_parquet([{listed}], union_by_name = true)"
        )
        pop = con.execute(
            f"""
            SELECT {c.PRODUCT_ID}, ln(1 + sum(CASE {c.EVENT_TYPE} WHEN 'purchase' THEN 5
                   WHEN 'add_to_cart' THEN 2 WHEN 'click' THEN 1 ELSE 0 END)) AS score
            FROM ev WHERE {c.PRODUCT_ID} IS NOT NULL GROUP BY 1
            """
        ).fetchall()
        pairs = con.execute(
            f"""
            WITH x AS (
                SELECT DISTINCT {c.VIEWER_ID} AS v, {c.PRODUCT_ID} AS p,
                       date_trunc('day', {c.EVENT_TIMESTAMP}) AS d
                FROM ev WHERE {c.EVENT_TYPE} IN ('click', 'add_to_cart', 'purchase')
                  AND {c.PRODUCT_ID} IS NOT NULL
            ), n AS (SELECT p, count(*) AS cnt FROM x GROUP BY 1),
            co AS (
                SELECT a.p AS p, b.p AS q, count(*) AS both_
                FROM x a JOIN x b ON a.v = b.v AND a.d = b.d AND a.p <> b.p GROUP BY 1, 2
            )
            SELECT co.p, co.q, both_ / sqrt(na.cnt * nb.cnt) AS cosine
            FROM co JOIN n na ON na.p = co.p JOIN n nb ON nb.p = co.q
            QUALIFY row_number() OVER (PARTITION BY co.p ORDER BY cosine DESC, co.q) <= {CF_NEIGHBOURS}
            """
        ).fetchall()
        followed = con.execute(
            f"SELECT {c.VIEWER_ID}, list(DISTINCT {c.STREAMER_ID} ORDER BY {c.STREAMER_ID}) FROM ev "
            f"WHERE {c.EVENT_TYPE} = 'follow' GROUP BY 1"
        ).fetchall()
    finally:
        con.close()
    popularity = {str(p): float(s) for p, s in pop if p in known}
    neighbours: dict[str, list[str]] = defaultdict(list)
    # Ties by id: DuckDB's result order is not stable from run to run, and candidate order
    # decides the Thompson draws (a replayed seed gave other curves in CI without it).
    for p, q, _ in sorted(pairs, key=lambda r: (r[0], -r[2], r[1])):
        if q in known:
            neighbours[str(p)].append(str(q))
    follows = {str(v): [str(s) for s in streamers] for v, streamers in followed}
    return popularity, dict(neighbours), follows


def log_popularity(catalog: Catalog, products: list[str]) -> np.ndarray:
    return np.array([catalog.popularity.get(p, 0.0) for p in products], dtype=np.float32)
