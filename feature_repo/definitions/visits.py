"""Visits: the rows the room ranker's signals are computed from (repeat, recency, availability).

Fed offline by the feature job (``livecart/features/sql/visits.py``, point in time) and online by
serving's event ingest (push sources), so a replica reads them as the evaluation does.
"""

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Array, Int64, String

from feature_repo.definitions.entities import streamer, viewer
from feature_repo.definitions.sources import file_source, push_source
from livecart.core import feature_names as f

viewer_visits_push = push_source(
    f.FeatureTable.VIEWER_VISITS, file_source(f.FeatureTable.VIEWER_VISITS)
)
streamer_visits_push = push_source(
    f.FeatureTable.STREAMER_VISITS, file_source(f.FeatureTable.STREAMER_VISITS)
)

viewer_visits = FeatureView(
    name=f.FeatureTable.VIEWER_VISITS.value,
    entities=[viewer],
    ttl=timedelta(days=400),
    schema=[
        Field(name=f.VISIT_STREAMERS, dtype=Array(String)),
        Field(name=f.VISIT_UNITS, dtype=Array(Int64)),
    ],
    source=viewer_visits_push,
    online=True,
    tags={"domain": "behavior", "freshness": "push", "model": "room_ranker"},
)

streamer_visits = FeatureView(
    name=f.FeatureTable.STREAMER_VISITS.value,
    entities=[streamer],
    ttl=timedelta(days=400),
    schema=[
        Field(name=f.STREAMER_VISIT_UNITS, dtype=Array(Int64)),
        Field(name=f.STREAMER_VISIT_COUNTS, dtype=Array(Int64)),
        Field(name=f.STREAMER_VISITS_TOTAL, dtype=Int64),
        Field(name=f.STREAMER_PREVIOUS_UNIT, dtype=Int64),
    ],
    source=streamer_visits_push,
    online=True,
    tags={"domain": "interaction", "freshness": "push", "model": "room_ranker"},
)
