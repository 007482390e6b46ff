"""The simulated side of the replay: its config, the live session, viewer
responses, and the summary and plot of the curves.

Simulated viewers answer recommendations through the world's one oracle
(:mod:`livecart.simulation.oracle`), the way the world's viewers answered the feed that generated
the training data. Randomness is drawn per (seed, step, viewer) from a fixed stream indexed by product,
so both arms face the same coin for the same offer (common random numbers: the arms differ by what
they show, not by luck).

Session rules on top of the oracle, the same in both arms: slot ``i`` of a list is examined with
probability ``position_decay ** i`` (impressions are logged for every slot, as a client would),
a product the viewer bought earlier in the session is not clicked or bought again, and an optional
``fatigue`` lowers the click probability of a product each time it is shown again (off by
default: the oracle as planted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict, Field, model_validator

from livecart.core import contract as c
from livecart.core.errors import LivecartError
from livecart.core.io import event_parts
from livecart.core.settings import LivecartSettings
from livecart.simulation.oracle import CATEGORY_INDEX, Oracle
from serving.catalog import Catalog
from serving.schemas import EventIn

Arm = Literal["feedback", "frozen"]
ARMS: tuple[Arm, ...] = ("feedback", "frozen")


class ReplayConfig(BaseModel):
    """The simulated session; the defaults take about 70 s of CPU on the small world."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seeds: int = Field(default=3, gt=0, description="Sessions simulated (seeds first_seed...).")
    first_seed: int = Field(default=0, ge=0)
    steps: int = Field(default=10, gt=0)
    viewers: int = Field(default=30, gt=0)
    rooms: int = Field(default=8, gt=0, description="Rooms made live for the session.")
    k: int = Field(default=10, gt=0, le=50)
    active_share: float = Field(default=0.8, gt=0, le=1, description="P(viewer asks at a step).")
    step_seconds: float = Field(default=20.0, ge=5.0, description="Simulated time per step.")
    position_decay: float = Field(default=0.85, gt=0, le=1, description="P(examine slot i)=d**i.")
    fatigue: float = Field(default=1.0, gt=0, le=1, description="Click factor per repeat showing.")
    exploration_budget: float | None = Field(
        default=None, ge=0, le=1, description="None: settings."
    )
    exploration_prior_strength: float | None = Field(default=None, gt=0)
    work_dir: Path | None = Field(default=None, description="Arm homes (None: a temporary dir).")
    keep_homes: bool = Field(default=False, description="Keep the arm homes (for inspection).")

    @model_validator(mode="after")
    def _fits_live_window(self) -> ReplayConfig:
        if (self.steps + 2) * self.step_seconds > 20 * 60:
            raise ValueError("steps * step_seconds must stay under 20 minutes (rooms stay live)")
        return self


@dataclass(frozen=True)
class Session:
    """Who watches which live room, who is active at each step, and the session's clock."""

    seed: int
    rooms: dict[str, str]  # live room -> its streamer
    viewers: list[str]
    room_of: dict[str, str]  # viewer -> the room entered at the start
    browsed: list[tuple[str, str]]  # (viewer, room) brief visits just before the start
    active: np.ndarray  # (steps, viewers) bool
    start: datetime
    step_seconds: float

    def stamp(self, step: int, offset_s: float = 0.0) -> datetime:
        """Event time of ``step`` (0-based; the setup is at ``start``), always in the past."""
        return self.start + timedelta(seconds=(step + 1) * self.step_seconds + offset_s)


def engaged_viewers(settings: LivecartSettings, oracle: Oracle) -> list[str]:
    """Viewers with clicks in the offline store and planted truth (known to the ranker)."""
    parts = [str(p) for p in event_parts(settings.clean_dir)]
    if not parts:
        return []
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT DISTINCT {c.VIEWER_ID} FROM read_parquet(?, union_by_name = true) "
            f"WHERE {c.EVENT_TYPE} = 'click' ORDER BY 1",
            [parts],
        ).fetchall()
    finally:
        con.close()
    return [str(v) for (v,) in rows if str(v) in oracle.viewers]


