"""What the tests comparing feature read paths share: the plan serving reads, a viewer's
candidate rows (plain and as catalogue codes), and the loaded ranker's full inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
from feast import FeatureStore

from livecart.core import contract as c
from livecart.model.build_inputs import FeatureColumns, ranker_inputs
from livecart.model.input_arrays import RankerInputs
from livecart.model.scoring import LoadedRanker
from livecart.online.keys import CodedKeys
from livecart.online.plan import ServicePlan, plan_service
from serving.catalog import Catalog
from serving.pipeline import LIVE_SERVICE


def serving_plan(store: FeatureStore, ranker: LoadedRanker) -> ServicePlan:
    """The ranker's feature service and the live service, read as one plan."""
    ranking, live = plan_service(store, ranker.feature_service), plan_service(store, LIVE_SERVICE)
    return type(ranking)(ranking.name, ranking.views + live.views, ranking.on_demand)


def candidate_entities(
    catalog: Catalog, viewer: str, products: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``viewer``'s rows for ``products`` (the last one unknown to the catalogue), as values and
    as serving passes them: products and streamers as catalogue codes (the unknown as -1)."""
    entities: dict[str, Any] = {
        c.VIEWER_ID: [viewer] * len(products),
        c.PRODUCT_ID: products,
        c.STREAMER_ID: [catalog.streamer_of.get(p, "no-such-streamer") for p in products],
    }
    codes = catalog.product_keys.codes(products)
    coded = {
        **entities,
        c.PRODUCT_ID: CodedKeys(catalog.product_keys, codes),
        c.STREAMER_ID: CodedKeys(
            catalog.streamer_keys, np.append(catalog.product_streamer[codes[:-1]], -1)
        ),
    }
    return entities, coded


def full_inputs(ranker: LoadedRanker, columns: FeatureColumns) -> RankerInputs:
    """The loaded ranker's inputs with the history tokens too: a ranker with a behaviour encoder
    reads them (the served one has none, so ``ranker.inputs`` leaves them out)."""
    config = ranker.record.config
    return ranker_inputs(
        columns,
        config["numeric_features"],
        ranker.token_ids,
        int(config.get("text_dim", 0)),
        int(config.get("graph_dim", 0)),
        shared_text=True,
        viewer_text_dim=int(config.get("viewer_text_dim", 0)),
    )
