"""Feature tables and feature names, defined once.

The DuckDB feature job writes these columns, the Feast repo declares them, the validation suites
check them and serving reads them through feature services. Each offline table is Parquet at
``<home>/features/<table>.parquet`` keyed by its entities and ``event_timestamp``: a row holds the
state *strictly before* its timestamp, which is what makes Feast's point-in-time join leak-free.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from livecart.core import contract as c


class FeatureTable(StrEnum):
    VIEWER_PROFILE = "viewer_profile"
    PRODUCT_PROFILE = "product_profile"
    ROOM_PROFILE = "room_profile"
    ROOM_LIVE_STATS = "room_live_stats"
    VIEWER_BEHAVIOR = "viewer_behavior"
    VIEWER_STREAMER_AFFINITY = "viewer_streamer_affinity"
    PRODUCT_EMBEDDING = "product_embedding"
    ROOM_EMBEDDING = "room_embedding"
    VIEWER_EMBEDDING = "viewer_embedding"
    VIEWER_SEGMENT = "viewer_segment"
    ROOM_COMMENT_SIGNALS = "room_comment_signals"
    PRODUCT_GRAPH = "product_graph"
    VIEWER_INTEREST = "viewer_interest"
    STREAMER_COMMENT_SIGNALS = "streamer_comment_signals"
    PRODUCT_LIVE_STATS = "product_live_stats"
    VIEWER_VISITS = "viewer_visits"
    STREAMER_VISITS = "streamer_visits"


# Live comment signals per room and 5-minute bucket (the comment probe; livecart/model/comment_signals.py).
COMMENT_SENTIMENT_5M: Final = "comment_sentiment_5m"
PURCHASE_INTENT_5M: Final = "purchase_intent_5m"
COMMENTS_SCORED_5M: Final = "comments_scored_5m"

# Item graph (LightGCN-style propagation of product text vectors over the co-interaction graph;
# ray_jobs/item_graph.py): daily snapshots, each from the events strictly before its midnight.
GRAPH_VECTOR: Final = "graph_vector"
GRAPH_DEGREE: Final = "graph_degree"
GRAPH_DIM: Final = 32
GRAPH_LAYERS: Final = 2

# Declared interests of a viewer (categories picked at sign-up; known from the sign-up time on).
DECLARED_INTERESTS: Final = "declared_interests"

# Viewer segments (k-means over viewer vectors; ray_jobs/segments.py).
SEGMENT_ID: Final = "segment_id"
SEGMENT_NAME: Final = "segment_name"


# Text embeddings of items, and of what each viewer says they shop for (written by
# `livecart embed`; empty until then).
TEXT_EMBEDDING: Final = "text_embedding"
VIEWER_TEXT_EMBEDDING: Final = "viewer_text_embedding"
EMBEDDING_TABLES: Final[tuple[FeatureTable, ...]] = (
    FeatureTable.PRODUCT_EMBEDDING,
    FeatureTable.ROOM_EMBEDDING,
    FeatureTable.VIEWER_EMBEDDING,
)
EMBEDDING_COLUMNS: Final[dict[FeatureTable, str]] = {
    FeatureTable.PRODUCT_EMBEDDING: TEXT_EMBEDDING,
    FeatureTable.ROOM_EMBEDDING: TEXT_EMBEDDING,
    # Its own name: the viewer's vector sits beside the candidate's in the ranker's service.
    FeatureTable.VIEWER_EMBEDDING: VIEWER_TEXT_EMBEDDING,
}


# Behaviour windows in minutes (counts over the last N minutes before the row's timestamp).
BEHAVIOR_WINDOWS_MIN: Final[tuple[int, ...]] = (1, 5, 30, 1440)
LAST_ITEMS: Final = 10
# Token ids the ranker reserves in product histories: padding, and a product outside its vocabulary.
TOKEN_PAD: Final = 0
TOKEN_UNKNOWN: Final = 1
ROOM_BUCKET_MINUTES: Final = 5
# Additive smoothing for rates: (hits + PRIOR_HITS) / (trials + PRIOR_TRIALS).
PRIOR_HITS: Final = 1.0
PRIOR_TRIALS: Final = 20.0

# viewer_profile
VIEWER_EVENTS_TOTAL: Final = "viewer_events_total"
VIEWER_ROOM_ENTERS_TOTAL: Final = "viewer_room_enters_total"
VIEWER_WATCH_MINUTES_TOTAL: Final = "viewer_watch_minutes_total"
VIEWER_PURCHASES_TOTAL: Final = "viewer_purchases_total"
VIEWER_SPEND_TOTAL: Final = "viewer_spend_total"
VIEWER_AVG_ORDER_VALUE: Final = "viewer_avg_order_value"
VIEWER_CTR: Final = "viewer_ctr"
VIEWER_DAYS_ACTIVE: Final = "viewer_days_active"
VIEWER_CATEGORY_AFFINITY: Final = "viewer_category_affinity"
VIEWER_TOP_CATEGORY: Final = "viewer_top_category"

# product_profile (catalog attributes are prefixed so they never collide with entity keys)
PRODUCT_STREAMER_ID: Final = "product_streamer_id"
PRODUCT_TITLE: Final = "product_title"
PRODUCT_DESCRIPTION: Final = "product_description"
PRODUCT_CATEGORY: Final = "product_category"
PRODUCT_BRAND: Final = "product_brand"
PRODUCT_PRICE: Final = "product_price"
PRODUCT_RATING: Final = "product_rating"
PRODUCT_STOCK: Final = "product_stock"
PRODUCT_IMPRESSIONS: Final = "product_impressions"
PRODUCT_CLICKS: Final = "product_clicks"
PRODUCT_CARTS: Final = "product_carts"
PRODUCT_PURCHASES: Final = "product_purchases"
PRODUCT_CTR: Final = "product_ctr"
PRODUCT_CONVERSION: Final = "product_conversion"
PRODUCT_GMV: Final = "product_gmv"
# the product's funnel counts and rates (product_stats)
PRODUCT_FUNNEL: Final = (
    PRODUCT_IMPRESSIONS,
    PRODUCT_CLICKS,
    PRODUCT_CARTS,
    PRODUCT_PURCHASES,
    PRODUCT_CTR,
    PRODUCT_CONVERSION,
    PRODUCT_GMV,
)

# room_profile (static, known when the room goes live)
ROOM_STREAMER_ID: Final = "room_streamer_id"
ROOM_CATEGORY: Final = "room_category"
ROOM_TITLE: Final = "room_title"
ROOM_START_UNIX: Final = "room_start_unix"

# room_live_stats (5-minute buckets)
ROOM_VIEWERS_5M: Final = "room_viewers_5m"
ROOM_COMMENTS_5M: Final = "room_comments_5m"
ROOM_LIKES_5M: Final = "room_likes_5m"
ROOM_GIFT_VALUE_5M: Final = "room_gift_value_5m"
ROOM_COMMENT_RATE: Final = "room_comment_rate"
ROOM_LIKE_RATE: Final = "room_like_rate"
ROOM_ENTERS_TOTAL: Final = "room_enters_total"
ROOM_PURCHASES_TOTAL: Final = "room_purchases_total"
ROOM_GMV_TOTAL: Final = "room_gmv_total"

# viewer_behavior
BEHAVIOR_EVENT_COUNTS: Final[tuple[str, ...]] = tuple(f"events_{w}m" for w in BEHAVIOR_WINDOWS_MIN)
CLICKS_30M: Final = "clicks_30m"
CARTS_1440M: Final = "carts_1440m"
PURCHASES_1440M: Final = "purchases_1440m"
LAST_ROOMS: Final = "last_rooms"
LAST_PRODUCTS: Final = "last_products"
LAST_PURCHASES: Final = "last_purchases"

# viewer_streamer_affinity
VS_ENTERS: Final = "vs_enters"
VS_WATCH_MINUTES: Final = "vs_watch_minutes"
VS_LIKES: Final = "vs_likes"
VS_COMMENTS: Final = "vs_comments"
VS_GIFT_VALUE: Final = "vs_gift_value"
VS_PURCHASES: Final = "vs_purchases"
VS_FOLLOWS: Final = "vs_follows"
# the viewer's running totals with a streamer (what event ingest adds up; follows are a flag)
VS_TOTALS: Final = (VS_ENTERS, VS_WATCH_MINUTES, VS_LIKES, VS_COMMENTS, VS_GIFT_VALUE, VS_PURCHASES)

# product_live_stats: fresh per-product funnel counts over the last LIVE_STATS_MINUTES (exploration)
LIVE_STATS_MINUTES: Final = 30
PRODUCT_IMPRESSIONS_30M: Final = "product_impressions_30m"
PRODUCT_CLICKS_30M: Final = "product_clicks_30m"
PRODUCT_CARTS_30M: Final = "product_carts_30m"
PRODUCT_PURCHASES_30M: Final = "product_purchases_30m"
PRODUCT_LIVE_COUNTS: Final[tuple[str, ...]] = (
    PRODUCT_IMPRESSIONS_30M,
    PRODUCT_CLICKS_30M,
    PRODUCT_CARTS_30M,
    PRODUCT_PURCHASES_30M,
)

# viewer_visits and streamer_visits: what the room ranker's signals are computed from
# (livecart/model/room_signals.py). A visit is a viewer entering a streamer's room (Twitch: a watch
# row); time is counted in whole units of VISIT_UNIT_SECONDS since the Unix epoch.
VISIT_UNIT_SECONDS: Final = 600
VISIT_HISTORY_LENGTH: Final = 256
"""A viewer's latest visits kept (what repeat, recency and similarity read)."""
VISIT_HORIZON_UNITS: Final = 1011
"""How far back a streamer's per-unit visit counts reach: the room signals' oldest window (the
same time last week, plus half an hour)."""
VISIT_STREAMERS: Final = "visit_streamers"
VISIT_UNITS: Final = "visit_units"
STREAMER_VISIT_UNITS: Final = "streamer_visit_units"
STREAMER_VISIT_COUNTS: Final = "streamer_visit_counts"
STREAMER_VISITS_TOTAL: Final = "streamer_visits_total"
STREAMER_PREVIOUS_UNIT: Final = "streamer_previous_unit"
"""The unit of the streamer's visits before the latest unit (-1: none)."""

