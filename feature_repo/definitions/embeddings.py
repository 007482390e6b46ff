"""Text embeddings: items (products, rooms) for vector retrieval, what each viewer says they shop
for (matched to a product's text by the ranker), and graph-smoothed product vectors."""

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Array, Float32, Int64

from feature_repo.definitions.entities import product, room, viewer
from feature_repo.definitions.sources import EMBEDDING_DIM, file_source
from livecart.core import feature_names as f


def _embedding_field() -> Field:
    return Field(
        name=f.TEXT_EMBEDDING,
        dtype=Array(Float32),
        vector_index=True,
        vector_length=EMBEDDING_DIM,
        vector_search_metric="COSINE",
    )


product_embedding = FeatureView(
    name=f.FeatureTable.PRODUCT_EMBEDDING.value,
    entities=[product],
    ttl=timedelta(0),
    schema=[_embedding_field()],
    source=file_source(f.FeatureTable.PRODUCT_EMBEDDING),
    online=True,
    tags={"domain": "product", "kind": "embedding"},
)
room_embedding = FeatureView(
    name=f.FeatureTable.ROOM_EMBEDDING.value,
    entities=[room],
    ttl=timedelta(0),
    schema=[_embedding_field()],
    source=file_source(f.FeatureTable.ROOM_EMBEDDING),
    online=True,
    tags={"domain": "room", "kind": "embedding"},
)
viewer_embedding = FeatureView(
    name=f.FeatureTable.VIEWER_EMBEDDING.value,
    entities=[viewer],
    ttl=timedelta(0),
    schema=[
        Field(
            name=f.VIEWER_TEXT_EMBEDDING,
            dtype=Array(Float32),
            vector_length=EMBEDDING_DIM,
        )
    ],
    source=file_source(f.FeatureTable.VIEWER_EMBEDDING),
    online=True,
    tags={"domain": "viewer", "kind": "embedding", "cadence": "sign-up"},
)

product_graph = FeatureView(
    name=f.FeatureTable.PRODUCT_GRAPH.value,
    entities=[product],
    ttl=timedelta(days=400),
    schema=[
        Field(name=f.GRAPH_VECTOR, dtype=Array(Float32)),
        Field(name=f.GRAPH_DEGREE, dtype=Int64),
    ],
    source=file_source(f.FeatureTable.PRODUCT_GRAPH),
    online=True,
    tags={"domain": "product", "kind": "graph", "cadence": "daily"},
)