def plan_session(
    catalog: Catalog,
    oracle: Oracle,
    population: list[str],
    config: ReplayConfig,
    seed: int,
    start: datetime,
) -> Session:
    """Seeded choice of live rooms (distinct streamers) and viewers; each enters the room it likes
    best (taste for the room's category, plus favourite streamers, Gumbel noise: the world's rule)."""
    rng = np.random.default_rng([seed, 1])
    by_streamer: dict[str, str] = {}
    for room, streamer in sorted(
        zip(catalog.rooms.index, catalog.rooms[c.STREAMER_ID], strict=True)
    ):
        if catalog.streamer_products.get(str(streamer)):
            by_streamer.setdefault(str(streamer), str(room))
    streamers = sorted(by_streamer)
    rooms, viewers = config.rooms, config.viewers
    if len(streamers) < rooms or len(population) < viewers:
        raise LivecartError(
            f"replay wants {rooms} rooms and {viewers} viewers; the world has "
            f"{len(streamers)} streamers with products and {len(population)} engaged viewers"
        )
    chosen = sorted(rng.choice(len(streamers), size=rooms, replace=False))
    live = {by_streamer[streamers[i]]: streamers[i] for i in chosen}
    picked = sorted(population[i] for i in rng.choice(len(population), viewers, replace=False))
    room_ids = sorted(live)
    room_cat = [CATEGORY_INDEX[str(catalog.rooms.at[r, c.CATEGORY])] for r in room_ids]
    taste = oracle.taste[[oracle.viewers[v] for v in picked]][:, room_cat]
    fav = np.array([[(v, live[r]) in oracle.favourites for r in room_ids] for v in picked])
    utility = taste + 1.5 * fav + rng.gumbel(size=taste.shape)
    room_of = {v: room_ids[int(j)] for v, j in zip(picked, utility.argmax(axis=1), strict=True)}
    # A room nobody settles in still gets a visit from its keenest viewer, so every room is live.
    empty = [j for j, r in enumerate(room_ids) if r not in room_of.values()]
    browsed = [(picked[int(utility[:, j].argmax())], room_ids[j]) for j in empty]
    active = rng.random((config.steps, viewers)) < config.active_share
    return Session(seed, live, picked, room_of, browsed, active, start, config.step_seconds)


def setup_events(session: Session) -> list[EventIn]:
    """The session's start: every viewer enters its room (what makes the rooms live), after the
    brief visits that keep rooms without a settled viewer live too."""
    visits = [(v, r, -1.0) for v, r in session.browsed]
    visits += [(v, session.room_of[v], 0.0) for v in session.viewers]
    return [
        EventIn(
            event_id=f"replay-s{session.seed}-enter-{i}",
            event_type=c.EventType.ENTER_ROOM.value,
            event_timestamp=(session.start + timedelta(seconds=offset)).isoformat(),
            viewer_id=viewer,
            room_id=room,
            streamer_id=session.rooms[room],
        )
        for i, (viewer, room, offset) in enumerate(visits)
    ]


@dataclass
class Memory:
    """What simulated viewers remember within the session (the same rules in both arms)."""

    seen: dict[tuple[str, str], int] = field(default_factory=dict)
    bought: set[tuple[str, str]] = field(default_factory=set)


@dataclass(frozen=True)
class Outcome:
    clicks: int
    carts: int
    purchases: int
    gmv: float
    events: list[EventIn]


