"""On-demand features computed at request time from other views."""

import pandas as pd
from feast import Field
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64

from feature_repo.definitions.product import product_profile
from feature_repo.definitions.viewer import viewer_profile
from livecart import feature_names as f


@on_demand_feature_view(
    sources=[product_profile, viewer_profile],
    schema=[Field(name=f.PRICE_TO_TYPICAL_SPEND, dtype=Float64)],
    mode="pandas",
)
def price_vs_viewer_spend(inputs: pd.DataFrame) -> pd.DataFrame:
    """Product price relative to the viewer's average order value (1.0 when no orders yet)."""
    spend = inputs["viewer_avg_order_value"].astype("float64")
    price = inputs["product_price"].astype("float64")
    ratio = (price / spend.where(spend > 0)).fillna(1.0)
    return pd.DataFrame({"price_to_typical_spend": ratio})
