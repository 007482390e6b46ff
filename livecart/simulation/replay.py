"""The replay simulation that proves the feedback loop: a live session, with and without feedback.

Against a served world (its catalogue, its registered ranker, the real online store) one seeded
live session runs twice, each arm in its own copy of the home so neither sees the other's writes:

- ``feedback``: every step, each active viewer asks the in-process :class:`ViewerPipeline` for
  ``k`` products (exploration budget on); the planted oracle answers with impressions, clicks,
  carts and purchases, and those events go through :class:`EventIngestor` (the GX gate, the
  offline append, the Feast push), so the next step reads fresh counters, fresh CTR for Thompson
  sampling and fresh viewer behaviour.
- ``frozen``: the same model on the same session with exploration budget 0 and no pushes: what
  serving would do if the loop were cut.

The session's start (viewers entering the live rooms, through the real ingestor) is pushed once and
the home copied afterwards, so both arms start from the same state. Events carry a simulated clock
ending before "now" (``start + (step + 1) * step_seconds``): windows over event time then give the
same features on every run, so a seed reproduces its curves (within one process; across processes
fix ``PYTHONHASHSEED`` too: retrieval orders live rooms with equal product counts in set order,
and the Thompson draws follow the candidate order).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel
from tqdm import tqdm

from livecart.core.errors import LivecartError
from livecart.core.settings import LivecartSettings
from livecart.features.feast_store import feature_store
from livecart.features.reader import reader_for
from livecart.simulation.oracle import Oracle, load_oracle
from livecart.simulation.session import (
    ARMS,
    Arm,
    Memory,
    ReplayConfig,
    Session,
    engaged_viewers,
    plan_session,
    plot_curves,
    respond,
    setup_events,
    summarize,
)
from serving.catalog import Catalog, load_catalog
from serving.event_ingest import EventIngestor
from serving.live_state import LiveState
from serving.pipeline import ViewerPipeline
from serving.prepared import Prepared
from serving.rank import ModelHolder, score_inputs
from serving.schemas import Driver, EventIn, ViewerRequest, ViewerResponse

__all__ = ["ArmRun", "ReplayConfig", "ReplayResult", "run"]
COPIED = ("clean", "feast", "models")  # what serving reads and the feedback loop writes


class ArmRun(BaseModel):
    """One arm on one seed: cumulative curves (one value per step) and what went through ingest."""

    arm: Arm
    seed: int
    clicks: list[int]
    carts: list[int]
    purchases: list[int]
    gmv: list[float]
    requests: int
    degraded: int
    events_sent: int
    events_accepted: int
    events_quarantined: int
    offline_parts: int
    home: str | None
    seconds: float


class ReplayResult(BaseModel):
    """Every run's curves, the final values per arm over seeds, the lift, and where files went."""

    config: ReplayConfig
    world: str
    exploration_budget: float
    exploration_prior_strength: float
    runs: list[ArmRun]
    summary: dict[str, dict[str, float]]  # arm -> clicks/gmv mean, std (sample), min, max
    lift: dict[str, float]  # mean(feedback) / mean(frozen) - 1, and the per-seed min / max
    wins: dict[str, int]  # seeds where feedback ended above frozen
    plot: str
    report: str
    seconds: float


