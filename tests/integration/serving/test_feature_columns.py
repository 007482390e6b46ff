"""The serving read path (columns straight from the online store) against the frame path.

``read_columns`` + :class:`OnlineColumns` must give the ranker exactly the inputs that
``read_frame`` -> pandas -> ``FrameColumns`` gives (the frame path is itself checked value for
value against Feast's ``get_online_features`` in ``tests/integration/test_online_frames.py``),
and ``nearest`` must rank as the store's ``retrieve_online_documents_v2`` does.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.settings import LivecartSettings
from livecart.features.feast_store import feature_store
from livecart.features.online_columns import read_columns
from livecart.features.reader import reader_for
from livecart.model.build_inputs import FeatureColumns, FrameColumns
from livecart.model.input_arrays import RankerInputs, TableRows
from livecart.model.scoring import LoadedRanker
from livecart.online.frames import nearest, read_frame, to_pandas
from livecart.online.keys import CodedKeys, KeyUniverse
from livecart.online.plan import plan_service
from serving.catalog import load_catalog
from tests.feature_reads import candidate_entities, full_inputs, serving_plan
from tests.integration.serving.conftest import world_ids

pytestmark = pytest.mark.integration


def test_online_columns__ranker_inputs__identical_to_frame_path(
    served_settings: LivecartSettings,
) -> None:
    store = feature_store(served_settings)
    ranker = LoadedRanker.load(served_settings)
    catalog = load_catalog(served_settings)

    def inputs(columns: FeatureColumns) -> RankerInputs:
        return full_inputs(ranker, columns)

    plan = serving_plan(store, ranker)
    products = [*catalog.popular[:120], "no-such-product"]
    # A viewer with a fresh history (the world's own rows are past their TTL), written the way
    # the ingest deployment writes pushed rows.
    fresh = "columns-test-viewer"
    history = [*catalog.popular[5:8], "not-in-vocabulary"]
    row = {name: [0] for name in (*f.BEHAVIOR_EVENT_COUNTS, f.CLICKS_30M, f.CARTS_1440M)}
    store.write_to_online_store(
        f.FeatureTable.VIEWER_BEHAVIOR.value,
        pd.DataFrame(
            {
                c.VIEWER_ID: [fresh],
                **row,
                f.PURCHASES_1440M: [1],
                f.LAST_ROOMS: [[]],
                f.LAST_PRODUCTS: [history],
                f.LAST_PURCHASES: [history[:1]],
                c.EVENT_TIMESTAMP: [datetime.now(UTC)],
                c.CREATED_TIMESTAMP: [datetime.now(UTC)],
            }
        ),
    )
    viewers = [*world_ids(served_settings)["viewers"][:8], fresh, "no-such-viewer"]
    with_history = 0
    one_by_one: list[RankerInputs] = []
    for viewer in viewers:
        # The serving path passes products and streamers as catalogue codes (the unknown
        # product and streamer as code -1): the same inputs again.
        entities, coded = candidate_entities(catalog, viewer, products)
        frame = to_pandas(read_frame(store, plan, entities))
        columns = read_columns(store, plan, entities)
        expected, got = inputs(FrameColumns(frame)), inputs(columns)
        from_codes = inputs(read_columns(store, plan, coded))
        served = ranker.inputs(columns)  # what serving builds: no tokens for this ranker
        assert served.history.shape == (len(products), 0)
        for block in ("numeric", "graph"):
            np.testing.assert_array_equal(getattr(served, block), getattr(got, block))
        one_by_one.append(from_codes)
        with_history += int(got.history[:, len(history) - 1].all())
        for part in ("numeric", "text", "graph", "history", "candidate", "viewer_text"):
            a, b, b_coded = getattr(expected, part), getattr(got, part), getattr(from_codes, part)
            assert (a is None) == (b is None) == (b_coded is None), part
            if a is not None:
                np.testing.assert_array_equal(a, b, err_msg=f"{part} of viewer {viewer}")
                np.testing.assert_array_equal(a, b_coded, err_msg=f"coded {part} of {viewer}")
        # Every numeric column, the on-demand one included, and the unknown product's nulls.
        for name in (f.PRICE_TO_TYPICAL_SPEND, f.PRODUCT_IMPRESSIONS_30M, f.VS_ENTERS):
            want = FrameColumns(frame).numbers(name)
            assert want is not None
            np.testing.assert_array_equal(columns.numbers(name), want, err_msg=name)
        assert np.isnan(columns.numbers(f.PRODUCT_PRICE)[-1])  # type: ignore[index]
    assert with_history, "no viewer with history: the history inputs went untested"
    # The served ranker matches the viewer's words to the candidates' text, read like the rest.
    assert ranker.record.config["match_dim"] > 0
    assert (
        np.asarray(one_by_one[0].viewer_text).any()
        and not np.asarray(one_by_one[-1].viewer_text).any()
    )
    # A replica's batch: every viewer's rows in one read, the viewers coded in a short-lived
    # universe (composite viewer x streamer keys looked up per distinct pair).
    codes = np.tile(catalog.product_keys.codes(products), len(viewers))
    batch_viewers = KeyUniverse(viewers, lasting=False)
    batched = inputs(
        read_columns(
            store,
            plan,
            {
                c.VIEWER_ID: CodedKeys(
                    batch_viewers, np.repeat(np.arange(len(viewers)), len(products))
                ),
                c.PRODUCT_ID: CodedKeys(catalog.product_keys, codes),
                c.STREAMER_ID: CodedKeys(
                    catalog.streamer_keys,
                    np.where(codes >= 0, catalog.product_streamer[np.maximum(codes, 0)], -1),
                ),
            },
        )
    )
    for k, (viewer, alone) in enumerate(zip(viewers, one_by_one, strict=True)):
        part = batched.take(slice(k * len(products), (k + 1) * len(products)))
        for name in ("numeric", "text", "graph", "history", "candidate", "viewer_text"):
            np.testing.assert_array_equal(
                np.asarray(getattr(part, name)),
                np.asarray(getattr(alone, name)),
                err_msg=f"batched {name} of {viewer}",
            )
    # Text as rows of the store's table: projected once per table, the same scores as dense.
    assert isinstance(batched.text, TableRows)
    dense = replace(batched, text=batched.text.dense())
    np.testing.assert_allclose(ranker.predict(batched), ranker.predict(dense), atol=1e-6)


def test_nearest__same_ranking_as_retrieve_online_documents(
    served_settings: LivecartSettings,
) -> None:
    store = feature_store(served_settings)
    view = f.FeatureTable.PRODUCT_EMBEDDING.value
    rows = read_frame(
        store,
        plan_service(store, "product_ranking_v3"),
        {
            c.VIEWER_ID: ["v"],
            c.PRODUCT_ID: [load_catalog(served_settings).popular[3]],
            c.STREAMER_ID: ["s"],
        },
    )
    query = [float(x) for x in rows.column(f.TEXT_EMBEDDING).to_pylist()[0]]
    hits = nearest(store, view, query, 10)
    response = store.retrieve_online_documents_v2(
        features=[f"{view}:{f.TEXT_EMBEDDING}"], query=query, top_k=10
    ).to_dict()
    theirs = dict(zip(response[c.PRODUCT_ID], response["distance"], strict=True))
    ours = {key[0]: distance for key, distance in hits}
    np.testing.assert_allclose([d for _, d in hits], sorted(theirs.values()), rtol=1e-4, atol=1e-5)
    assert [d for _, d in hits] == sorted(d for _, d in hits)
    cut = max(theirs.values())
    for product in ours.keys() | theirs.keys():  # equal products score equally; others tie
        if product in ours and product in theirs:
            assert ours[product] == pytest.approx(theirs[product], rel=1e-4, abs=1e-5)
        else:
            assert ours.get(product, theirs.get(product)) == pytest.approx(cut, rel=1e-4, abs=1e-5)


def test_retriever_index__product_embeddings__same_distances_as_the_exact_scan(
    served_settings: LivecartSettings,
) -> None:
    """The retriever's ANN index (built at replica start) over the served product embeddings
    finds what the exact scan finds (same distances; ties may come in another order)."""
    from serving.retrieve import Retriever

    store = feature_store(served_settings)
    catalog = load_catalog(served_settings)
    reader = reader_for(store)
    Retriever(served_settings, reader, catalog)
    view = f.FeatureTable.PRODUCT_EMBEDDING.value
    assert len(reader.index_vectors(view)) > 0
    for product in catalog.popular[:20:4]:
        query = reader.vectors(view, [(product,)])[0] + 0.05
        ann = reader.nearest(view, query.tolist(), 10)
        exact = nearest(store, view, query, 10)
        assert len(ann) == 10
        np.testing.assert_allclose([d for _, d in ann], [d for _, d in exact], atol=1e-5)


def test_bench_pipeline__both_read_paths_timed_stage_by_stage(
    served_settings: LivecartSettings,
) -> None:
    from livecart.bench.pipeline import STAGES, run

    result = run(served_settings, requests=12)
    assert result["requests"] == 12 and result["candidates_per_request"] > 0
    for path in ("columnar", "frame_path"):
        assert set(result[path]) == {"total", *STAGES}
        assert result[path]["features"]["p50_ms"] > 0 and result[path]["rank"]["p50_ms"] > 0
    assert result["ratio_total_p50"] > 0  # a ratio, not a verdict: timings live in the JSON
