"""`livecart demo`: the end-to-end job on embedded defaults (DuckDB files, local Ray).

Stages run in order, each timed and shown; a failure names the stage and the fix. Later issues
extend the chain (train, evaluate, serve, replay); every stage that exists today runs here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table as RichTable

from livecart import contract as c
from livecart.errors import LivecartError, StageError
from livecart.io import read_source
from livecart.settings import LivecartSettings
from ray_jobs.world.config import Scale

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
    "evaluate": "run `livecart evaluate --dataset synthetic` to see the error in full",
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
    from livecart.feast_ops import apply, feature_store, historical_features, materialize
    from ray_jobs.comment_signals import run as score_comments
    from ray_jobs.embed import run as embed_texts
    from ray_jobs.evaluation.protocols import ProtocolName
    from ray_jobs.evaluation.runner import EvaluationConfig
    from ray_jobs.evaluation.runner import run as evaluate
    from ray_jobs.features import run as build_features
    from ray_jobs.generate import run as generate
    from ray_jobs.text.comments import run as train_probe
    from ray_jobs.train import TrainConfig
    from ray_jobs.train import run as train
    from ray_jobs.world.config import world_config
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
        console, "train", timings, lambda: train(settings, TrainConfig(epochs=3, num_workers=2))
    )
    evaluation = _stage(
        console,
        "evaluate",
        timings,
        lambda: evaluate(
            EvaluationConfig(settings=settings, dataset="synthetic", protocols=(ProtocolName.FULL,))
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
        },
        "evaluation_report": str(settings.reports_dir / "evaluation" / "report.md"),
        "data_docs": str(quality.data_docs_index) if quality.data_docs_index else None,
    }
    _write_report(settings, report)
    _print_report(console, report)
    return report


def _write_report(settings: LivecartSettings, report: dict[str, Any]) -> None:
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    (settings.reports_dir / "demo_report.json").write_text(
        json.dumps(report, indent=2, default=str)
    )


def _print_report(console: Console, report: dict[str, Any]) -> None:
    table = RichTable(title="livecart demo: closing report")
    table.add_column("what")
    table.add_column("value", overflow="fold")
    table.add_row("wall time", f"{report['wall_seconds']} s")
    for stage, seconds in report["stage_seconds"].items():
        table.add_row(f"  {stage}", f"{seconds} s")
    quarantined = sum(v["quarantined"] for v in report["data_quality"].values())
    table.add_row(
        "rows quarantined", f"{quarantined:,} (injected {report['dirty_rows_injected']:,})"
    )
    table.add_row(
        "feature rows", ", ".join(f"{k}={v:,}" for k, v in report["feature_rows"].items())
    )
    suites = report["feature_suites"]
    table.add_row("feature suites", f"{suites['rules']} rules, {suites['failures']} failed")
    frame = report["training_frame"]
    table.add_row("training frame", f"{frame['rows']:,} x {frame['columns']} ({frame['service']})")
    table.add_row(
        "online read, 100 viewers (p50)", f"{report['online_read_100_viewers_p50_ms']} ms"
    )
    ranker = report["ranker"]
    table.add_row(
        "ranker (validation AUC)",
        f"{ranker['model']}: click {ranker['metrics']['auc_click']:.3f}, purchase "
        f"{ranker['metrics']['auc_purchase']:.3f} (oracle {ranker['oracle_auc_purchase']:.3f})",
    )
    table.add_row("evaluation table", report["evaluation_report"])
    table.add_row("Data Docs", str(report["data_docs"]))
    table.add_row("report", f"{report['home']}/reports/demo_report.json")
    console.print(table)