def copy_home(source: Path, target: Path) -> Path:
    """Copy what serving reads and writes (offline events, Feast registry + online store, models)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        if (source / name).exists():
            shutil.copytree(source / name, target / name)
    return target


class _ReplayPipeline(ViewerPipeline):
    """The serving pipeline minus per-item explanations: they cost two extra forward passes per
    request and never change what is shown (``_drivers`` runs after the order is chosen)."""

    def _drivers(
        self, prepared: Prepared, chosen: list[int], blended: np.ndarray, explored: set[int]
    ) -> list[tuple[Driver, float]]:
        return [(Driver.EXPLORATION if i in explored else Driver.POPULARITY, 0.0) for i in chosen]


class _ArmRunner:
    """One arm's serving objects in its own home: online store, model, pipeline, live state."""

    def __init__(self, arm: Arm, settings: LivecartSettings, catalog: Catalog, seed: int) -> None:
        self.arm, self.settings = arm, settings
        self.ingestor = EventIngestor(settings) if arm == "feedback" else None
        self.store = self.ingestor.store if self.ingestor else feature_store(settings)
        self.state = self.ingestor.state if self.ingestor else LiveState(settings, self.store)
        self.holder = ModelHolder(settings)
        if self.holder.ranker is None:
            raise LivecartError(
                f"no registered ranker in {settings.models_dir}; run livecart train"
            )
        self.ranker = self.holder.ranker
        self.pipeline = _ReplayPipeline(
            settings, reader_for(self.store), catalog, self.holder, seed=seed
        )
        self.parts = 0
        self.sent = self.accepted = self.quarantined = 0

    def begin(self, session: Session) -> None:
        """Push the session's start (room entries) through the ingestor, outside the tallies."""
        self.ingest(setup_events(session))
        if self.quarantined:
            raise LivecartError(f"the gate quarantined {self.quarantined} session-start events")
        self.sent = self.accepted = self.parts = 0

    def ingest(self, events: list[EventIn]) -> None:
        """Through the real gate and push, in batches no larger than the API admits."""
        assert self.ingestor is not None
        size = self.settings.max_events_per_request
        for i in range(0, len(events), size):
            response = self.ingestor.ingest(events[i : i + size])
            self.sent += len(events[i : i + size])
            self.accepted += response.accepted
            self.quarantined += len(response.quarantined)
            self.parts += response.offline_part is not None

    def recommend(
        self, requests: list[ViewerRequest], live: dict[str, int]
    ) -> list[ViewerResponse]:
        """As a Serve replica does: prepare and rank in batches of ``batch_max_size`` (one
        feature read and one forward pass each, like a replica's batches), finish each in order."""
        size = self.settings.batch_max_size
        out: list[ViewerResponse] = []
        for lo in range(0, len(requests), size):
            prepared = self.pipeline.prepare_many(requests[lo : lo + size], live)
            ranked = [p for p in prepared if p.inputs is not None and p.rankable]
            parts = [p.inputs for p in ranked if p.inputs is not None]
            scores = dict(zip(map(id, ranked), score_inputs(self.ranker, parts), strict=True))
            out += [self.pipeline.finish(p, scores.get(id(p))) for p in prepared]
        return out

    def live(self, session: Session) -> dict[str, int]:
        """Live rooms as the ingest replica sees them (sorted: a stable candidate order)."""
        now = self.state.live_rooms()
        missing = sorted(set(session.rooms) - set(now))
        if missing:
            raise LivecartError(f"session rooms not live in {self.arm} arm: {missing[:5]}")
        return {room: now[room] for room in sorted(now)}


def _simulate(
    runner: _ArmRunner, session: Session, oracle: Oracle, config: ReplayConfig, home: Path
) -> ArmRun:
    began = time.perf_counter()
    memory, feedback = Memory(), runner.arm == "feedback"
    totals = np.zeros(4)
    curves: list[np.ndarray] = []
    requests_total = degraded = 0
    label = f"seed {session.seed} {runner.arm}"
    for step in tqdm(range(config.steps), desc=label, leave=False, unit="step"):
        live = runner.live(session)
        active = [int(i) for i in np.flatnonzero(session.active[step])]
        requests = [
            ViewerRequest(viewer_id=v, room_id=session.room_of[v], k=config.k, explore=feedback)
            for v in (session.viewers[i] for i in active)
        ]
        events: list[EventIn] = []
        for index, response in zip(active, runner.recommend(requests, live), strict=True):
            degraded += response.degraded
            room = session.room_of[session.viewers[index]]
            shown = [(p.product_id, p.room_id or room) for p in response.products]
            outcome = respond(oracle, session, memory, step, index, shown, config)
            totals += (outcome.clicks, outcome.carts, outcome.purchases, outcome.gmv)
            events.extend(outcome.events)
        requests_total += len(requests)
        curves.append(totals.copy())
        if feedback and events:
            runner.ingest(events)
    cum = np.array(curves)
    return ArmRun(
        arm=runner.arm,
        seed=session.seed,
        clicks=[int(x) for x in cum[:, 0]],
        carts=[int(x) for x in cum[:, 1]],
        purchases=[int(x) for x in cum[:, 2]],
        gmv=[round(float(x), 2) for x in cum[:, 3]],
        requests=requests_total,
        degraded=degraded,
        events_sent=runner.sent,
        events_accepted=runner.accepted,
        events_quarantined=runner.quarantined,
        offline_parts=runner.parts,
        home=str(home) if config.keep_homes else None,
        seconds=round(time.perf_counter() - began, 2),
    )


