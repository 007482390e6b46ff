"""`livecart bench ...`: benchmarks that print JSON, baseline measured in the same run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from livecart.bench.scale import STAGES as SCALE_STAGES
from livecart.cli.choices import ServeLayout, listed
from livecart.cli.support import JsonOption, console, friendly_errors, settings, stdout_to_stderr
from livecart.features.ann_params import HnswParams

bench_app = typer.Typer(
    help="Benchmarks that print JSON (baseline measured in the same run).", no_args_is_help=True
)


@bench_app.command("online-store")
@friendly_errors
def bench_online_store(
    entities: Annotated[int, typer.Option(help="Entities in the feature view.")] = 200_000,
    features: Annotated[int, typer.Option(help="Float features per entity.")] = 20,
    requests: Annotated[int, typer.Option(help="Timed requests per read size.")] = 300,
    pushes: Annotated[
        int,
        typer.Option(
            help="Pushes for the freshness measurement (past the store's compaction limit of 32)."
        ),
    ] = 100,
    redis: Annotated[
        bool | None,
        typer.Option(
            help="Also Feast's Redis store, on a redis-server started for the run (default: when redis-server is installed)."
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """DuckDB online store vs Feast's SQLite (and Redis): materialize, size, reads, push freshness."""
    import tempfile
    from contextlib import nullcontext

    from livecart.bench.online_store import main_json, run
    from livecart.bench.redis_server import local_redis, redis_server_path

    current = settings()
    current.home.mkdir(parents=True, exist_ok=True)
    with_redis = redis_server_path() is not None if redis is None else redis
    with (
        stdout_to_stderr(True),
        tempfile.TemporaryDirectory(dir=current.home, prefix="bench-") as workdir,
        local_redis() if with_redis else nullcontext(None) as address,
    ):
        result = run(current, Path(workdir), entities, features, requests, pushes, address)
    if not json_out:
        console.print(
            "[bold]online store benchmark[/] (ratios = duckdb / sqlite; ratio_vs_redis_* = "
            "duckdb / redis)"
        )
    typer.echo(main_json(result))


