"""Room profile: what a live session is (streamer, category, title), known when it goes live."""

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Int64, String

from feature_repo.definitions.entities import room
from feature_repo.definitions.sources import file_source
from livecart.core import feature_names as f

room_profile = FeatureView(
    name=f.FeatureTable.ROOM_PROFILE.value,
    entities=[room],
    ttl=timedelta(days=2),
    schema=[
        Field(name=f.ROOM_STREAMER_ID, dtype=String),
        Field(name=f.ROOM_CATEGORY, dtype=String),
        Field(name=f.ROOM_TITLE, dtype=String),
        Field(name=f.ROOM_START_UNIX, dtype=Int64),
    ],
    source=file_source(f.FeatureTable.ROOM_PROFILE),
    online=True,
    tags={"domain": "room"},
)
