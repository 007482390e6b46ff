"""The synthetic world: deterministic, realistic in shape, and driven by planted tastes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from livecart.core import contract as c
from livecart.core.io import read_source
from livecart.core.settings import LivecartSettings
from livecart.simulation.generate import GenerateResult
from livecart.simulation.generate import run as generate
from livecart.simulation.world.behavior import simulate_block
from livecart.simulation.world.catalog import build_catalog
from livecart.simulation.world.config import WorldConfig, world_config
from livecart.simulation.world.dirty import EVENT_FAULTS, PRODUCT_FAULTS
from livecart.simulation.world.text import check_vocabulary, comment_texts, vocabulary


def _events(settings: LivecartSettings) -> pd.DataFrame:
    return read_source(settings.raw_dir, c.Table.EVENTS).to_pandas()


def test_world__same_seed__identical_events(tiny_config: WorldConfig) -> None:
    cat_a, cat_b = build_catalog(tiny_config), build_catalog(tiny_config)
    events_a, _ = simulate_block(tiny_config, cat_a, 0)
    events_b, _ = simulate_block(tiny_config, cat_b, 0)
    assert events_a.equals(events_b)
    other = tiny_config.model_copy(update={"seed": tiny_config.seed + 1})
    events_c, _ = simulate_block(other, build_catalog(other), 0)
    assert not events_a.equals(events_c)


def test_world__tiny__matches_contract_and_is_sorted(
    tiny_world: GenerateResult, settings: LivecartSettings
) -> None:
    table = read_source(settings.raw_dir, c.Table.EVENTS)
    assert table.schema.equals(c.SCHEMAS[c.Table.EVENTS])
    assert 2_000 < table.num_rows < 20_000
    assert set(table.column(c.EVENT_TYPE).to_pylist()) == set(c.EVENT_TYPES)
    times = table.column(c.EVENT_TIMESTAMP).to_numpy()
    assert (np.diff(times.astype("int64")) >= 0).all()
    assert len(table.column(c.EVENT_ID).unique()) == table.num_rows


def test_world__events__only_while_room_is_live(
    tiny_world: GenerateResult, settings: LivecartSettings
) -> None:
    events = _events(settings)
    rooms = read_source(settings.raw_dir, c.Table.ROOMS).to_pandas()
    joined = events.merge(rooms, on=c.ROOM_ID, suffixes=("", "_room"))
    assert len(joined) == len(events)
    live = (joined[c.EVENT_TIMESTAMP] >= joined[c.START_TIMESTAMP]) & (
        joined[c.EVENT_TIMESTAMP] <= joined[c.END_TIMESTAMP]
    )
    assert live.all(), joined.loc[~live, [c.EVENT_TYPE, c.EVENT_TIMESTAMP, c.END_TIMESTAMP]].head()


def test_world__funnel__every_purchase_follows_cart_and_click(
    tiny_world: GenerateResult, settings: LivecartSettings
) -> None:
    events = _events(settings)
    counts = events[c.EVENT_TYPE].value_counts()
    assert counts["impression"] > counts["click"] > counts["add_to_cart"] > counts["purchase"] > 0
    first = (
        events.groupby([c.VIEWER_ID, c.PRODUCT_ID, c.EVENT_TYPE])[c.EVENT_TIMESTAMP].min().unstack()
    )
    bought = first.dropna(subset=["purchase"])
    assert (bought["add_to_cart"] <= bought["purchase"]).all()
    assert (bought["click"] <= bought["add_to_cart"]).all()


def test_world__small__zipf_popularity_and_repeat_watching(settings: LivecartSettings) -> None:
    generate(world_config("small", seed=3), settings, use_ray=False)
    enters = _events(settings).query("event_type == 'enter_room'")
    per_streamer = enters[c.STREAMER_ID].value_counts()
    top_decile = per_streamer.iloc[: max(1, len(per_streamer) // 10)].sum()
    assert top_decile / per_streamer.sum() > 0.3
    repeat = enters.sort_values(c.EVENT_TIMESTAMP).duplicated([c.VIEWER_ID, c.STREAMER_ID])
    assert repeat.mean() > 0.3


def test_world__planted_taste__drives_room_choice(settings: LivecartSettings) -> None:
    generate(world_config("small", seed=5), settings, use_ray=False)
    events = _events(settings).query("event_type == 'enter_room'")
    rooms = read_source(settings.raw_dir, c.Table.ROOMS).to_pandas()[[c.ROOM_ID, c.CATEGORY]]
    truth = pq.read_table(settings.truth_dir / "viewer_truth.parquet").to_pandas()
    favourite = {
        row.viewer_id: c.CATEGORIES[int(np.argmax(row.taste))] for row in truth.itertuples()
    }
    chosen = events.merge(rooms, on=c.ROOM_ID)
    hit = (chosen[c.VIEWER_ID].map(favourite) == chosen[c.CATEGORY]).mean()
    assert hit > 2.0 / len(c.CATEGORIES)


def test_world__dirty__manifest_lists_every_fault_class(
    settings: LivecartSettings, tiny_config: WorldConfig
) -> None:
    result = generate(tiny_config, settings, dirty=0.05, use_ray=False)
    manifest = pq.read_table(settings.truth_dir / "injected_faults.parquet").to_pandas()
    assert result.dirty_rows == len(manifest)
    assert set(manifest.query("source == 'events'")["fault"]) == set(EVENT_FAULTS)
    assert set(manifest.query("source == 'products'")["fault"]) == set(PRODUCT_FAULTS)


def test_world__rerun__replaces_previous_events(
    settings: LivecartSettings, tiny_config: WorldConfig
) -> None:
    generate(tiny_config, settings, dirty=0.05, use_ray=False)
    clean = generate(tiny_config, settings, use_ray=False)
    assert read_source(settings.raw_dir, c.Table.EVENTS).num_rows == clean.events
    assert not (settings.truth_dir / "injected_faults.parquet").exists()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_text__comments__follow_satisfaction(language: str) -> None:
    check_vocabulary()
    rng = np.random.default_rng(0)
    vocab = vocabulary(language)  # type: ignore[arg-type]
    nouns = np.array(["x"] * 400, dtype=object)
    happy, happy_kinds = comment_texts(rng, np.full(400, 3.0), nouns, language)  # type: ignore[arg-type]
    unhappy, unhappy_kinds = comment_texts(rng, np.full(400, -3.0), nouns, language)  # type: ignore[arg-type]
    assert set(unhappy_kinds) == {"negative"} and "negative" not in set(happy_kinds)
    negatives = {t.format(noun="x") for t in vocab.negative}
    assert np.isin(unhappy, list(negatives)).mean() > 0.95
    assert np.isin(happy, list(negatives)).mean() < 0.05


def test_world__zh__titles_are_chinese(tmp_path: object) -> None:
    cfg = world_config("tiny", language="zh")
    titles = build_catalog(cfg).tables[c.Table.PRODUCTS].column(c.TITLE).to_pylist()
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in titles)
