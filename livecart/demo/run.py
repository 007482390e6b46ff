"""`livecart demo`: the end-to-end job on embedded defaults (DuckDB files, local Ray).

Stages run in order, each timed and shown; a failure names the stage and the fix: generate,
validate (a dirty batch quarantined), features, embed, comments, apply, materialize, train (the
product ranker, then the room ranker), evaluate (the served room ranker beside the baselines),
serve (Ray Serve over HTTP), a live session replayed through ``/v1/events``, and the closing
report (terminal, JSON and HTML).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pyarrow.compute as pc
from rich.console import Console

from livecart.core import contract as c
from livecart.core.errors import LivecartError, StageError
from livecart.core.io import read_source
from livecart.core.settings import LivecartSettings
from livecart.demo.report import print_report, write_report
from livecart.simulation.world.config import Scale

T = TypeVar("T")
FIXES: dict[str, str] = {
    "generate": "check free disk space under LIVECART_HOME and that Ray can start (`ray status`)",
    "validate": "inspect the quarantine files and Data Docs under <home>/reports/data_docs",
    "features": "rerun `livecart validate`; the feature SQL reads <home>/clean",
    "comments": "the probe needs synthetic comment labels: run `livecart generate`",
    "embed": "check LIVECART_ENCODER_PATH (a local Hugging Face model directory) and LIVECART_EMBEDDING_DIM",
    "apply": "run `feast -c feature_repo plan` with LIVECART_HOME exported to see the repo error",
    "materialize": "rerun `livecart apply` then `livecart materialize`",
    "training frame": "rerun `livecart features` and `livecart apply`",
    "online read": "rerun `livecart materialize`",
    "train": "rerun `livecart apply`; check `ray status` has free CPUs",
    "train rooms": "run `livecart train --ranker rooms` to see the error in full",
    "evaluate": "run `livecart evaluate --dataset synthetic` to see the error in full",
    "serve": "check that port LIVECART_SERVE_PORT is free and `ray status` has CPUs",
    "live session": "start `livecart serve` and look at its log for the failing endpoint",
}


def _stage(console: Console, name: str, timings: dict[str, float], work: Callable[[], T]) -> T:
    started = time.perf_counter()
    with console.status(f"[bold]{name}[/] ..."):
        try:
            result = work()
        except LivecartError:
            raise
        except Exception as error:  # a stage's own failure, reported with its fix
            raise StageError(
                name, f"{type(error).__name__}: {error}", FIXES.get(name, "see above")
            ) from error
    timings[name] = round(time.perf_counter() - started, 2)
    console.print(f"[green]done[/] {name} ({timings[name]:.1f} s)")
    return result


def run(
    settings: LivecartSettings, scale: Scale = "small", console: Console | None = None
) -> dict[str, Any]:
    """Run every existing stage; return (and write) the closing report."""
    from livecart.features.feast_store import apply, feature_store, historical_features
    from livecart.model.comment_probe import run as train_probe
    from livecart.model.comment_signals import run as score_comments
    from livecart.simulation.generate import run as generate
    from livecart.simulation.oracle import oracle_reference
    from livecart.simulation.world.config import world_config
    from ray_jobs.embed import run as embed_texts
    from ray_jobs.evaluation.protocols import ProtocolName
    from ray_jobs.evaluation.runner import DEFAULT_MODELS, EvaluationConfig
    from ray_jobs.evaluation.runner import run as evaluate
    from ray_jobs.features import run as build_features
    from ray_jobs.materialize import materialize
    from ray_jobs.train import TrainConfig
    from ray_jobs.train import run as train
    from ray_jobs.train_rooms import RoomTrainConfig
    from ray_jobs.train_rooms import run as train_rooms
    from validation.report import print_summary
    from validation.run import run as validate

    console = console or Console(stderr=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    console.rule(f"livecart demo: {scale} world in {settings.home}")
    # Small blocks so that even the demo world is simulated as several tasks on the local Ray.
    world_cfg = world_config(scale).model_copy(update={"visits_per_chunk": 5_000})
    world = _stage(
        console,
        "generate",
        timings,
        lambda: generate(world_cfg, settings, dirty=0.02, use_ray=True),
    )
    quality = _stage(console, "validate", timings, lambda: validate(settings))
    print_summary(quality, console)
    features = _stage(console, "features", timings, lambda: build_features(settings))
    embedded = _stage(console, "embed", timings, lambda: embed_texts(settings))
    probe = _stage(console, "comments", timings, lambda: train_probe(settings))
    _stage(console, "comment signals", timings, lambda: score_comments(settings))
    _stage(console, "apply", timings, lambda: apply(settings))
    first_day = datetime(2000, 1, 1, tzinfo=UTC)
    _stage(console, "materialize", timings, lambda: materialize(settings, start=first_day))

    def training_frame() -> tuple[int, int]:
        events = read_source(settings.clean_dir, c.Table.EVENTS)
        shown = events.filter(
            pc.and_(pc.equal(events[c.EVENT_TYPE], "impression"), pc.is_valid(events[c.PRODUCT_ID]))
        )
        sample = shown.slice(0, 5_000).select(
            [c.VIEWER_ID, c.PRODUCT_ID, c.STREAMER_ID, c.EVENT_TIMESTAMP]
        )
        frame = historical_features(settings, sample.to_pandas(), "product_ranking_v1")
        return frame.shape

    rows, columns = _stage(console, "training frame", timings, training_frame)
    trained = _stage(
        console,
        "train",
        timings,
        lambda: train(
            settings, TrainConfig(epochs=3, num_workers=2), reference=oracle_reference(settings)
        ),
    )
    rooms = _stage(
        console,
        "train rooms",
        timings,
        lambda: train_rooms(settings, RoomTrainConfig(num_workers=2), progress=False),
    )
    evaluation = _stage(
        console,
        "evaluate",
        timings,
        lambda: evaluate(
            EvaluationConfig(
                settings=settings,
                dataset="synthetic",
                protocols=(ProtocolName.FULL,),
                models=(*DEFAULT_MODELS, "served"),
            )
        ),
    )
    console.print(evaluation.to_markdown(), markup=False, highlight=False, soft_wrap=True)

    def online_read() -> float:
        store = feature_store(settings)
        viewers = (
            read_source(settings.clean_dir, c.Table.VIEWERS).column(c.VIEWER_ID).to_pylist()[:100]
        )
        service = store.get_feature_service("room_ranking_v1")
        rows = [{c.VIEWER_ID: v, c.ROOM_ID: "r0000", c.STREAMER_ID: "s0000"} for v in viewers]
        store.get_online_features(features=service, entity_rows=rows)  # loads the read cache
        samples = []
        for _ in range(20):
            t0 = time.perf_counter()
            store.get_online_features(features=service, entity_rows=rows).to_dict()
            samples.append((time.perf_counter() - t0) * 1000)
        return sorted(samples)[len(samples) // 2]

    online_ms = _stage(console, "online read", timings, online_read)
    serving = _serve_and_replay(settings, console, timings)
    report: dict[str, Any] = {
        "home": str(settings.home),
        "scale": scale,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "stage_seconds": timings,
        "raw_rows": world.tables,
        "dirty_rows_injected": world.dirty_rows,
        "data_quality": {
            t.table.value: {
                "rows": t.total,
                "good": t.good,
                "quarantined": t.quarantined,
                "top_reasons": t.top_reasons(),
            }
            for t in quality.tables
        },
        "feature_rows": features.rows,
        "text_embeddings": {"rows": embedded.rows, "dim": embedded.dim},
        "comment_probe": {"accuracy": probe.accuracy, "majority_baseline": probe.majority_baseline},
        "feature_suites": {
            "rules": sum(len(t.rules) for t in features.checks.tables) if features.checks else 0,
            "failures": len(features.checks.failures) if features.checks else 0,
            "data_docs": str(features.checks.data_docs_index) if features.checks else None,
        },
        "training_frame": {"rows": rows, "columns": columns, "service": "product_ranking_v1"},
        "online_read_100_viewers_p50_ms": round(online_ms, 2),
        "ranker": {
            "model": f"{trained.record.name} v{trained.record.version}",
            "metrics": trained.record.metadata["metrics"],
            "oracle_auc_purchase": trained.record.metadata.get("oracle_auc_purchase"),
            "history": [_epoch(row) for row in trained.history],
        },
        "room_ranker": {
            "model": f"{rooms.record.name} v{rooms.record.version}",
            "queries": rooms.queries,
            "metrics": rooms.record.metadata["metrics"],
        },
        "evaluation_report": str(settings.reports_dir / "evaluation" / "report.md"),
        "evaluation_table": evaluation.to_markdown(),
        "evaluation": {**evaluation.to_dict(), "metric_names": evaluation.metric_names()},
        "serving": serving,
        "data_docs": str(quality.data_docs_index) if quality.data_docs_index else None,
    }
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    write_report(settings, report)  # sets report["html_report"] before writing either report
    print_report(console, report)
    return report


def _epoch(row: dict[str, Any]) -> dict[str, Any]:
    """One epoch of the ranker's training history, NaN as None (the JSON report stays JSON)."""
    keys = ("epoch", "train_loss", "valid_loss", "auc_click", "auc_purchase")
    return {k: None if isinstance(v := row.get(k), float) and math.isnan(v) else v for k in keys}


def _serve_and_replay(
    settings: LivecartSettings, console: Console, timings: dict[str, float]
) -> dict[str, Any]:
    """Start Ray Serve over HTTP, replay a live session through it, stop it."""
    from livecart.simulation.live_session import run as live_session
    from serving.runner import start, stop

    url = _stage(console, "serve", timings, lambda: start(settings))
    console.print(f"serving at {url} (console: {url}/console)")
    try:
        session = _stage(console, "live session", timings, lambda: live_session(settings, url))
    finally:
        stop(settings)
    return {"url": url, "live_session": session}