# on-demand
PRICE_TO_TYPICAL_SPEND: Final = "price_to_typical_spend"

ENTITY_KEYS: Final[dict[FeatureTable, tuple[str, ...]]] = {
    FeatureTable.VIEWER_PROFILE: (c.VIEWER_ID,),
    FeatureTable.PRODUCT_PROFILE: (c.PRODUCT_ID,),
    FeatureTable.ROOM_PROFILE: (c.ROOM_ID,),
    FeatureTable.ROOM_LIVE_STATS: (c.ROOM_ID,),
    FeatureTable.VIEWER_BEHAVIOR: (c.VIEWER_ID,),
    FeatureTable.VIEWER_STREAMER_AFFINITY: (c.VIEWER_ID, c.STREAMER_ID),
    FeatureTable.PRODUCT_EMBEDDING: (c.PRODUCT_ID,),
    FeatureTable.ROOM_EMBEDDING: (c.ROOM_ID,),
    FeatureTable.VIEWER_EMBEDDING: (c.VIEWER_ID,),
    FeatureTable.VIEWER_SEGMENT: (c.VIEWER_ID,),
    FeatureTable.ROOM_COMMENT_SIGNALS: (c.ROOM_ID,),
    FeatureTable.PRODUCT_GRAPH: (c.PRODUCT_ID,),
    FeatureTable.VIEWER_INTEREST: (c.VIEWER_ID,),
    FeatureTable.STREAMER_COMMENT_SIGNALS: (c.STREAMER_ID,),
    FeatureTable.PRODUCT_LIVE_STATS: (c.PRODUCT_ID,),
    FeatureTable.VIEWER_VISITS: (c.VIEWER_ID,),
    FeatureTable.STREAMER_VISITS: (c.STREAMER_ID,),
}

