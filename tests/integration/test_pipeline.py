"""generate(tiny) -> validate -> features -> feast apply -> historical features, on real parts.

The planted leak: one viewer gets an enormous purchase and a burst of likes at a known moment.
Training rows at that moment must not see them; rows one second later (behaviour) or after the
next midnight (profiles) must.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.io import read_source, write_source
from livecart.core.settings import LivecartSettings
from livecart.features.feast_store import apply, feature_store, historical_features
from livecart.simulation.generate import run as generate
from livecart.simulation.world.config import WorldConfig
from ray_jobs.features import run as build_features
from ray_jobs.materialize import materialize
from tests.forked import feast_cli, forked_processes
from tests.served_world import home_env
from validation.run import run as validate

pytestmark = pytest.mark.integration
LEAK_AMOUNT = 99_999.0
LIKES = 40
Leak = tuple[str, str, str, datetime]  # viewer, product, streamer, moment


def _plant_leak(settings: LivecartSettings) -> Leak:
    """Append a planted purchase + like burst; return (viewer, product, streamer, moment)."""
    events = read_source(settings.raw_dir, c.Table.EVENTS).to_pandas()
    anchor = (
        events[events[c.EVENT_TYPE] == "impression"]
        .dropna(subset=[c.PRODUCT_ID])
        .iloc[len(events) // 40]
    )
    moment = anchor[c.EVENT_TIMESTAMP].to_pydatetime() + timedelta(seconds=1)
    base = {
        c.VIEWER_ID: anchor[c.VIEWER_ID],
        c.ROOM_ID: anchor[c.ROOM_ID],
        c.STREAMER_ID: anchor[c.STREAMER_ID],
        c.EVENT_TIMESTAMP: moment,
        c.WATCH_SECONDS: None,
        c.GIFT_VALUE: None,
        c.TEXT: None,
    }
    rows = [
        {
            **base,
            c.EVENT_ID: "leak-buy",
            c.EVENT_TYPE: "purchase",
            c.PRODUCT_ID: anchor[c.PRODUCT_ID],
            c.AMOUNT: LEAK_AMOUNT,
        }
    ]
    rows += [
        {
            **base,
            c.EVENT_ID: f"leak-like-{i}",
            c.EVENT_TYPE: "like",
            c.PRODUCT_ID: None,
            c.AMOUNT: None,
        }
        for i in range(LIKES)
    ]
    write_source(
        settings.raw_dir,
        c.Table.EVENTS,
        pa.Table.from_pylist(rows, schema=c.SCHEMAS[c.Table.EVENTS]),
        part="99990-leak",
    )
    return anchor[c.VIEWER_ID], anchor[c.PRODUCT_ID], anchor[c.STREAMER_ID], moment


@pytest.fixture(scope="module")
def applied_world(
    tmp_path_factory: pytest.TempPathFactory, tiny_config: WorldConfig
) -> tuple[LivecartSettings, Leak]:
    """The tiny world with the planted leak, validated, featured and applied: built once for the
    module and never changed (each test works in its own copy)."""
    built = LivecartSettings(home=tmp_path_factory.mktemp("pipeline") / "home")
    with home_env(built):
        generate(tiny_config, built, use_ray=False)
        leak = _plant_leak(built)
        report = validate(built)
        assert report.table(c.Table.EVENTS).quarantined == 0
        build_features(built)
        apply(built)
    return built, leak


@pytest.fixture
def applied(
    applied_world: tuple[LivecartSettings, Leak], settings: LivecartSettings
) -> tuple[LivecartSettings, Leak]:
    """A copy of the module's applied world in this test's home, applied there again (Feast's
    registry holds the absolute paths of the sources it was applied with)."""
    built, leak = applied_world
    shutil.copytree(built.home, settings.home)
    apply(settings)
    return settings, leak


def test_pipeline__planted_leak__invisible_before_visible_after(
    applied: tuple[LivecartSettings, Leak],
) -> None:
    settings, (viewer, product, streamer, moment) = applied
    next_midnight = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    at = [moment, moment + timedelta(seconds=1), next_midnight + timedelta(seconds=1)]
    entity_rows = pd.DataFrame(
        {
            c.VIEWER_ID: viewer,
            c.PRODUCT_ID: product,
            c.STREAMER_ID: streamer,
            c.EVENT_TIMESTAMP: pd.to_datetime(at, utc=True),
        }
    )
    frame = historical_features(settings, entity_rows, "product_ranking_v1")
    frame = frame.sort_values(c.EVENT_TIMESTAMP).reset_index(drop=True)
    before, just_after, next_day = frame.iloc[0], frame.iloc[1], frame.iloc[2]

    assert before[f.VIEWER_SPEND_TOTAL] < LEAK_AMOUNT
    assert before["events_1m"] < LIKES
    assert before[f.VS_PURCHASES] == just_after[f.VS_PURCHASES] - 1
    assert just_after["events_1m"] >= LIKES + 1
    assert just_after[f.PURCHASES_1440M] == before[f.PURCHASES_1440M] + 1
    assert just_after[f.VIEWER_SPEND_TOTAL] < LEAK_AMOUNT  # the daily profile waits for midnight
    assert next_day[f.VIEWER_SPEND_TOTAL] >= LEAK_AMOUNT
    assert next_day[f.PRODUCT_GMV] >= LEAK_AMOUNT
    assert before[f.PRODUCT_GMV] < LEAK_AMOUNT


def test_pipeline__feast_cli__apply_and_materialize_then_online_read(
    applied: tuple[LivecartSettings, Leak],
) -> None:
    settings, (viewer, _, streamer, _) = applied
    env = {**os.environ, "LIVECART_HOME": str(settings.home)}
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    processes = forked_processes()  # a process per command, without a 5 s Feast import each
    for args in (
        ["apply"],
        ["materialize", "2000-01-01T00:00:00", now],
        ["materialize-incremental", now],
    ):
        command = processes.Process(
            target=feast_cli, args=(["-c", str(settings.feature_repo), *args], env)
        )
        command.start()
        command.join(300)
        if command.exitcode is None:
            command.kill()
        assert command.exitcode == 0, f"feast {args[0]}: exit {command.exitcode} (see stderr)"
    store = feature_store(settings)
    online = store.get_online_features(
        features=[
            f"viewer_profile:{f.VIEWER_EVENTS_TOTAL}",
            f"viewer_streamer_affinity:{f.VS_ENTERS}",
        ],
        entity_rows=[
            {c.VIEWER_ID: viewer, c.STREAMER_ID: streamer},
            {c.VIEWER_ID: "nobody", c.STREAMER_ID: streamer},
        ],
    ).to_dict()
    assert online[f.VIEWER_EVENTS_TOTAL][0] > 0
    assert online[f.VIEWER_EVENTS_TOTAL][1] is None


def test_pipeline__incremental_materialize__records_intervals(
    applied: tuple[LivecartSettings, Leak], local_ray: None
) -> None:
    settings, _ = applied
    end = materialize(settings).end
    store = feature_store(settings)
    view = store.get_feature_view(f.FeatureTable.VIEWER_PROFILE.value)
    assert view.materialization_intervals
    assert view.materialization_intervals[-1][1] >= end - timedelta(seconds=1)


def test_historical_features__in_chunks__same_frame_as_one_join(
    applied: tuple[LivecartSettings, Leak],
) -> None:
    """Training examples are joined a chunk of entity rows at a time (bounded memory): every
    row's point-in-time features are those of one join over all the rows."""
    from ray_jobs.training.examples import SERVICE, labelled_impressions

    settings, _ = applied
    shown = labelled_impressions(settings, limit=45)
    rows = shown[[c.VIEWER_ID, c.PRODUCT_ID, c.STREAMER_ID, c.EVENT_TIMESTAMP]]
    keys = [c.VIEWER_ID, c.PRODUCT_ID, c.STREAMER_ID, c.EVENT_TIMESTAMP]

    def joined(chunk: int) -> pd.DataFrame:
        chunked = settings.model_copy(update={"historical_chunk_rows": chunk})
        frame = historical_features(chunked, rows, SERVICE)
        return frame.sort_values(keys).reset_index(drop=True)

    whole, chunked = joined(1_000), joined(7)
    assert len(whole) == len(rows) == 45
    assert list(chunked.columns) == list(whole.columns)
    for column in whole.columns:
        assert whole[column].astype(str).tolist() == chunked[column].astype(str).tolist(), column