def exploration(settings: LivecartSettings, config: ReplayConfig) -> tuple[float, float]:
    """The feedback arm's exploration budget and prior strength (config overrides settings)."""
    budget = config.exploration_budget
    strength = config.exploration_prior_strength
    return (
        settings.exploration_budget if budget is None else budget,
        settings.exploration_prior_strength if strength is None else strength,
    )


def _run_seed(
    settings: LivecartSettings,
    config: ReplayConfig,
    catalog: Catalog,
    oracle: Oracle,
    population: list[str],
    seed: int,
    work: Path,
) -> list[ArmRun]:
    start = datetime.now(UTC).replace(microsecond=0)
    start -= timedelta(seconds=(config.steps + 2) * config.step_seconds)
    session = plan_session(catalog, oracle, population, config, seed, start)
    homes = {arm: work / f"seed{seed}" / arm for arm in ARMS}
    budget, strength = exploration(settings, config)
    arm_settings = {
        arm: settings.model_copy(
            update={
                "home": homes[arm],
                "exploration_budget": budget if arm == "feedback" else 0.0,
                "exploration_prior_strength": strength,
            }
        )
        for arm in ARMS
    }
    copy_home(settings.home, homes["feedback"])
    feedback = _ArmRunner("feedback", arm_settings["feedback"], catalog, seed)
    feedback.begin(session)
    copy_home(homes["feedback"], homes["frozen"])  # after the start: both arms begin alike
    frozen = _ArmRunner("frozen", arm_settings["frozen"], catalog, seed)
    runs = []
    for runner in (feedback, frozen):
        runner.settings.export_env()
        runs.append(_simulate(runner, session, oracle, config, homes[runner.arm]))
    return runs


def run(settings: LivecartSettings, config: ReplayConfig | None = None) -> ReplayResult:
    """Simulate ``config.seeds`` sessions per arm; write JSON and the plot under reports/replay."""
    config = config or ReplayConfig()
    began = time.perf_counter()
    previous_home, threads = os.environ.get("LIVECART_HOME"), torch.get_num_threads()
    torch.set_num_threads(1)  # as a Serve replica: small matmuls, no thread contention
    catalog = load_catalog(settings)
    oracle = load_oracle(settings, catalog.products)
    population = engaged_viewers(settings, oracle)
    work = (config.work_dir or Path(tempfile.mkdtemp(prefix="livecart-replay-"))).resolve()
    runs: list[ArmRun] = []
    try:
        for seed in range(config.first_seed, config.first_seed + config.seeds):
            shutil.rmtree(work / f"seed{seed}", ignore_errors=True)  # a fresh copy per seed
            runs.extend(_run_seed(settings, config, catalog, oracle, population, seed, work))
            if not config.keep_homes:
                shutil.rmtree(work / f"seed{seed}", ignore_errors=True)
    finally:
        torch.set_num_threads(threads)
        if previous_home is None:
            os.environ.pop("LIVECART_HOME", None)
        else:
            os.environ["LIVECART_HOME"] = previous_home
        if config.work_dir is None and not config.keep_homes:
            shutil.rmtree(work, ignore_errors=True)
    budget, strength = exploration(settings, config)
    directory = settings.reports_dir / "replay"
    curves: dict[str, dict[str, np.ndarray]] = {
        arm: {
            metric: np.array([getattr(r, metric) for r in runs if r.arm == arm], dtype=np.float64)
            for metric in ("clicks", "gmv")
        }
        for arm in ARMS
    }
    summary, lift, wins = summarize(
        {(arm, m): values[:, -1] for arm, by in curves.items() for m, values in by.items()}
    )
    title = (
        f"replay: {config.viewers} viewers, {config.rooms} rooms, k={config.k}, "
        f"{config.seeds} seeds; lift clicks {lift['clicks']:+.1%}, GMV {lift['gmv']:+.1%}"
    )
    plot = plot_curves(curves, directory / "replay.png", title)
    result = ReplayResult(
        config=config,
        world=str(settings.home),
        exploration_budget=budget,
        exploration_prior_strength=strength,
        runs=runs,
        summary=summary,
        lift=lift,
        wins=wins,
        plot=str(plot),
        report=str(directory / "replay.json"),
        seconds=round(time.perf_counter() - began, 2),
    )
    (directory / "replay.json").write_text(
        result.model_dump_json(indent=2) + "\n", encoding="utf-8"
    )
    return result
