"""The planted-preference oracle of a synthetic world: the true purchase probability of an impression.

It applies the simulator's own funnel (ray_jobs/world/behavior.py) to the planted truth, so its
AUC on purchase labels is the ceiling a ranker can approach.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from livecart import contract as c
from livecart.settings import LivecartSettings
from ray_jobs.world.behavior import funnel_probabilities


def has_truth(settings: LivecartSettings) -> bool:
    return (settings.truth_dir / "viewer_truth.parquet").exists()


def purchase_probability(settings: LivecartSettings, rows: pd.DataFrame) -> np.ndarray:
    """P(click) * P(cart | click) * P(buy | cart) for each (viewer, product, streamer) row."""
    truth = settings.truth_dir
    viewers = pq.read_table(truth / "viewer_truth.parquet").to_pandas().set_index(c.VIEWER_ID)
    products = pq.read_table(truth / "product_truth.parquet").to_pandas().set_index(c.PRODUCT_ID)
    catalog = (
        pq.read_table(settings.clean_dir / "products.parquet").to_pandas().set_index(c.PRODUCT_ID)
    )
    favourites = ds.dataset(str(truth / "favourites"), format="parquet").to_table().to_pandas()
    fav_pairs = set(zip(favourites[c.VIEWER_ID], favourites[c.STREAMER_ID], strict=True))
    category_index = {name: i for i, name in enumerate(c.CATEGORIES)}
    v = viewers.loc[rows[c.VIEWER_ID]]
    p = products.loc[rows[c.PRODUCT_ID]]
    item = catalog.loc[rows[c.PRODUCT_ID]]
    cats = item[c.CATEGORY].map(category_index).to_numpy()
    taste = np.array([row[k] for row, k in zip(v["taste"], cats, strict=True)])
    favourite = np.array(
        [(a, b) in fav_pairs for a, b in zip(rows[c.VIEWER_ID], rows[c.STREAMER_ID], strict=True)],
        dtype=np.float64,
    )
    click, cart, buy = funnel_probabilities(
        taste,
        p["quality"].to_numpy(),
        item[c.PRICE].to_numpy(),
        p["typical_price"].to_numpy(),
        v["price_sensitivity"].to_numpy(),
        favourite,
        (item[c.STOCK].to_numpy() > 0).astype(np.float64),
    )
    return np.asarray(click * cart * buy)
