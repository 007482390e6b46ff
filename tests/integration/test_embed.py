"""Item texts -> real MiniLM embeddings (Ray Data) -> Feast -> vector retrieval from the store."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.settings import LivecartSettings
from livecart.features.feast_store import apply, feature_store
from livecart.model.text_encoder import TextEncoder
from livecart.online.store import DuckDBOnlineStore
from livecart.simulation.generate import GenerateResult
from ray_jobs.embed import embedding_path
from ray_jobs.embed import run as embed
from ray_jobs.features import run as build_features
from ray_jobs.materialize import materialize
from validation.run import run as validate

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_embed__minilm_vectors_served_and_searchable(
    settings: LivecartSettings, tiny_world: GenerateResult, local_ray: None
) -> None:
    validate(settings)
    build_features(settings)
    empty = pq.read_table(embedding_path(settings, f.FeatureTable.PRODUCT_EMBEDDING))
    assert empty.num_rows == 0  # placeholders exist before `embed`, so `apply` works
    result = embed(settings.model_copy(update={"ray_num_cpus": 2}))
    products = pq.read_table(settings.raw_dir / "products.parquet")
    assert result.rows[f.FeatureTable.PRODUCT_EMBEDDING.value] == products.num_rows
    table = pq.read_table(embedding_path(settings, f.FeatureTable.PRODUCT_EMBEDDING))
    assert table.schema.field(f.TEXT_EMBEDDING).type.list_size == 384
    # What each viewer says they shop for: one vector per viewer, the same for the same words.
    viewers = pq.read_table(settings.clean_dir / "viewers.parquet").to_pandas()
    words = pq.read_table(embedding_path(settings, f.FeatureTable.VIEWER_EMBEDDING)).to_pandas()
    assert result.rows[f.FeatureTable.VIEWER_EMBEDDING.value] == len(viewers) == len(words)
    said = words.merge(viewers, on=c.VIEWER_ID)[[c.SHOPPING_FOR, f.VIEWER_TEXT_EMBEDDING]]
    line = said.iloc[0][c.SHOPPING_FOR]
    expected = TextEncoder().encode([line])[0]
    for other in said[said[c.SHOPPING_FOR] == line][f.VIEWER_TEXT_EMBEDDING]:
        assert abs(other - expected).max() < 1e-5
    assert (said[c.SHOPPING_FOR] != line).any()
    assert not any(
        abs(v - expected).max() < 1e-5
        for v in said[said[c.SHOPPING_FOR] != line][f.VIEWER_TEXT_EMBEDDING]
    )
    apply(settings)
    materialize(settings)
    store = feature_store(settings)

    titles = dict(
        zip(
            products.column(c.PRODUCT_ID).to_pylist(),
            products.column(c.TITLE).to_pylist(),
            strict=True,
        )
    )
    target_id, target_title = next(iter(titles.items()))
    description = products.column(c.DESCRIPTION)[0].as_py()
    query = TextEncoder().encode([f"{target_title}. {description}"])[0].tolist()
    view = store.get_feature_view(f.FeatureTable.PRODUCT_EMBEDDING.value)
    hits = DuckDBOnlineStore().retrieve_online_documents_v2(
        store.config, view, [f.TEXT_EMBEDDING], query, top_k=5, distance_metric="cosine"
    )
    ranked = sorted(hits, key=lambda h: h[2]["distance"].float_val)  # type: ignore[index]
    best = ranked[0][1].entity_values[0].string_val  # type: ignore[union-attr]
    assert titles[best] == target_title  # the product itself (or an identical title) comes first
    assert ranked[0][2]["distance"].float_val < 1e-4  # type: ignore[index]
    online = store.get_online_features(
        features=[f"{f.FeatureTable.PRODUCT_EMBEDDING.value}:{f.TEXT_EMBEDDING}"],
        entity_rows=[{c.PRODUCT_ID: target_id}],
    ).to_dict()
    assert len(online[f.TEXT_EMBEDDING][0]) == 384
    graph = pq.read_table(settings.feature_table_path(f.FeatureTable.PRODUCT_GRAPH)).to_pandas()
    assert result.rows[f.FeatureTable.PRODUCT_GRAPH.value] == len(graph) > 0
    stamps = graph[c.EVENT_TIMESTAMP]
    assert (stamps == stamps.dt.normalize()).all()  # daily snapshots, stamped at midnight
    served = store.get_online_features(
        features=[f"{f.FeatureTable.PRODUCT_GRAPH.value}:{f.GRAPH_VECTOR}"],
        entity_rows=[{c.PRODUCT_ID: target_id}],
    ).to_dict()
    assert len(served[f.GRAPH_VECTOR][0]) == f.GRAPH_DIM
