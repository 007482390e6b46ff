"""The one oracle of a generated world: the planted P(click), P(cart | click), P(buy | cart).

The generator keeps its ground truth (viewer tastes, the attribute each viewer seeks and price
sensitivity, product quality and text-only attribute, favourite streamers) under ``settings.truth_dir`` (file names in :mod:`livecart.core.contract`).
:class:`Oracle` applies the world's own funnel
(:func:`livecart.simulation.world.behavior.funnel_probabilities`) to any viewer x product: the
replay's simulated viewers answer with it, and its AUC on purchase labels is the ceiling a ranker
can approach (:func:`purchase_probability`, passed to ``livecart train`` as its reference).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from livecart.core import contract as c
from livecart.core.errors import LivecartError
from livecart.core.settings import LivecartSettings
from livecart.simulation.world.behavior import funnel_probabilities, planted_taste

CATEGORY_INDEX = {name: i for i, name in enumerate(c.CATEGORIES)}


@dataclass(frozen=True)
class Oracle:
    """The planted truth of the world's viewers and products, indexed for the funnel."""

    viewers: dict[str, int]
    taste: np.ndarray  # (viewers, categories)
    sensitivity: np.ndarray  # (viewers,)
    products: dict[str, int]
    category: np.ndarray  # (products,) category index
    price: np.ndarray
    typical: np.ndarray
    quality: np.ndarray
    attribute: np.ndarray  # (products,) text-only attribute, -1: none
    seeks: np.ndarray  # (viewers,) attribute sought, -1: none
    in_stock: np.ndarray
    streamer: list[str]
    favourites: frozenset[tuple[str, str]]

    def funnel(
        self, viewer: str, products: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One viewer and several products (the product's own streamer for favourites)."""
        idx = np.array([self.products[p] for p in products], dtype=int)
        favourite = np.array(
            [(viewer, self.streamer[i]) in self.favourites for i in idx], dtype=np.float64
        )
        return self.funnel_rows(np.full(idx.size, self.viewers[viewer]), idx, favourite)

    def funnel_rows(
        self, viewer_idx: np.ndarray, product_idx: np.ndarray, favourite: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row-wise: viewer and product positions and whether the streamer is a favourite."""
        return funnel_probabilities(
            planted_taste(
                self.taste[viewer_idx, self.category[product_idx]],
                self.seeks[viewer_idx],
                self.attribute[product_idx],
            ),
            self.quality[product_idx],
            self.price[product_idx],
            self.typical[product_idx],
            self.sensitivity[viewer_idx],
            favourite,
            self.in_stock[product_idx],
        )


def has_truth(settings: LivecartSettings) -> bool:
    return (settings.truth_dir / f"{c.TRUTH_VIEWERS}.parquet").exists()


def load_oracle(settings: LivecartSettings, products: pd.DataFrame | None = None) -> Oracle:
    """The planted truth of the world in ``settings.home`` (a generated world only).

    ``products``: the catalogue indexed by product id (default: the clean products table)."""
    truth = settings.truth_dir
    if not has_truth(settings):
        raise LivecartError(
            f"no planted truth in {truth} (only a generated world has one); run `livecart generate`"
        )
    if products is None:
        products = (
            pq.read_table(settings.clean_dir / "products.parquet")
            .to_pandas()
            .set_index(c.PRODUCT_ID)
        )
    viewers = pq.read_table(truth / f"{c.TRUTH_VIEWERS}.parquet").to_pandas()
    quality = (
        pq.read_table(truth / f"{c.TRUTH_PRODUCTS}.parquet").to_pandas().set_index(c.PRODUCT_ID)
    )
    products = products.join(quality, how="inner")
    favourites = ds.dataset(str(truth / c.TRUTH_FAVOURITES), format="parquet").to_table()
    return Oracle(
        viewers={str(v): i for i, v in enumerate(viewers[c.VIEWER_ID])},
        taste=np.array(viewers["taste"].tolist(), dtype=np.float64),
        sensitivity=viewers["price_sensitivity"].to_numpy(dtype=np.float64),
        products={str(p): i for i, p in enumerate(products.index)},
        category=products[c.CATEGORY].map(CATEGORY_INDEX).to_numpy(dtype=int),
        price=products[c.PRICE].to_numpy(dtype=np.float64),
        typical=products["typical_price"].to_numpy(dtype=np.float64),
        quality=products["quality"].to_numpy(dtype=np.float64),
        attribute=_column(products, "attribute"),
        seeks=_column(viewers, "seeks_attribute"),
        in_stock=(products[c.STOCK].fillna(1).to_numpy() > 0).astype(np.float64),
        streamer=[str(s) for s in products[c.STREAMER_ID]],
        favourites=frozenset(
            zip(
                favourites.column(c.VIEWER_ID).to_pylist(),
                favourites.column(c.STREAMER_ID).to_pylist(),
                strict=True,
            )
        ),
    )


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """An attribute column of the truth (-1 everywhere for a world generated before it)."""
    if name not in frame:
        return np.full(len(frame), -1, dtype=np.int64)
    return frame[name].fillna(-1).to_numpy(dtype=np.int64)


def purchase_probability(settings: LivecartSettings, rows: pd.DataFrame) -> np.ndarray:
    """P(click) * P(cart | click) * P(buy | cart) for each (viewer, product, streamer) row."""
    oracle = load_oracle(settings)
    viewer_idx = np.array([oracle.viewers[str(v)] for v in rows[c.VIEWER_ID]], dtype=int)
    product_idx = np.array([oracle.products[str(p)] for p in rows[c.PRODUCT_ID]], dtype=int)
    favourite = np.array(
        [
            (str(a), str(b)) in oracle.favourites
            for a, b in zip(rows[c.VIEWER_ID], rows[c.STREAMER_ID], strict=True)
        ],
        dtype=np.float64,
    )
    click, cart, buy = oracle.funnel_rows(viewer_idx, product_idx, favourite)
    return np.asarray(click * cart * buy)


def oracle_reference(settings: LivecartSettings) -> Callable[[pd.DataFrame], np.ndarray] | None:
    """:func:`purchase_probability` for this home's examples, or None without planted truth."""
    if not has_truth(settings):
        return None
    return lambda rows: purchase_probability(settings, rows)
