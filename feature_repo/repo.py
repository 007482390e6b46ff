"""Feast entry point: exposes every livecart definition to `feast apply`.

The definitions live in ``feature_repo.definitions`` (one module per domain) and are imported
here once, so each Feast object has a single identity.
"""

from feature_repo.definitions.behavior import viewer_behavior, viewer_behavior_push
from feature_repo.definitions.embeddings import (
    product_embedding,
    product_graph,
    room_embedding,
    viewer_embedding,
)
from feature_repo.definitions.entities import product, room, streamer, viewer
from feature_repo.definitions.interaction import (
    room_comment_signals,
    room_comment_signals_push,
    room_live_stats,
    room_live_stats_push,
    streamer_comment_signals,
    streamer_comment_signals_push,
    viewer_streamer_affinity,
    viewer_streamer_affinity_push,
)
from feature_repo.definitions.on_demand import price_vs_viewer_spend
from feature_repo.definitions.product import (
    product_live_stats,
    product_live_stats_push,
    product_profile,
)
from feature_repo.definitions.room import room_profile
from feature_repo.definitions.services import (
    product_live_v1,
    product_ranking_v1,
    product_ranking_v2,
    product_ranking_v3,
    product_ranking_v4,
    room_live_v1,
    room_ranking_v1,
    room_signals_v1,
    streamer_assist_v1,
    streamer_assist_v2,
    viewer_context_v1,
)
from feature_repo.definitions.viewer import viewer_interest, viewer_profile, viewer_segment
from feature_repo.definitions.visits import (
    streamer_visits,
    streamer_visits_push,
    viewer_visits,
    viewer_visits_push,
)

__all__ = [
    "price_vs_viewer_spend",
    "product",
    "product_embedding",
    "product_graph",
    "product_live_stats",
    "product_live_stats_push",
    "product_live_v1",
    "product_profile",
    "product_ranking_v1",
    "product_ranking_v2",
    "product_ranking_v3",
    "product_ranking_v4",
    "room",
    "room_comment_signals",
    "room_comment_signals_push",
    "room_embedding",
    "room_live_stats",
    "room_live_stats_push",
    "room_live_v1",
    "room_profile",
    "room_ranking_v1",
    "room_signals_v1",
    "streamer",
    "streamer_assist_v1",
    "streamer_assist_v2",
    "streamer_comment_signals",
    "streamer_comment_signals_push",
    "streamer_visits",
    "streamer_visits_push",
    "viewer",
    "viewer_behavior",
    "viewer_behavior_push",
    "viewer_context_v1",
    "viewer_embedding",
    "viewer_interest",
    "viewer_profile",
    "viewer_segment",
    "viewer_streamer_affinity",
    "viewer_streamer_affinity_push",
    "viewer_visits",
    "viewer_visits_push",
]
