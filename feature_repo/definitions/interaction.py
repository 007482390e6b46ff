"""Interaction profile: viewer x streamer affinity and live room engagement stats."""

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Float64, Int64

from feature_repo.definitions.entities import room, streamer, viewer
from feature_repo.definitions.sources import file_source, push_source
from livecart.core import feature_names as f

_affinity_batch = file_source(f.FeatureTable.VIEWER_STREAMER_AFFINITY)
viewer_streamer_affinity_push = push_source(
    f.FeatureTable.VIEWER_STREAMER_AFFINITY, _affinity_batch
)

viewer_streamer_affinity = FeatureView(
    name=f.FeatureTable.VIEWER_STREAMER_AFFINITY.value,
    entities=[viewer, streamer],
    ttl=timedelta(days=400),
    schema=[
        Field(name=f.VS_ENTERS, dtype=Int64),
        Field(name=f.VS_WATCH_MINUTES, dtype=Float64),
        Field(name=f.VS_LIKES, dtype=Int64),
        Field(name=f.VS_COMMENTS, dtype=Int64),
        Field(name=f.VS_GIFT_VALUE, dtype=Float64),
        Field(name=f.VS_PURCHASES, dtype=Int64),
        Field(name=f.VS_FOLLOWS, dtype=Int64),
    ],
    source=viewer_streamer_affinity_push,
    online=True,
    tags={"domain": "interaction", "freshness": "push"},
)

_room_batch = file_source(f.FeatureTable.ROOM_LIVE_STATS)
room_live_stats_push = push_source(f.FeatureTable.ROOM_LIVE_STATS, _room_batch)

room_live_stats = FeatureView(
    name=f.FeatureTable.ROOM_LIVE_STATS.value,
    entities=[room],
    ttl=timedelta(hours=1),
    schema=[
        Field(name=f.ROOM_VIEWERS_5M, dtype=Int64),
        Field(name=f.ROOM_COMMENTS_5M, dtype=Int64),
        Field(name=f.ROOM_LIKES_5M, dtype=Int64),
        Field(name=f.ROOM_GIFT_VALUE_5M, dtype=Float64),
        Field(name=f.ROOM_COMMENT_RATE, dtype=Float64),
        Field(name=f.ROOM_LIKE_RATE, dtype=Float64),
        Field(name=f.ROOM_ENTERS_TOTAL, dtype=Int64),
        Field(name=f.ROOM_PURCHASES_TOTAL, dtype=Int64),
        Field(name=f.ROOM_GMV_TOTAL, dtype=Float64),
    ],
    source=room_live_stats_push,
    online=True,
    tags={"domain": "interaction", "freshness": "push"},
)

# Comment signals: batch-scored by `livecart comments`, pushed live by serving's event ingest.
room_comment_signals_push = push_source(
    f.FeatureTable.ROOM_COMMENT_SIGNALS, file_source(f.FeatureTable.ROOM_COMMENT_SIGNALS)
)
streamer_comment_signals_push = push_source(
    f.FeatureTable.STREAMER_COMMENT_SIGNALS, file_source(f.FeatureTable.STREAMER_COMMENT_SIGNALS)
)

room_comment_signals = FeatureView(
    name=f.FeatureTable.ROOM_COMMENT_SIGNALS.value,
    entities=[room],
    ttl=timedelta(hours=1),
    schema=[
        Field(name=f.COMMENT_SENTIMENT_5M, dtype=Float64),
        Field(name=f.PURCHASE_INTENT_5M, dtype=Float64),
        Field(name=f.COMMENTS_SCORED_5M, dtype=Int64),
    ],
    source=room_comment_signals_push,
    online=True,
    tags={"domain": "interaction", "source": "comment probe"},
)

streamer_comment_signals = FeatureView(
    name=f.FeatureTable.STREAMER_COMMENT_SIGNALS.value,
    entities=[streamer],
    ttl=timedelta(hours=1),
    schema=[
        Field(name=f.COMMENT_SENTIMENT_5M, dtype=Float64),
        Field(name=f.PURCHASE_INTENT_5M, dtype=Float64),
        Field(name=f.COMMENTS_SCORED_5M, dtype=Int64),
    ],
    source=streamer_comment_signals_push,
    online=True,
    tags={"domain": "interaction", "source": "comment probe"},
)