@bench_app.command("train")
@friendly_errors
def bench_train(
    workers: Annotated[list[int] | None, typer.Option(help="Worker counts to compare.")] = None,
    epochs: Annotated[int, typer.Option(help="Epochs per run.")] = 3,
    limit: Annotated[int | None, typer.Option(help="Use at most this many impressions.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Ray Train throughput (examples/s) of the ranker per worker count (run after `livecart apply`)."""
    from livecart.bench.train import run

    with stdout_to_stderr(True):
        result = run(settings(), workers or [1, 2], epochs, limit)
    if not json_out:
        console.print("[bold]training benchmark[/] (examples/s per worker count)")
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("evaluate")
@friendly_errors
def bench_evaluate(
    users: Annotated[int, typer.Option(help="Users of the generated log.")] = 31_013,
    items: Annotated[int, typer.Option(help="Items of the generated log.")] = 23_715,
    interactions: Annotated[int, typer.Option(help="Interactions of the generated log.")] = 287_107,
    model: Annotated[
        list[str] | None, typer.Option(help="Models (repeatable); default all but served.")
    ] = None,
    ray: Annotated[
        bool, typer.Option(help="Models at once as Ray tasks (--no-ray: one after another).")
    ] = True,
    json_out: JsonOption = False,
) -> None:
    """Every evaluated model on an e-commerce-sized log: seconds and peak memory vs the budget
    (15 min, 8 GiB). Writes into the livecart home: point LIVECART_HOME at a scratch directory."""
    from livecart.bench.evaluation_scale import run

    with stdout_to_stderr(True):
        result = run(
            settings(), users, items, interactions, tuple(model) if model else None, on_ray=ray
        )
    if not json_out:
        console.print("[bold]evaluation at scale[/] (seconds, peak memory)")
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("scale")
@friendly_errors
def bench_scale(
    scales: Annotated[
        str, typer.Option(help="Comma-separated world sizes: tiny, small, medium, large.")
    ] = "tiny,small,medium,large",
    stage: Annotated[
        list[str] | None,
        typer.Option(help="Stages (repeatable); default all: " + ", ".join(SCALE_STAGES) + "."),
    ] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs at every scale.")] = 1,
    json_out: JsonOption = False,
) -> None:
    """Every pipeline stage at growing world sizes: seconds and peak memory (all processes,
    Ray's workers included) per stage, growth against the events, and a PNG. Each scale gets a
    fresh home under <LIVECART_HOME>/scale/<scale>."""
    from livecart.bench.scale import run

    names = tuple(s.strip() for s in scales.split(",") if s.strip())
    unknown = [s for s in names if s not in ("tiny", "small", "medium", "large")]
    if unknown or not names:
        raise typer.BadParameter(f"unknown scales {unknown}", param_hint="--scales")
    root = settings().home / "scale"
    with stdout_to_stderr(True):
        result = run(
            root, names, tuple(stage) if stage else SCALE_STAGES, epochs, report=console.print
        )
    if not json_out:
        console.print(f"[bold]pipeline by world size[/] (PNG: {result['png']})")
    typer.echo(json.dumps(result, indent=2))


@bench_app.command("pipeline")
@friendly_errors
def bench_pipeline(
    requests: Annotated[int, typer.Option(help="Viewer requests per sweep.")] = 200,
    json_out: JsonOption = False,
) -> None:
    """The viewer pipeline in one process: columnar feature reads vs the frame path, by stage."""
    from livecart.bench.pipeline import run

    with stdout_to_stderr(True):
        result = run(settings(), requests)
    if not json_out:
        console.print("[bold]pipeline benchmark[/] (ratio = columnar / frame path)")
    typer.echo(json.dumps(result, indent=2, sort_keys=True))


@bench_app.command("streamer")
@friendly_errors
def bench_streamer(
    audience: Annotated[
        str, typer.Option(help="Audience sizes, comma separated.")
    ] = "100,1000,10000,100000",
    requests: Annotated[int, typer.Option(help="Timed requests per size.")] = 30,
    json_out: JsonOption = False,
) -> None:
    """The streamer endpoint per audience size: latency, and agreement with exact scoring where
    it is feasible (run after `livecart demo`, or the pipeline commands and `livecart train`)."""
    from livecart.bench.streamer import run

    sizes = [int(size) for size in audience.split(",") if size.strip()]
    with stdout_to_stderr(True):
        result = run(settings(), sizes, requests)
    if not json_out:
        console.print("[bold]streamer benchmark[/] (ms per request, in process)")
    typer.echo(json.dumps(result, indent=2, sort_keys=True))


@bench_app.command("serve")
@friendly_errors
def bench_serve(
    duration: Annotated[float, typer.Option(help="Measured seconds per concurrency level.")] = 10.0,
    levels: Annotated[
        str,
        typer.Option(help="Concurrency levels, comma-separated; 'none': freshness only."),
    ] = "1,4,16,64",
    freshness_samples: Annotated[int, typer.Option(help="Push-to-recommendation probes.")] = 30,
    layouts: Annotated[
        str,
        typer.Option(help=f"Serving layouts to sweep, comma-separated: {listed(ServeLayout)}."),
    ] = ServeLayout.IN_PROCESS.value,
    active_viewers: Annotated[
        bool,
        typer.Option(
            "--active-viewers",
            help="Viewers click 3 live products first (recent history: vector and item-CF "
            "retrieval at work).",
        ),
    ] = False,
    online_store: Annotated[
        str,
        typer.Option(
            help="'livecart': the home's store; 'redis': the home's store, then Feast's Redis "
            "store (a redis-server started for the run), with the ratios between the two.",
        ),
    ] = "livecart",
    json_out: JsonOption = False,
) -> None:
    """livecart over HTTP vs a minimal Serve endpoint: latency, throughput, errors, freshness."""
    try:
        parsed = tuple(int(x) for x in levels.split(",") if x.strip() and levels.strip() != "none")
    except ValueError:
        raise typer.BadParameter(
            f"{levels!r} is not comma-separated integers", param_hint="'--levels'"
        ) from None
    chosen = tuple(x.strip() for x in layouts.split(",") if x.strip())
    unknown = set(chosen) - {layout.value for layout in ServeLayout}
    if unknown:
        raise typer.BadParameter(
            f"unknown layouts {sorted(unknown)}: choose from {listed(ServeLayout)}",
            param_hint="'--layouts'",
        )
    if online_store not in ("livecart", "redis"):
        raise typer.BadParameter(
            f"{online_store!r}: choose 'livecart' or 'redis'", param_hint="'--online-store'"
        )
    from livecart.bench import serve, serve_stores

    # Ray's log monitor prints worker lines to stdout (at shutdown too): the JSON stays alone there.
    with stdout_to_stderr(True):
        if online_store == "redis":
            result = serve_stores.run(
                settings(), parsed, duration, freshness_samples, active_viewers=active_viewers
            )
        else:
            result = serve.run(
                settings(),
                parsed,
                duration,
                freshness_samples=freshness_samples,
                layouts=chosen,
                active_viewers=active_viewers,
            )
    if not json_out:
        console.print(
            "[bold]serving benchmark[/] (ratios = livecart / floor throughput"
            + ("; redis vs livecart's store)" if online_store == "redis" else ")")
        )
    typer.echo(json.dumps(result, indent=2, sort_keys=True))


@bench_app.command("ann")
@friendly_errors
def bench_ann(
    products: Annotated[
        int, typer.Option(min=1, help="Products (vectors) in the index.")
    ] = 100_000,
    queries: Annotated[int, typer.Option(min=1, help="Timed single queries (top 100).")] = 1000,
    m: Annotated[int, typer.Option(min=2, help="HNSW graph degree (M).")] = HnswParams.m,
    ef_construction: Annotated[
        int, typer.Option(min=1, help="HNSW candidate list while building.")
    ] = HnswParams.ef_construction,
    ef_search: Annotated[
        int, typer.Option(min=1, help="HNSW candidate list while searching.")
    ] = HnswParams.ef_search,
    threads: Annotated[
        int, typer.Option(min=1, help="OpenMP threads while building.")
    ] = HnswParams.threads,
    json_out: JsonOption = False,
) -> None:
    """Vector retrieval's ANN index vs exact search on clustered vectors of the encoder's width:
    build time, query p50/p99, recall@100 (no world needed)."""
    from livecart.bench.ann import run

    params = HnswParams(m=m, ef_construction=ef_construction, ef_search=ef_search, threads=threads)
    with stdout_to_stderr(True):
        result = run(settings(), products, queries, params)
    if not json_out:
        console.print("[bold]ANN benchmark[/] (ratios = ANN / exact)")
    typer.echo(json.dumps(result, indent=2, sort_keys=True))
