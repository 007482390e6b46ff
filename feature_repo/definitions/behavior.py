"""Viewer behaviour: event counts over the last 1/5/30/1440 minutes and the last items seen.

Fed offline by the feature job and online by serving's event push (push source).
"""

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Array, Int64, String

from feature_repo.definitions.entities import viewer
from feature_repo.definitions.sources import file_source, push_source
from livecart.core import feature_names as f

_batch = file_source(f.FeatureTable.VIEWER_BEHAVIOR)
viewer_behavior_push = push_source(f.FeatureTable.VIEWER_BEHAVIOR, _batch)

viewer_behavior = FeatureView(
    name=f.FeatureTable.VIEWER_BEHAVIOR.value,
    entities=[viewer],
    ttl=timedelta(days=1),
    schema=[
        *(Field(name=name, dtype=Int64) for name in f.BEHAVIOR_EVENT_COUNTS),
        Field(name=f.CLICKS_30M, dtype=Int64),
        Field(name=f.CARTS_1440M, dtype=Int64),
        Field(name=f.PURCHASES_1440M, dtype=Int64),
        Field(name=f.LAST_ROOMS, dtype=Array(String)),
        Field(name=f.LAST_PRODUCTS, dtype=Array(String)),
        Field(name=f.LAST_PURCHASES, dtype=Array(String)),
    ],
    source=viewer_behavior_push,
    online=True,
    tags={"domain": "behavior", "freshness": "push"},
)
