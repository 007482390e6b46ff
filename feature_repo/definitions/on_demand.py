"""On-demand features computed at request time from other views."""

from typing import Any

from feast import Field
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64

from feature_repo.definitions.product import product_profile
from feature_repo.definitions.viewer import viewer_profile
from livecart.core import feature_names as f


# Sources projected to the two columns the transformation reads: Feast hands the UDF every column
# of its sources, for every row it scores. Python mode: a dict of columns in, a dict out. Feast
# hands lists (online and offline); livecart's serving path hands the same columns as numpy arrays
# (nulls as NaN), without the pandas frames of pandas mode (two frames per request cost more than
# the arithmetic).
@on_demand_feature_view(
    sources=[
        product_profile[[f.PRODUCT_PRICE]],
        viewer_profile[[f.VIEWER_AVG_ORDER_VALUE]],
    ],
    schema=[Field(name=f.PRICE_TO_TYPICAL_SPEND, dtype=Float64)],
    mode="python",
)
def price_vs_viewer_spend(inputs: dict[str, Any]) -> dict[str, Any]:
    """Product price relative to the viewer's average order value (1.0 when no orders yet)."""
    # Literal names and imports inside: Feast rebuilds this function from its source text,
    # without module globals.
    import numpy as np

    # float64 turns None (a missing value in Feast's lists) into NaN
    spend = np.asarray(inputs["viewer_avg_order_value"], dtype="float64")
    price = np.asarray(inputs["product_price"], dtype="float64")
    ratio = np.full(len(price), np.nan)
    np.divide(price, spend, out=ratio, where=spend > 0)
    ratio = np.where(np.isnan(ratio), 1.0, ratio)
    return {"price_to_typical_spend": ratio.tolist()}
