"""Versioned feature services: jobs and serving ask for these, never for loose feature lists."""

from feast import FeatureService

from feature_repo.definitions.behavior import viewer_behavior
from feature_repo.definitions.embeddings import product_embedding, product_graph, viewer_embedding
from feature_repo.definitions.interaction import (
    room_comment_signals,
    room_live_stats,
    streamer_comment_signals,
    viewer_streamer_affinity,
)
from feature_repo.definitions.on_demand import price_vs_viewer_spend
from feature_repo.definitions.product import product_live_stats, product_profile
from feature_repo.definitions.room import room_profile
from feature_repo.definitions.viewer import viewer_interest, viewer_profile, viewer_segment
from feature_repo.definitions.visits import streamer_visits, viewer_visits

room_ranking_v1 = FeatureService(
    name="room_ranking_v1",
    features=[
        viewer_profile,
        viewer_behavior,
        room_profile,
        room_live_stats,
        viewer_streamer_affinity,
    ],
    description="Viewer x live room ranking (entities: viewer_id, room_id, streamer_id).",
)
_PRODUCT_RANKING = [
    viewer_profile,
    viewer_behavior,
    product_profile,
    price_vs_viewer_spend,
    viewer_streamer_affinity,
]
product_ranking_v1 = FeatureService(
    name="product_ranking_v1",
    features=_PRODUCT_RANKING,
    description="Viewer x product ranking (entities: viewer_id, product_id, streamer_id).",
)
product_ranking_v2 = FeatureService(
    name="product_ranking_v2",
    features=[*_PRODUCT_RANKING, product_embedding],
    description="v1 plus the product's text embedding (entities: viewer_id, product_id, streamer_id).",
)
_PRODUCT_RANKING_V3 = [
    *_PRODUCT_RANKING,
    product_embedding,
    product_graph,
    viewer_interest,
    streamer_comment_signals,
]
product_ranking_v3 = FeatureService(
    name="product_ranking_v3",
    features=_PRODUCT_RANKING_V3,
    description=(
        "v2 plus the graph-smoothed product vector, the viewer's declared interests and the "
        "streamer's live comment signals (entities: viewer_id, product_id, streamer_id)."
    ),
)
product_ranking_v4 = FeatureService(
    name="product_ranking_v4",
    features=[*_PRODUCT_RANKING_V3, viewer_embedding],
    description=(
        "v3 plus the text vector of what the viewer says they shop for (entities: viewer_id, "
        "product_id, streamer_id)."
    ),
)
streamer_assist_v1 = FeatureService(
    name="streamer_assist_v1",
    features=[product_profile, room_live_stats],
    description="What to pitch next in a room (entities: product_id, room_id).",
)
streamer_assist_v2 = FeatureService(
    name="streamer_assist_v2",
    features=[product_profile, room_live_stats, room_comment_signals],
    description="v1 plus live comment sentiment and purchase intent (entities: product_id, room_id).",
)
viewer_context_v1 = FeatureService(
    name="viewer_context_v1",
    features=[viewer_profile, viewer_behavior, viewer_segment],
    description="Who the viewer is before retrieval: history, segment, top category (entity: viewer_id).",
)
product_live_v1 = FeatureService(
    name="product_live_v1",
    features=[product_live_stats],
    description="Fresh funnel counts per product for exploration (entity: product_id).",
)
room_live_v1 = FeatureService(
    name="room_live_v1",
    features=[room_profile, room_live_stats, room_comment_signals],
    description="A live room's audience activity and comment signals (entity: room_id).",
)

room_signals_v1 = FeatureService(
    name="room_signals_v1",
    features=[viewer_visits, streamer_visits],
    description="The room ranker's inputs: a viewer's latest visits and each streamer's visits "
    "per time unit (entities: viewer_id, streamer_id).",
)