def respond(
    oracle: Oracle,
    session: Session,
    memory: Memory,
    step: int,
    index: int,
    shown: Sequence[tuple[str, str]],
    config: ReplayConfig,
) -> Outcome:
    """The viewer's answer to ``shown`` ((product, room) best first): impressions for all, then
    the planted funnel on the examined ones (position ``i`` examined with ``decay ** i``).
    A product already shown to this viewer ``n`` times clicks with ``fatigue ** n`` of its
    probability; a product the viewer bought earlier in the session is neither clicked nor bought
    again (they own it now: showing it wastes the slot)."""
    viewer = session.viewers[index]
    if not shown:
        return Outcome(0, 0, 0, 0.0, [])
    products = [p for p, _ in shown]
    click_p, cart_p, buy_p = oracle.funnel(viewer, products)
    draws = np.random.default_rng([session.seed, 2, step, index]).random((4, len(oracle.products)))
    idx = np.array([oracle.products[p] for p in products], dtype=int)
    repeats = np.array([memory.seen.get((viewer, p), 0) for p in products], dtype=np.float64)
    examined = draws[0, : len(products)] < config.position_decay ** np.arange(len(products))
    owned = np.array([(viewer, p) in memory.bought for p in products], dtype=bool)
    clicked = examined & ~owned & (draws[1, idx] < click_p * config.fatigue**repeats)
    carted = clicked & (draws[2, idx] < cart_p)
    bought = carted & (draws[3, idx] < buy_p)
    events: list[EventIn] = []
    gmv = 0.0
    for j, (product, room) in enumerate(shown):
        memory.seen[(viewer, product)] = memory.seen.get((viewer, product), 0) + 1
        kinds = [(c.EventType.IMPRESSION, True), (c.EventType.CLICK, clicked[j])]
        kinds += [(c.EventType.ADD_TO_CART, carted[j]), (c.EventType.PURCHASE, bought[j])]
        for offset, (kind, happened) in enumerate(kinds):
            if not happened:
                continue
            price = float(oracle.price[idx[j]])
            if kind is c.EventType.PURCHASE:
                memory.bought.add((viewer, product))
                gmv += price
            events.append(
                EventIn(
                    event_id=f"replay-s{session.seed}-t{step}-v{index}-{kind.value}-{product}",
                    event_type=kind.value,
                    event_timestamp=session.stamp(step, offset + j * 1e-3).isoformat(),
                    viewer_id=viewer,
                    room_id=room,
                    streamer_id=oracle.streamer[idx[j]],
                    product_id=product,
                    amount=price if kind is c.EventType.PURCHASE else None,
                )
            )
    return Outcome(int(clicked.sum()), int(carted.sum()), int(bought.sum()), gmv, events)


def summarize(
    final: dict[tuple[str, str], np.ndarray],
) -> tuple[dict[str, dict[str, float]], dict[str, float], dict[str, int]]:
    """From final values per (arm, metric) over seeds: mean, sample sd, min and max per arm,
    the relative lift of feedback over frozen (of the means; per-seed min and max) and seed wins."""
    summary: dict[str, dict[str, float]] = {arm: {} for arm in ARMS}
    for (arm, metric), values in final.items():
        ddof = 1 if values.size > 1 else 0
        stats = {"mean": values.mean(), "std": values.std(ddof=ddof), "min": values.min()}
        stats["max"] = values.max()
        summary[arm].update({f"{metric}_{k}": round(float(v), 2) for k, v in stats.items()})
    lift: dict[str, float] = {}
    wins: dict[str, int] = {}
    for metric in ("clicks", "gmv"):
        fb, fr = final["feedback", metric], final["frozen", metric]
        lift[metric] = round(float(fb.mean() / fr.mean() - 1), 4) if fr.mean() else 0.0
        per_seed = fb[fr > 0] / fr[fr > 0] - 1
        lift[f"{metric}_seed_min"] = round(float(per_seed.min()), 4) if per_seed.size else 0.0
        lift[f"{metric}_seed_max"] = round(float(per_seed.max()), 4) if per_seed.size else 0.0
        wins[metric] = int((fb > fr).sum())
    return summary, lift, wins


def plot_curves(curves: dict[str, dict[str, np.ndarray]], path: Path, title: str) -> Path:
    """Cumulative clicks and GMV per step, one line per arm (mean over seeds), min-max shaded.

    ``curves[arm][metric]`` is a (seeds, steps) array.
    """
    figure = Figure(figsize=(10, 4))
    for axis, metric in zip(figure.subplots(1, 2), ("clicks", "gmv"), strict=True):
        for arm, color in (("feedback", "tab:green"), ("frozen", "tab:gray")):
            values = curves[arm][metric]
            steps = np.arange(1, values.shape[1] + 1)
            axis.plot(steps, values.mean(axis=0), color=color, label=f"{arm} (mean)")
            axis.fill_between(steps, values.min(axis=0), values.max(axis=0), color=color, alpha=0.2)
        axis.set_xlabel("step")
        axis.set_ylabel(f"cumulative {metric}" if metric == "clicks" else "cumulative GMV")
        axis.grid(alpha=0.3)
    axis.legend(loc="upper left", fontsize=8)
    figure.suptitle(title + " (shaded: min-max over seeds)", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return path
