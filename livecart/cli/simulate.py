"""`livecart simulate`: a generated live session against a running server, in real time."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from livecart.cli.support import (
    JsonOption,
    console,
    friendly_errors,
    print_json,
    settings,
    stdout_to_stderr,
)


@friendly_errors
def simulate(
    seconds: Annotated[float, typer.Option(help="Stop by itself after this many seconds.")] = 300.0,
    rate: Annotated[
        float, typer.Option(help="Background events a second (replayed rooms).")
    ] = 10.0,
    rooms: Annotated[int, typer.Option(help="Rooms kept live (the world's busiest).")] = 3,
    pitch_every: Annotated[
        float, typer.Option(help="Seconds between the streamer's pitches (rooms in turn).")
    ] = 30.0,
    pitch_minutes: Annotated[float, typer.Option(help="Each pitch's feedback window.")] = 2.0,
    url: Annotated[
        str | None, typer.Option(help="The server (default: serve_host and serve_port).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the session's draws.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Keep a live session running against `livecart serve`: audience, comments, pitches, feeds."""
    from livecart.simulation.realtime import SimulateConfig, run

    current = settings()
    if url is None:  # serving.runner loads Ray Serve (seconds): only to name the default
        from serving.runner import base_url

        url = base_url(current)
    config = SimulateConfig(
        seconds=seconds,
        rate=rate,
        rooms=rooms,
        pitch_every_s=pitch_every,
        pitch_minutes=pitch_minutes,
        seed=seed,
    )

    def progress(note: dict[str, Any]) -> None:
        if "console" in note:
            console.print(f"[bold green]simulating[/] for {seconds:.0f} s; open a room's console:")
            for room, link in note["console"].items():
                console.print(f"  {room}: {link}")
            return
        console.print(
            f"{note['elapsed_s']:>4} s: {note.get('events_accepted', 0)} events accepted, "
            f"{note.get('events_quarantined', 0)} quarantined, "
            f"{note.get('feed_requests', 0)} feed requests"
        )

    with stdout_to_stderr(json_out):
        report = run(current, url.rstrip("/"), config, progress)
    if json_out:
        print_json(report)
        return
    console.print(
        f"done after {report['seconds']} s: {report['events_accepted']} events accepted, "
        f"{report['events_quarantined']} quarantined, {len(report['pitches'])} pitches"
    )
    for p in report["pitches"]:
        expected = p["expected_purchases"]
        console.print(
            f"  {p['room_id']} pitched {p['title']!r} to {p['viewers_present']} viewers: "
            f"{p['purchases']} bought vs {expected if expected is not None else '-'} expected "
            f"({p['verdict']})"
        )
