"""Viewer profile: activity, spend, click-through and category affinities (daily snapshots)."""

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Array, Float32, Float64, Int64, String

from feature_repo.definitions.entities import viewer
from feature_repo.definitions.sources import file_source
from livecart.core import contract as c
from livecart.core import feature_names as f

viewer_profile = FeatureView(
    name=f.FeatureTable.VIEWER_PROFILE.value,
    entities=[viewer],
    ttl=timedelta(days=400),
    schema=[
        Field(name=f.VIEWER_EVENTS_TOTAL, dtype=Int64),
        Field(name=f.VIEWER_ROOM_ENTERS_TOTAL, dtype=Int64),
        Field(name=f.VIEWER_WATCH_MINUTES_TOTAL, dtype=Float64),
        Field(name=f.VIEWER_PURCHASES_TOTAL, dtype=Int64),
        Field(name=f.VIEWER_SPEND_TOTAL, dtype=Float64),
        Field(name=f.VIEWER_AVG_ORDER_VALUE, dtype=Float64),
        Field(name=f.VIEWER_CTR, dtype=Float64),
        Field(name=f.VIEWER_DAYS_ACTIVE, dtype=Int64),
        Field(name=f.VIEWER_CATEGORY_AFFINITY, dtype=Array(Float32)),
        Field(name=f.VIEWER_TOP_CATEGORY, dtype=String),
        Field(name=c.AGE_BAND, dtype=String),
        Field(name=c.REGION, dtype=String),
        Field(name=c.DEVICE, dtype=String),
    ],
    source=file_source(f.FeatureTable.VIEWER_PROFILE),
    online=True,
    tags={"domain": "viewer", "cadence": "daily"},
)

viewer_segment = FeatureView(
    name=f.FeatureTable.VIEWER_SEGMENT.value,
    entities=[viewer],
    ttl=timedelta(0),
    schema=[Field(name=f.SEGMENT_ID, dtype=Int64), Field(name=f.SEGMENT_NAME, dtype=String)],
    source=file_source(f.FeatureTable.VIEWER_SEGMENT),
    online=True,
    tags={"domain": "viewer", "kind": "segment"},
)

viewer_interest = FeatureView(
    name=f.FeatureTable.VIEWER_INTEREST.value,
    entities=[viewer],
    ttl=timedelta(0),
    schema=[Field(name=f.DECLARED_INTERESTS, dtype=Array(String))],
    source=file_source(f.FeatureTable.VIEWER_INTEREST),
    online=True,
    tags={"domain": "viewer", "cadence": "sign-up"},
)
