"""The replay simulation on a real served world: structure and invariants, not who wins.

One tiny configuration (2 seeds, 3 steps, 6 viewers) runs through the real gate, offline append
and Feast push; the assertions are the ones that can break: feedback events land offline and
online, the frozen arm writes nothing, curves are cumulative, and a seed reproduces its curves.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from livecart.cli.main import app
from livecart.core import contract as c
from livecart.core import feature_names as f
from livecart.core.settings import LivecartSettings, get_settings
from livecart.features.feast_store import feature_store
from livecart.simulation.replay import ReplayConfig, ReplayResult, run

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TINY = ReplayConfig(seeds=2, steps=3, viewers=6, rooms=3, k=5, keep_homes=True)


@pytest.fixture(scope="module")
def replayed(
    served_settings: LivecartSettings, tmp_path_factory: pytest.TempPathFactory
) -> ReplayResult:
    work = tmp_path_factory.mktemp("replay")
    return run(served_settings, TINY.model_copy(update={"work_dir": work}))


def _events(home: str) -> list[tuple[str, str, str | None, datetime]]:
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT {c.EVENT_ID}, {c.EVENT_TYPE}, {c.PRODUCT_ID}, {c.EVENT_TIMESTAMP} "
            f"FROM read_parquet('{home}/clean/events/*.parquet', union_by_name = true)"
        ).fetchall()
    finally:
        con.close()
    return [(str(a), str(b), p, ts) for a, b, p, ts in rows]


def _online_impressions(settings: LivecartSettings, home: str, product: str) -> int:
    store = feature_store(settings.model_copy(update={"home": Path(home)}))
    values = store.get_online_features(
        features=[f"{f.FeatureTable.PRODUCT_LIVE_STATS.value}:{f.PRODUCT_IMPRESSIONS_30M}"],
        entity_rows=[{c.PRODUCT_ID: product}],
    ).to_dict()[f.PRODUCT_IMPRESSIONS_30M]
    settings.export_env()
    return int(values[0] or 0)


def test_replay__result__both_arms_every_seed_cumulative_curves(replayed: ReplayResult) -> None:
    assert sorted((r.seed, r.arm) for r in replayed.runs) == [
        (0, "feedback"),
        (0, "frozen"),
        (1, "feedback"),
        (1, "frozen"),
    ]
    for r in replayed.runs:
        curves = (r.clicks, r.carts, r.purchases, r.gmv)
        assert all(len(curve) == TINY.steps for curve in curves)
        assert all(a <= b for curve in curves for a, b in pairwise(curve))
        # The funnel: a cart needs a click, a purchase a cart; GMV only from purchases.
        assert all(p <= k <= n for n, k, p in zip(r.clicks, r.carts, r.purchases, strict=True))
        assert (r.gmv[-1] > 0) == (r.purchases[-1] > 0)
        assert r.requests > 0 and r.degraded == 0
    assert set(replayed.summary) == {"feedback", "frozen"}
    assert {"clicks", "gmv", "clicks_seed_min", "gmv_seed_max"} <= set(replayed.lift)
    assert Path(replayed.plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stored = json.loads(Path(replayed.report).read_text(encoding="utf-8"))
    assert stored["lift"] == replayed.lift


def test_replay__feedback_arm__events_stored_offline_and_counters_online(
    replayed: ReplayResult, served_settings: LivecartSettings
) -> None:
    for r in (r for r in replayed.runs if r.arm == "feedback"):
        assert r.events_sent > 0 and r.events_quarantined == 0
        assert r.events_accepted == r.events_sent and r.offline_parts == TINY.steps
        assert r.home is not None
        events = _events(r.home)
        session = [e for e in events if e[0].startswith(f"replay-s{r.seed}-t")]
        assert len(session) == r.events_accepted
        clicks = sum(e[1] == c.EventType.CLICK.value for e in session)
        assert clicks == r.clicks[-1]
        # The online counter of the most shown product equals its impressions in the offline
        # store over the 30 minutes before its last event: pushed, not just appended.
        shown = [e for e in session if e[1] == c.EventType.IMPRESSION.value]
        product = max(
            sorted({str(e[2]) for e in shown}), key=lambda p: sum(e[2] == p for e in shown)
        )
        last = max(e[3] for e in events if e[2] == product)
        window = last - timedelta(minutes=30)
        expected = sum(e[1] == "impression" and e[2] == product and e[3] >= window for e in events)
        assert expected >= sum(e[2] == product for e in shown) > 0
        assert _online_impressions(served_settings, r.home, product) == expected


def test_replay__frozen_arm__pushes_nothing(
    replayed: ReplayResult, served_settings: LivecartSettings
) -> None:
    feedback = {r.seed: r for r in replayed.runs if r.arm == "feedback"}
    for r in (r for r in replayed.runs if r.arm == "frozen"):
        assert r.events_sent == r.events_accepted == r.offline_parts == 0
        assert r.home is not None
        assert not [e for e in _events(r.home) if e[0].startswith(f"replay-s{r.seed}-t")]
        pushed = _events(str(feedback[r.seed].home))
        product = next(e[2] for e in pushed if e[0].startswith(f"replay-s{r.seed}-t"))
        assert product is not None
        base = _online_impressions(served_settings, str(served_settings.home), product)
        assert _online_impressions(served_settings, r.home, product) == base


def test_replay__same_seed__same_curves(
    replayed: ReplayResult, served_settings: LivecartSettings, tmp_path: Path
) -> None:
    again = run(served_settings, TINY.model_copy(update={"seeds": 1, "work_dir": tmp_path}))
    first = {(r.seed, r.arm): r for r in replayed.runs}
    for r in again.runs:
        before = first[(r.seed, r.arm)]
        assert (r.clicks, r.carts, r.purchases, r.gmv) == (
            before.clicks,
            before.carts,
            before.purchases,
            before.gmv,
        )
        assert r.events_accepted == before.events_accepted


def test_replay__cli_json__prints_the_result(
    served_settings: LivecartSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVECART_HOME", str(served_settings.home))
    monkeypatch.setenv("LIVECART_EMBEDDING_DIM", str(served_settings.embedding_dim))
    get_settings.cache_clear()
    args = ["replay", "--seeds", "1", "--steps", "2", "--viewers", "4", "--rooms", "2", "--json"]
    try:
        result = CliRunner().invoke(app, args)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [r["arm"] for r in body["runs"]] == ["feedback", "frozen"]
    assert len(body["runs"][0]["clicks"]) == 2 and Path(body["plot"]).exists()


def test_replay__cli_without_world__one_clear_message(settings: LivecartSettings) -> None:
    result = CliRunner().invoke(app, ["replay", "--seeds", "1"])
    assert result.exit_code == 2
    assert "livecart generate" in result.output and "Traceback" not in result.output