# Columns that are rates in [0, 1] and counts/amounts that are >= 0 (checked by validation).
RATE_COLUMNS: Final[dict[FeatureTable, tuple[str, ...]]] = {
    FeatureTable.VIEWER_PROFILE: (VIEWER_CTR,),
    FeatureTable.PRODUCT_PROFILE: (PRODUCT_CTR, PRODUCT_CONVERSION),
    FeatureTable.ROOM_LIVE_STATS: (),
    FeatureTable.ROOM_COMMENT_SIGNALS: (PURCHASE_INTENT_5M,),
    FeatureTable.STREAMER_COMMENT_SIGNALS: (PURCHASE_INTENT_5M,),
}
NON_NEGATIVE_COLUMNS: Final[dict[FeatureTable, tuple[str, ...]]] = {
    FeatureTable.VIEWER_PROFILE: (
        VIEWER_EVENTS_TOTAL,
        VIEWER_ROOM_ENTERS_TOTAL,
        VIEWER_WATCH_MINUTES_TOTAL,
        VIEWER_PURCHASES_TOTAL,
        VIEWER_SPEND_TOTAL,
        VIEWER_AVG_ORDER_VALUE,
        VIEWER_DAYS_ACTIVE,
    ),
    FeatureTable.PRODUCT_PROFILE: (
        PRODUCT_IMPRESSIONS,
        PRODUCT_CLICKS,
        PRODUCT_CARTS,
        PRODUCT_PURCHASES,
        PRODUCT_GMV,
        PRODUCT_PRICE,
        PRODUCT_STOCK,
    ),
    FeatureTable.ROOM_PROFILE: (),
    FeatureTable.ROOM_LIVE_STATS: (
        ROOM_VIEWERS_5M,
        ROOM_COMMENTS_5M,
        ROOM_LIKES_5M,
        ROOM_GIFT_VALUE_5M,
        ROOM_COMMENT_RATE,
        ROOM_LIKE_RATE,
        ROOM_ENTERS_TOTAL,
        ROOM_PURCHASES_TOTAL,
        ROOM_GMV_TOTAL,
    ),
    FeatureTable.VIEWER_BEHAVIOR: (
        *BEHAVIOR_EVENT_COUNTS,
        CLICKS_30M,
        CARTS_1440M,
        PURCHASES_1440M,
    ),
    FeatureTable.VIEWER_STREAMER_AFFINITY: (*VS_TOTALS, VS_FOLLOWS),
    FeatureTable.ROOM_COMMENT_SIGNALS: (COMMENTS_SCORED_5M,),
    FeatureTable.STREAMER_COMMENT_SIGNALS: (COMMENTS_SCORED_5M,),
    FeatureTable.PRODUCT_GRAPH: (GRAPH_DEGREE,),
    FeatureTable.PRODUCT_LIVE_STATS: PRODUCT_LIVE_COUNTS,
    FeatureTable.STREAMER_VISITS: (STREAMER_VISITS_TOTAL,),
}
