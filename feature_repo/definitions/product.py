"""Product profile (catalogue attributes, text, CTR, conversion, popularity) and fresh live stats."""

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Float64, Int64, String

from feature_repo.definitions.entities import product
from feature_repo.definitions.sources import file_source, push_source
from livecart.core import feature_names as f

product_profile = FeatureView(
    name=f.FeatureTable.PRODUCT_PROFILE.value,
    entities=[product],
    ttl=timedelta(days=400),
    schema=[
        Field(name=f.PRODUCT_STREAMER_ID, dtype=String),
        Field(name=f.PRODUCT_TITLE, dtype=String),
        Field(name=f.PRODUCT_DESCRIPTION, dtype=String),
        Field(name=f.PRODUCT_CATEGORY, dtype=String),
        Field(name=f.PRODUCT_BRAND, dtype=String),
        Field(name=f.PRODUCT_PRICE, dtype=Float64),
        Field(name=f.PRODUCT_RATING, dtype=Float64),
        Field(name=f.PRODUCT_STOCK, dtype=Int64),
        Field(name=f.PRODUCT_IMPRESSIONS, dtype=Int64),
        Field(name=f.PRODUCT_CLICKS, dtype=Int64),
        Field(name=f.PRODUCT_CARTS, dtype=Int64),
        Field(name=f.PRODUCT_PURCHASES, dtype=Int64),
        Field(name=f.PRODUCT_CTR, dtype=Float64),
        Field(name=f.PRODUCT_CONVERSION, dtype=Float64),
        Field(name=f.PRODUCT_GMV, dtype=Float64),
    ],
    source=file_source(f.FeatureTable.PRODUCT_PROFILE),
    online=True,
    tags={"domain": "product", "cadence": "daily"},
)

_live_batch = file_source(f.FeatureTable.PRODUCT_LIVE_STATS)
product_live_stats_push = push_source(f.FeatureTable.PRODUCT_LIVE_STATS, _live_batch)

product_live_stats = FeatureView(
    name=f.FeatureTable.PRODUCT_LIVE_STATS.value,
    entities=[product],
    ttl=timedelta(hours=1),
    schema=[Field(name=name, dtype=Int64) for name in f.PRODUCT_LIVE_COUNTS],
    source=product_live_stats_push,
    online=True,
    tags={"domain": "product", "freshness": "push", "use": "exploration"},
)