def test_stage_examples__in_parts__the_frames_rows_split_by_time(
    applied: tuple[LivecartSettings, Leak], tmp_path: Path
) -> None:
    """Training stages its examples a part at a time (``historical_chunk_rows``) into bucket
    files and a validation file: together they hold exactly the rows of the one-frame examples,
    the latest fifth validates (in time order), and the statistics the model's configuration
    reads are those of the training rows."""
    from ray_jobs.training.example_format import KEYS, example_rows
    from ray_jobs.training.examples import build_examples
    from ray_jobs.training.staged import stage_examples

    settings, _ = applied
    frame = build_examples(settings, limit=60).frame
    parted = settings.model_copy(update={"historical_chunk_rows": 17})  # parts cross the cut
    staged = stage_examples(parted, tmp_path / "staged", limit=60, valid_fraction=0.2, buckets=3)
    assert (staged.train_rows, staged.valid_rows) == (48, 12)
    expected, _ = example_rows(frame, staged.text_dim)
    train = pa.concat_tables(pq.read_table(p) for p in staged.train_files)
    valid = pq.read_table(staged.valid_files[0])
    assert valid.equals(expected.slice(48))  # in time order
    order = pc.sort_indices(train, [(k, "ascending") for k in (c.EVENT_TIMESTAMP, c.EVENT_ID)])
    assert train.take(order).equals(expected.slice(0, 48))
    assert max(train.column(c.EVENT_TIMESTAMP).to_pylist()) <= min(
        valid.column(c.EVENT_TIMESTAMP).to_pylist()
    )
    numeric = np.asarray(expected.column("numeric").combine_chunks().flatten()).reshape(60, -1)
    np.testing.assert_allclose(staged.numeric_mean, numeric[:48].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(staged.numeric_std, numeric[:48].std(axis=0), rtol=1e-4, atol=1e-6)
    assert staged.valid_keys()[list(KEYS)].equals(
        frame[list(KEYS)].iloc[48:].reset_index(drop=True)
    )


def test_historical_features__on_demand_outside_the_join__same_frame_as_feasts_own(
    applied: tuple[LivecartSettings, Leak],
) -> None:
    """Training joins the service's stored features with Feast and computes its on-demand
    features from their source columns (Feast's offline path turns every joined column into
    Python lists for them): the frame is the one ``get_historical_features`` gives for the whole
    service, column for column and in the same order."""
    from ray_jobs.training.examples import SERVICE, labelled_impressions

    settings, _ = applied
    shown = labelled_impressions(settings, limit=40)
    rows = shown[[c.VIEWER_ID, c.PRODUCT_ID, c.STREAMER_ID, c.EVENT_TIMESTAMP]]
    store = feature_store(settings)
    theirs = store.get_historical_features(
        entity_df=rows, features=store.get_feature_service(SERVICE)
    ).to_df()
    ours = historical_features(settings, rows, SERVICE)
    assert f.PRICE_TO_TYPICAL_SPEND in ours.columns
    assert list(ours.columns) == list(theirs.columns)
    keys = [c.VIEWER_ID, c.PRODUCT_ID, c.STREAMER_ID, c.EVENT_TIMESTAMP]
    theirs = theirs.sort_values(keys).reset_index(drop=True)
    ours = ours.sort_values(keys).reset_index(drop=True)
    for column in theirs.columns:
        assert ours[column].dtype == theirs[column].dtype, column
        assert ours[column].astype(str).tolist() == theirs[column].astype(str).tolist(), column
